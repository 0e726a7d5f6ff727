#ifndef CTESTSUPPORT_H
#define CTESTSUPPORT_H

#include <spawn.h>

/// Adds a spawn action that closes every descriptor from `from` up in the child (glibc's
/// posix_spawn_file_actions_addclosefrom_np, a GNU extension the Glibc module does not
/// export to Swift). Returns 0 or an errno value.
int cts_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

#endif
