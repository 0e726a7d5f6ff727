#define _GNU_SOURCE
#include "ctestsupport.h"

#include <errno.h>
#include <sys/resource.h>

int cts_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
#else
    (void)actions;
    (void)from;
    return 0;
#endif
}

int cts_set_file_size_limit(pid_t pid, unsigned long long limit) {
#if defined(__linux__)
    struct rlimit current;
    if (prlimit(pid, RLIMIT_FSIZE, NULL, &current) != 0) return errno;
    current.rlim_cur = limit == 0 ? current.rlim_max : (rlim_t)limit;
    return prlimit(pid, RLIMIT_FSIZE, &current, NULL) == 0 ? 0 : errno;
#else
    (void)pid;
    (void)limit;
    return ENOSYS;
#endif
}
