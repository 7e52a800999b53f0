/*
 * proxy.h - a tiny TCP proxy for tests: relays 127.0.0.1:port to a target
 * port and, when armed, forwards the next request that contains a marker,
 * waits for the server's answer and then drops both connections without
 * passing the answer on (a response lost on the way back).
 */
#ifndef OPENTSE_TEST_CLIENT_PROXY_H
#define OPENTSE_TEST_CLIENT_PROXY_H

#include <stdatomic.h>

typedef struct tproxy tproxy;

/* Starts relaying a free port to 127.0.0.1:target; its port to *port. */
tproxy *tproxy_start(int target, int *port);
/* The next `count` requests containing `marker` lose their answers. */
void tproxy_drop_next(tproxy *p, const char *marker, int count);
/* How many answers were dropped so far. */
int tproxy_dropped(tproxy *p);
void tproxy_stop(tproxy *p);

#endif
