/*
 * request-floor: the least a TCPStore server can do for the requests of `bench load` (VALIDATE, SET,
 * GET, ADD, CHECK and PING in the 2.2+ wire format), as a yardstick for what this machine allows.
 * One epoll thread, level-triggered; per ready socket one recv, every whole request in it answered,
 * and one send of all the replies. An open-addressing hash map of byte-string keys, values kept in
 * place when the new one fits. No limits, no waits, no fairness budget, no logging, no locks.
 * A partial request stays in the connection's buffer until the rest arrives; a send the kernel only
 * partly takes keeps the rest and waits for EPOLLOUT (never seen at the bench's request sizes).
 * Build: cc -O2 -o request-floor request-floor.c
 * Run:   ./request-floor [PORT]   (0 = ephemeral; prints "listening on 127.0.0.1:PORT"; exits on stdin EOF)
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

enum { VALIDATE = 0, SET = 1, GET = 3, ADD = 4, CHECK = 5, PING = 13 }; /* query type bytes */

struct buf { unsigned char *p; size_t len, cap; };

struct conn { int fd; int watching_out; size_t sent; struct buf in, out; };

/* ---- the map: open addressing, linear probing, power-of-two capacity, at most half full ---- */

struct slot { uint64_t hash; unsigned char *key; size_t klen; unsigned char *val; size_t vlen, vcap; };

static struct slot *slots;
static size_t capacity = 1 << 16, used;

static uint64_t hash_of(const unsigned char *k, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++) { h ^= k[i]; h *= 1099511628211ull; }
    h ^= h >> 29; h *= 0xbf58476d1ce4e5b9ull; h ^= h >> 32;
    return h | 1; /* 0 marks an empty slot */
}

static struct slot *find(const unsigned char *k, size_t n, uint64_t h)
{
    for (size_t i = h & (capacity - 1);; i = (i + 1) & (capacity - 1)) {
        struct slot *s = &slots[i];
        if (s->hash == 0 || (s->hash == h && s->klen == n && memcmp(s->key, k, n) == 0)) return s;
    }
}

static void grow(void)
{
    struct slot *old = slots; size_t oldcap = capacity;
    capacity *= 2; slots = calloc(capacity, sizeof *slots);
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].hash) *find(old[i].key, old[i].klen, old[i].hash) = old[i];
    free(old);
}

/* The slot of key k, created (with an empty value) when missing. */
static struct slot *upsert(const unsigned char *k, size_t n)
{
    uint64_t h = hash_of(k, n);
    struct slot *s = find(k, n, h);
    if (s->hash) return s;
    if (2 * (used + 1) > capacity) { grow(); s = find(k, n, h); }
    s->hash = h; s->key = malloc(n ? n : 1); memcpy(s->key, k, n); s->klen = n;
    s->val = NULL; s->vlen = s->vcap = 0; used++;
    return s;
}

static struct slot *lookup(const unsigned char *k, size_t n)
{
    struct slot *s = find(k, n, hash_of(k, n));
    return s->hash ? s : NULL;
}

static void assign(struct slot *s, const unsigned char *v, size_t n)
{
    if (n > s->vcap) { free(s->val); s->vcap = n < 16 ? 16 : n; s->val = malloc(s->vcap); }
    memcpy(s->val, v, n); s->vlen = n;
}

/* ---- buffers ---- */

static unsigned char *reserve(struct buf *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        b->p = realloc(b->p, cap); b->cap = cap;
    }
    return b->p + b->len;
}

static void put(struct buf *b, const void *p, size_t n) { memcpy(reserve(b, n), p, n); b->len += n; }

static uint64_t le64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* ---- requests ---- */

