/*
 * progress.c - a progress line for long work (`opentse export`): done/total
 * with a bar when the total is known, the rate and the time left, redrawn at
 * most ten times a second on stderr, and only when stderr is a terminal and
 * the output is not --json.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cli_meter_start(cli_meter *m, const cli_ctx *ctx, const char *unit, uint64_t total)
{
    *m = (cli_meter){.unit = unit, .total = total, .on = !ctx->json && isatty(STDERR_FILENO), .t0 = mono()};
}

static void draw(cli_meter *m, uint64_t done, uint64_t bytes, double now)
{
    double secs = now - m->t0, rate = secs > 0 ? (double)done / secs : 0;
    char tail[96];
    snprintf(tail, sizeof tail, "  %.0f %s/s  %.1f MiB", rate, m->unit, (double)bytes / (1024.0 * 1024.0));
    if (m->total) {
        uint64_t total = done > m->total ? done : m->total;
        int width = 30, fill = (int)(done * (uint64_t)width / total);
        long left = rate > 0 ? (long)((double)(total - done) / rate + 0.5) : 0;
        fprintf(stderr, "\r[%-*.*s] %llu/%llu %s%s  ETA %ld:%02ld ", width, fill, "##############################",
                (unsigned long long)done, (unsigned long long)total, m->unit, tail, left / 60, left % 60);
    } else {
        fprintf(stderr, "\r%llu %s%s ", (unsigned long long)done, m->unit, tail);
    }
    fflush(stderr);
}

void cli_meter_update(cli_meter *m, uint64_t done, uint64_t bytes)
{
    if (!m->on)
        return;
    double now = mono();
    if (now - m->last < 0.1)
        return;
    m->last = now;
    m->drawn = true;
    draw(m, done, bytes, now);
}

void cli_meter_end(cli_meter *m, uint64_t done, uint64_t bytes)
{
    if (!m->on)
        return;
    m->total = done; /* the real total: the bar ends full */
    draw(m, done, bytes, mono());
    fputc('\n', stderr);
}
