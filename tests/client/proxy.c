/* proxy.c - the dropping TCP proxy of the client tests (see proxy.h). */
#include "proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct tproxy {
    int listen_fd, target;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;
    char marker[128];
    int armed;          /* requests still to lose */
    atomic_int dropped;
};

typedef struct conn {
    tproxy *p;
    int c, s;
} conn;

static bool take_drop(tproxy *p, const char *data, size_t n)
{
    pthread_mutex_lock(&p->mu);
    bool hit = p->armed > 0 && memmem(data, n, p->marker, strlen(p->marker)) != NULL;
    if (hit)
        p->armed--;
    pthread_mutex_unlock(&p->mu);
    return hit;
}

static void *relay(void *arg)
{
    conn *k = arg;
    char buf[65536];
    bool dropping = false;
    while (!atomic_load(&k->p->stop)) {
        struct pollfd f[2] = {{k->c, POLLIN, 0}, {k->s, POLLIN, 0}};
        if (poll(f, 2, 200) < 0)
            break;
        if (f[0].revents) {
            ssize_t n = read(k->c, buf, sizeof buf);
            if (n <= 0)
                break;
            if (take_drop(k->p, buf, (size_t)n))
                dropping = true;
            if (write(k->s, buf, (size_t)n) != n)
                break;
        }
        if (f[1].revents) {
            ssize_t n = read(k->s, buf, sizeof buf);
            if (n <= 0)
                break;
            if (dropping) {   /* the server answered: lose the answer */
                atomic_fetch_add(&k->p->dropped, 1);
                break;
            }
            if (write(k->c, buf, (size_t)n) != n)
                break;
        }
    }
    close(k->c);
    close(k->s);
    free(k);
    return NULL;
}

static void *accept_loop(void *arg)
{
    tproxy *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd f = {p->listen_fd, POLLIN, 0};
        if (poll(&f, 1, 200) <= 0)
            continue;
        int c = accept(p->listen_fd, NULL, NULL);
        if (c < 0)
            continue;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p->target),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        conn *k = malloc(sizeof *k);
        pthread_t t;
        if (s < 0 || !k || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
            close(c);
            if (s >= 0)
                close(s);
            free(k);
            continue;
        }
        *k = (conn){p, c, s};
        if (pthread_create(&t, NULL, relay, k) == 0)
            pthread_detach(t);
    }
    return NULL;
}

tproxy *tproxy_start(int target, int *port)
{
    tproxy *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->target = target;
    pthread_mutex_init(&p->mu, NULL);
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(p->listen_fd, 16) != 0 || getsockname(p->listen_fd, (struct sockaddr *)&a, &len) != 0 ||
        pthread_create(&p->thread, NULL, accept_loop, p) != 0) {
        if (p->listen_fd >= 0)
            close(p->listen_fd);
        free(p);
        return NULL;
    }
    *port = ntohs(a.sin_port);
    return p;
}

void tproxy_drop_next(tproxy *p, const char *marker, int count)
{
    pthread_mutex_lock(&p->mu);
    strncpy(p->marker, marker, sizeof p->marker - 1);
    p->armed = count;
    pthread_mutex_unlock(&p->mu);
}

int tproxy_dropped(tproxy *p)
{
    return atomic_load(&p->dropped);
}

void tproxy_stop(tproxy *p)
{
    atomic_store(&p->stop, true);
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
    usleep(300000);   /* relays notice stop within one poll period */
    pthread_mutex_destroy(&p->mu);
    free(p);
}