/* Performs the whole request at p (n bytes available) and returns its size, 0 if incomplete, -1 if bad. */
static long one(struct conn *c, const unsigned char *p, size_t n)
{
    if (n < 1) return 0;
    switch (p[0]) {
    case VALIDATE: /* u32 magic, no reply */
        return n < 5 ? 0 : 5;
    case PING: /* u32 nonce, echoed */
        if (n < 5) return 0;
        put(&c->out, p + 1, 4);
        return 5;
    case SET: { /* str key, bytes value; no reply */
        if (n < 9) return 0;
        uint64_t k = le64(p + 1); if (n < 17 + k) return 0;
        uint64_t v = le64(p + 9 + k); if (n < 17 + k + v) return 0;
        assign(upsert(p + 9, k), p + 17 + k, v);
        return (long)(17 + k + v);
    }
    case GET: { /* str key -> bytes value (empty if missing) */
        if (n < 9) return 0;
        uint64_t k = le64(p + 1); if (n < 9 + k) return 0;
        struct slot *s = lookup(p + 9, k);
        uint64_t len = s ? s->vlen : 0;
        unsigned char *o = reserve(&c->out, 8 + len);
        memcpy(o, &len, 8); if (len) memcpy(o + 8, s->val, len);
        c->out.len += 8 + len;
        return (long)(9 + k);
    }
    case ADD: { /* str key, i64 delta -> i64; the value is ASCII decimal */
        if (n < 9) return 0;
        uint64_t k = le64(p + 1); if (n < 17 + k) return 0;
        int64_t delta; memcpy(&delta, p + 9 + k, 8);
        struct slot *s = upsert(p + 9, k);
        int64_t cur = 0; size_t i = 0; int neg = 0;
        if (i < s->vlen && (s->val[i] == '-' || s->val[i] == '+')) neg = s->val[i++] == '-';
        for (; i < s->vlen && s->val[i] >= '0' && s->val[i] <= '9'; i++) cur = cur * 10 + (s->val[i] - '0');
        cur = (neg ? -cur : cur) + delta;
        char text[24]; int len = snprintf(text, sizeof text, "%lld", (long long)cur);
        assign(s, (unsigned char *)text, (size_t)len);
        put(&c->out, &cur, 8);
        return (long)(17 + k);
    }
    case CHECK: { /* count, keys -> u8 0 ready / 1 not ready */
        if (n < 9) return 0;
        uint64_t count = le64(p + 1), off = 9;
        int ready = 1;
        for (uint64_t i = 0; i < count; i++) {
            if (n < off + 8) return 0;
            uint64_t k = le64(p + off); if (n < off + 8 + k) return 0;
            if (ready && !lookup(p + off + 8, k)) ready = 0;
            off += 8 + k;
        }
        unsigned char r = ready ? 0 : 1;
        put(&c->out, &r, 1);
        return (long)off;
    }
    default:
        return -1;
    }
}

static void drop(struct conn *c) { close(c->fd); free(c->in.p); free(c->out.p); free(c); }

/* Sends what is unsent; 0 on success (possibly partial, then watching EPOLLOUT), -1 on error. */
static int flush(int ep, struct conn *c)
{
    if (c->out.len > c->sent) {
        ssize_t w = send(c->fd, c->out.p + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN) return -1;
        if (w > 0) c->sent += (size_t)w;
    }
    int pending = c->out.len > c->sent;
    if (!pending) c->out.len = c->sent = 0;
    if (pending != c->watching_out) {
        c->watching_out = pending;
        struct epoll_event e = { .events = EPOLLIN | (pending ? EPOLLOUT : 0), .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
    }
    return 0;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0, on = 1;
    slots = calloc(capacity, sizeof *slots);
    static struct conn stdin_mark;
    int l, ep = floor_listen(port, &stdin_mark, &l);
    if (ep < 0) return 1;
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
                    /* Set per connection rather than trusting inheritance from the listener: with Nagle
                     * on, a pipelined reply waits for the peer's delayed ACK. */
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
                    c = calloc(1, sizeof *c); c->fd = fd;
                    struct epoll_event e = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                if (flush(ep, c) < 0) { drop(c); continue; }
                if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
            }
            /* One recv into the free tail of the connection's buffer (at least 16 KiB of room). */
            reserve(&c->in, 16384);
            ssize_t r = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                drop(c); continue;
            }
            c->in.len += (size_t)r;
            size_t off = 0; long m;
            while ((m = one(c, c->in.p + off, c->in.len - off)) > 0) off += (size_t)m;
            if (m < 0 || flush(ep, c) < 0) { drop(c); continue; }
            memmove(c->in.p, c->in.p + off, c->in.len - off); c->in.len -= off;
        }
    }
}
