/*
 * What every floor server of bench/floor shares: a non-blocking listener on 127.0.0.1, an epoll set
 * that reports it (with a NULL tag) and the harness's stdin (with the caller's tag), the
 * "listening on" line the bench waits for, and the end of the run when stdin closes. Each floor
 * keeps its own connection handling: that is what it measures.
 */
#pragma once
#include <netinet/in.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

/* Listens on PORT (0 = ephemeral) and returns the epoll descriptor, or -1; *listener gets the socket. */
static int floor_listen(int port, void *stdin_tag, int *listener)
{
    int on = 1;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(0x7f000001) };
    if (bind(l, (void *)&a, sizeof a) || listen(l, 4096)) { perror("listen"); return -1; }
    socklen_t alen = sizeof a;
    getsockname(l, (void *)&a, &alen);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    ev.data.ptr = stdin_tag;
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
    printf("listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    *listener = l;
    return ep;
}

/* Whether the harness closed stdin (the run is over); drains what it wrote otherwise. */
static int floor_stdin_closed(void)
{
    char b[64];
    return read(0, b, sizeof b) <= 0;
}
