#define _GNU_SOURCE
#include "cjournal.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int cj_allocate(int fd, off_t offset, off_t length) {
#if defined(__linux__)
    for (;;) {
        if (fallocate(fd, 0, offset, length) == 0) return 0;
        if (errno == EINTR) continue;
        // File systems without fallocate (some network and FUSE mounts) fall back to the
        // portable call, which writes zeros where it must.
        if (errno == EOPNOTSUPP) return posix_fallocate(fd, offset, length);
        return errno;
    }
#else
    // Darwin has no posix_fallocate; F_PREALLOCATE then ftruncate is the equivalent.
    fstore_t store = {F_ALLOCATEALL, F_PEOFPOSMODE, 0, length, 0};
    (void)fcntl(fd, F_PREALLOCATE, &store);
    if (ftruncate(fd, offset + length) != 0) return errno;
    return 0;
#endif
}

int cj_zero_range(int fd, off_t offset, off_t length) {
#if defined(__linux__)
    if (fallocate(fd, FALLOC_FL_ZERO_RANGE, offset, length) == 0) return 0;
    if (errno != EOPNOTSUPP && errno != EINVAL) return errno;
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) == 0)
        return cj_allocate(fd, offset, length);
    if (errno != EOPNOTSUPP && errno != EINVAL) return errno;
#endif
    static const char zeros[65536];
    while (length > 0) {
        size_t n = length > (off_t)sizeof zeros ? sizeof zeros : (size_t)length;
        ssize_t w = pwrite(fd, zeros, n, offset);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        offset += w;
        length -= w;
    }
    return 0;
}

int cj_datasync(int fd) {
#if defined(__APPLE__)
    return fcntl(fd, F_FULLFSYNC);
#else
    return fdatasync(fd);
#endif
}

int cj_open(const char *path, int flags, mode_t mode) { return open(path, flags, mode); }

int cj_errno(void) { return errno; }

#include <sys/mman.h>
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int cj_populate_write(void *address, size_t length) {
#if defined(__linux__)
    if (madvise(address, length, MADV_POPULATE_WRITE) == 0) return 0;
    return errno;
#else
    (void)address;
    (void)length;
    return EINVAL;
#endif
}
