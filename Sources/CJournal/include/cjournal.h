#ifndef CJOURNAL_H
#define CJOURNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of `length` bytes, continuing from
/// `crc` (pass 0 to start). Uses the SSE4.2 instruction when the CPU has it, else a table.
uint32_t cj_crc32c(uint32_t crc, const void *data, size_t length);

/// The portable table version, exposed so tests can check both paths agree.
uint32_t cj_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// 1 when the hardware path is in use.
int cj_crc32c_hardware(void);

/// fallocate(2) mode 0 on Linux (allocates blocks and extends the size); posix_fallocate
/// elsewhere. Returns 0 or an errno value (never -1).
int cj_allocate(int fd, off_t offset, off_t length);

/// Makes [offset, offset+length) read as zeros without changing the file size, keeping
/// blocks allocated where the file system can (FALLOC_FL_ZERO_RANGE, else punch a hole and
/// allocate again, else write zeros). Returns 0 or an errno value.
int cj_zero_range(int fd, off_t offset, off_t length);

/// fdatasync(2) on Linux; fcntl(F_FULLFSYNC) on Darwin. Returns 0 or -1 with errno set.
int cj_datasync(int fd);

/// madvise(MADV_POPULATE_WRITE): faults in `length` bytes of a shared writable mapping ahead
/// of the writer. Returns 0 or errno (EINVAL on kernels before 5.14 and on Darwin, where it
/// is a no-op the caller ignores).
int cj_populate_write(void *address, size_t length);

/// open(2) without the variadic mode argument, which Swift cannot call directly.
int cj_open(const char *path, int flags, mode_t mode);

/// The calling thread's errno.
int cj_errno(void);

#endif
