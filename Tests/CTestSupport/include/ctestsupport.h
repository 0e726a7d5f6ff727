#ifndef CTESTSUPPORT_H
#define CTESTSUPPORT_H

#include <spawn.h>
#include <sys/types.h>

/// Adds a spawn action that closes every descriptor from `from` up in the child (glibc's
/// posix_spawn_file_actions_addclosefrom_np, a GNU extension the Glibc module does not
/// export to Swift). Returns 0 or an errno value.
int cts_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

/// Sets the file-size limit (RLIMIT_FSIZE, soft) of process `pid` to `limit` bytes, or to its
/// hard limit when `limit` is 0, through prlimit(2) (a GNU extension the Glibc module does
/// not export). Returns 0 or an errno value.
int cts_set_file_size_limit(pid_t pid, unsigned long long limit);

#endif
