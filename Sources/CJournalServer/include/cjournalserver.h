#ifndef CJOURNALSERVER_H
#define CJOURNALSERVER_H

// The Linux calls journal-server needs that Swift's Glibc module does not export: epoll,
// eventfd, accept4 and signalfd. Each wrapper returns what the system call returns (-1 with
// errno set on failure); `cjs_errno` reads errno, which Swift cannot reach portably. Policy
// (retrying EINTR, typed errors) lives in Swift's IO layer, not here.

#include <stdint.h>

/// One readiness report: the epoll_event fields without the packed layout, which Swift
/// cannot import faithfully on x86_64.
typedef struct {
    uint32_t events;
    uint64_t data;
} cjs_event;

/// Readiness bits (values of EPOLLIN, EPOLLOUT, ... from <sys/epoll.h>).
extern const uint32_t CJS_EPOLLIN;
extern const uint32_t CJS_EPOLLOUT;
extern const uint32_t CJS_EPOLLERR;
extern const uint32_t CJS_EPOLLHUP;
extern const uint32_t CJS_EPOLLRDHUP;
extern const uint32_t CJS_EPOLLET;

/// epoll_create1(EPOLL_CLOEXEC).
int cjs_epoll_create(void);
/// epoll_ctl with EPOLL_CTL_ADD.
int cjs_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
/// epoll_ctl with EPOLL_CTL_MOD.
int cjs_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data);
/// epoll_ctl with EPOLL_CTL_DEL.
int cjs_epoll_remove(int epfd, int fd);
/// epoll_wait into `events` (at most `capacity`, at most 4096), converted to cjs_event.
int cjs_epoll_wait(int epfd, cjs_event *events, int capacity, int timeout_ms);

/// eventfd(initial, EFD_NONBLOCK | EFD_CLOEXEC).
int cjs_eventfd(unsigned int initial);

/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC).
int cjs_accept(int fd);

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (threads created afterwards
/// inherit the mask, so the signals are only ever seen through the descriptor), ignores
/// SIGPIPE and SIGXFSZ, and returns signalfd(-1, {SIGINT, SIGTERM, SIGHUP}, SFD_NONBLOCK | SFD_CLOEXEC).
int cjs_signalfd_for_shutdown(void);
/// Reads one signalfd_siginfo; returns its signal number, or -1 with errno set.
int cjs_signalfd_read(int fd);

/// The calling thread's errno.
int cjs_errno(void);

#endif
