/*
 * barrier-floor: the least a TCPStore server can do for the elastic barrier (VALIDATE, ADD, SET,
 * WAIT), as a yardstick for `bench barrier` and `stload --mode barrier`. One epoll thread,
 * level-triggered, one read and one write per request, one counter and one awaited key, no
 * general store, no limits, no logging. It shows how much of a barrier's time is the sandbox's TCP
 * handshakes and syscalls, which every server pays, rather than the server's own work.
 * It also answers PING, so `bench barrier` can measure its idle memory like the other servers.
 * Build: cc -O2 -o barrier-floor barrier-floor.c
 * Run:   ./barrier-floor [PORT]   (0 = ephemeral; prints "listening on 127.0.0.1:PORT"; exits on stdin EOF)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "floor-listen.h"

enum { VALIDATE = 0, SET = 1, ADD = 4, WAIT = 6, PING = 13 }; /* query type bytes */

struct conn { int fd; int len; unsigned char buf[256]; };

static int64_t counter;
static int done;
static int *waiters, nwaiters, capwaiters;

static int64_t le64(const unsigned char *p) { int64_t v; memcpy(&v, p, 8); return v; }

/* Returns bytes of one whole request at p (0 if incomplete), performing it. */
static int one(struct conn *c, const unsigned char *p, int n)
{
    if (n < 1) return 0;
    switch (p[0]) {
    case VALIDATE: /* VALIDATE: u32 magic (the first request on a connection) */
        if (n < 5) return 0;
        return 5;
    case SET: { /* SET: key, value */
        if (n < 9) return 0;
        int64_t k = le64(p + 1); if (n < 9 + k + 8) return 0;
        int64_t v = le64(p + 9 + k); if (n < 17 + k + v) return 0;
        done = 1;
        unsigned char z = 0;
        for (int i = 0; i < nwaiters; i++) (void)!write(waiters[i], &z, 1);
        nwaiters = 0;
        return (int)(17 + k + v);
    }
    case ADD: { /* ADD: key, i64 delta -> i64 */
        if (n < 9) return 0;
        int64_t k = le64(p + 1); if (n < 17 + k) return 0;
        counter += le64(p + 9 + k);
        (void)!write(c->fd, &counter, 8);
        return (int)(17 + k);
    }
    case WAIT: { /* WAIT: count, keys (one here) */
        if (n < 17) return 0;
        int64_t k = le64(p + 9); if (n < 17 + k) return 0;
        if (done) { unsigned char z = 0; (void)!write(c->fd, &z, 1); }
        else {
            if (nwaiters == capwaiters) { capwaiters = capwaiters ? capwaiters * 2 : 1024; waiters = realloc(waiters, capwaiters * sizeof *waiters); }
            waiters[nwaiters++] = c->fd;
        }
        return (int)(17 + k);
    }
    case PING: /* u32 nonce, echoed */
        if (n < 5) return 0;
        (void)!write(c->fd, p + 1, 4);
        return 5;
    default:
        return -1;
    }
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0, one_ = 1;
    static struct conn stdin_mark;
    int l, ep = floor_listen(port, &stdin_mark, &l);
    if (ep < 0) return 1;
    setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof one_);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == &stdin_mark) {
                if (floor_stdin_closed()) return 0;
                continue;
            }
            if (!c) {
                for (int fd; (fd = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0;) {
                    c = calloc(1, sizeof *c); c->fd = fd;
                    struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            int r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                /* a closed waiter stays in the list; the barrier's ranks never close early */
                close(c->fd); free(c); continue;
            }
            c->len += r;
            int off = 0, m;
            while ((m = one(c, c->buf + off, c->len - off)) > 0) off += m;
            if (m < 0) { close(c->fd); free(c); continue; }
            memmove(c->buf, c->buf + off, c->len - off); c->len -= off;
        }
    }
}
