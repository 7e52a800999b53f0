/*
 * slow_peer.c - the slow-client attack of slow_peer.h: non-blocking sockets
 * driven by one thread with poll().
 */
#include "slow_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct peer {
    int fd;
    int connected, got_bytes;
    size_t sent;
    double opened;
} peer;

struct slow_attack {
    int port, n, n_addr, tick_ms;
    char head_req[256];       /* a request head that never ends */
    char body_req[2048];      /* a complete head, then body bytes */
    peer *p;
    atomic_int stop;
    double wait_s;
    slow_stats st;
    pthread_t t;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void peer_open(slow_attack *a, int i)
{
    peer *p = &a->p[i];
    memset(p, 0, sizeof *p);
    p->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (p->fd < 0)
        return;
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(i % a->n_addr));
    dst.sin_addr.s_addr = htonl(0x7f000001u);
    if (bind(p->fd, (struct sockaddr *)&src, sizeof src) != 0 ||
        (connect(p->fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS)) {
        close(p->fd);
        p->fd = -1;
        return;
    }
    p->opened = now_s();
}

/* The handshake is done: the connection counts as made, whether or not the
 * server keeps it (one over its limits it closes at once). */
static void peer_connected(slow_attack *a, peer *p)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
        close(p->fd);
        p->fd = -1;
        return;
    }
    p->connected = 1;
    a->st.opened++;
}

static void peer_closed(slow_attack *a, peer *p)
{
    if (p->connected) {
        a->st.closed++;
        if (p->got_bytes)
            a->st.answered++;
        long ms = (long)((now_s() - p->opened) * 1000);
        if (ms > a->st.max_open_ms)
            a->st.max_open_ms = ms;
    }
    close(p->fd);
    p->fd = -1;
}

/* One byte more of this connection's request (never all of it). */
static void peer_send(slow_attack *a, int i)
{
    peer *p = &a->p[i];
    const char *req = i % 2 ? a->body_req : a->head_req;
    size_t len = strlen(req);
    char c = p->sent < len ? req[p->sent] : (i % 2 ? ' ' : 'a');
    if (p->connected && send(p->fd, &c, 1, MSG_NOSIGNAL) == 1)
        p->sent++;
}

static void *attack(void *arg)
{
    slow_attack *a = arg;
    struct pollfd *pf = calloc((size_t)a->n, sizeof *pf);
    double end = 0, next = now_s();
    char buf[512];
    for (;;) {
        int stopping = atomic_load(&a->stop), open = 0;
        if (stopping && end == 0)
            end = now_s() + a->wait_s;
        int tick = now_s() >= next;
        for (int i = 0; i < a->n; i++) {
            if (a->p[i].fd < 0 && !stopping && tick) /* reopened at the next tick */
                peer_open(a, i);
            pf[i] = (struct pollfd){.fd = a->p[i].fd, .events = a->p[i].connected ? POLLIN : POLLOUT};
            open += a->p[i].fd >= 0;
        }
        if (stopping && (open == 0 || now_s() >= end))
            break;
        int wait_ms = (int)((next - now_s()) * 1000);
        if (poll(pf, (nfds_t)a->n, wait_ms > 0 ? wait_ms : 0) > 0)
            for (int i = 0; i < a->n; i++) {
                if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR)))
                    continue;
                if (!a->p[i].connected) {
                    peer_connected(a, &a->p[i]);
                    continue;
                }
                ssize_t r = recv(pf[i].fd, buf, sizeof buf, 0);
                if (r > 0) {
                    a->p[i].got_bytes = 1;
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    peer_closed(a, &a->p[i]);
                }
            }
        if (tick) {
            for (int i = 0; i < a->n; i++)
                if (a->p[i].fd >= 0)
                    peer_send(a, i);
            next = now_s() + a->tick_ms / 1000.0;
        }
    }
    for (int i = 0; i < a->n; i++)
        if (a->p[i].fd >= 0) {
            a->st.open += a->p[i].connected; /* a handshake never done is no connection */
            close(a->p[i].fd);
        }
    free(pf);
    return NULL;
}

slow_attack *slow_start(int port, int n, int n_addr, int tick_ms, const char *body_path, const char *body_headers,
                        int body_len)
{
    slow_attack *a = calloc(1, sizeof *a);
    if (!a || !(a->p = calloc((size_t)n, sizeof *a->p))) {
        free(a);
        return NULL;
    }
    a->port = port;
    a->n = n;
    a->n_addr = n_addr > 0 ? n_addr : 1;
    a->tick_ms = tick_ms;
    snprintf(a->head_req, sizeof a->head_req, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    snprintf(a->body_req, sizeof a->body_req,
             "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n{",
             body_path, body_headers, body_len);
    for (int i = 0; i < n; i++)
        a->p[i].fd = -1;
    if (pthread_create(&a->t, NULL, attack, a) != 0) {
        free(a->p);
        free(a);
        return NULL;
    }
    return a;
}

void slow_stop(slow_attack *a, double wait_s, slow_stats *st)
{
    a->wait_s = wait_s;
    atomic_store(&a->stop, 1);
    pthread_join(a->t, NULL);
    *st = a->st;
    free(a->p);
    free(a);
}
