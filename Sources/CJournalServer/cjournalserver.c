#define _GNU_SOURCE
#include "cjournalserver.h"

#include <errno.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

const uint32_t CJS_EPOLLIN = EPOLLIN;
const uint32_t CJS_EPOLLOUT = EPOLLOUT;
const uint32_t CJS_EPOLLERR = EPOLLERR;
const uint32_t CJS_EPOLLHUP = EPOLLHUP;
const uint32_t CJS_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t CJS_EPOLLET = EPOLLET;

int cjs_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

static int control(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event event = {.events = events, .data.u64 = data};
    return epoll_ctl(epfd, op, fd, &event);
}

int cjs_epoll_add(int epfd, int fd, uint32_t events, uint64_t data) {
    return control(epfd, EPOLL_CTL_ADD, fd, events, data);
}

int cjs_epoll_modify(int epfd, int fd, uint32_t events, uint64_t data) {
    return control(epfd, EPOLL_CTL_MOD, fd, events, data);
}

int cjs_epoll_remove(int epfd, int fd) { return epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL); }

int cjs_epoll_wait(int epfd, cjs_event *events, int capacity, int timeout_ms) {
    struct epoll_event raw[4096];
    if (capacity > 4096) capacity = 4096;
    int count = epoll_wait(epfd, raw, capacity, timeout_ms);
    for (int i = 0; i < count; i++) {
        events[i].events = raw[i].events;
        events[i].data = raw[i].data.u64;
    }
    return count;
}

int cjs_eventfd(unsigned int initial) { return eventfd(initial, EFD_NONBLOCK | EFD_CLOEXEC); }

int cjs_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); }

int cjs_signalfd_for_shutdown(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    signal(SIGPIPE, SIG_IGN);
    // Past a file-size limit (RLIMIT_FSIZE, systemd's LimitFSIZE) the kernel sends SIGXFSZ,
    // whose default action kills the process with a core dump; ignored, the growth fails
    // with EFBIG, which the journal reports and the server answers with 507.
    signal(SIGXFSZ, SIG_IGN);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int cjs_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n = read(fd, &info, sizeof info);
    if (n != (ssize_t)sizeof info) return -1;
    return (int)info.ssi_signo;
}

int cjs_errno(void) { return errno; }
