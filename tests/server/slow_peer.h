/*
 * slow_peer.h - a slow-client attack on opentsed for the hostile test and
 * the benchmark: a thread keeping many connections open from other loopback
 * addresses (127.0.0.2 and up) that send their request one byte a tick,
 * half of them in the head, half in the body, and reopening each one the
 * server closes.
 */
#ifndef OPENTSE_TEST_SLOW_PEER_H
#define OPENTSE_TEST_SLOW_PEER_H

typedef struct slow_attack slow_attack;

typedef struct slow_stats {
    long opened;           /* connections made (the handshake done) */
    long closed;           /* of those, closed by the server */
    long answered;         /* closed after the server sent bytes (should be 0) */
    long open;             /* still open at the end */
    long max_open_ms;      /* longest life of a connection the server closed */
} slow_stats;

/* Starts `n` slow connections to 127.0.0.1:port, spread over `n_addr`
 * source addresses from 127.0.0.2, one byte per connection every tick_ms.
 * The slow bodies go to `body_path` with header lines `body_headers`
 * ("Name: value\r\n"..., may be "") and announce `body_len` bytes. */
slow_attack *slow_start(int port, int n, int n_addr, int tick_ms, const char *body_path, const char *body_headers,
                        int body_len);
/* Stops reopening; keeps trickling into the open connections until the
 * server has closed each, at most wait_s seconds; fills `st` and frees. */
void slow_stop(slow_attack *a, double wait_s, slow_stats *st);

#endif
