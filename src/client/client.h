/*
 * client.h - what a libopentse handle is: the transport it was opened with
 * (the engine in-process, or opentsed over HTTP), its outage journal and its
 * keep-alive thread.
 */
#ifndef OPENTSE_CLIENT_H
#define OPENTSE_CLIENT_H

#include "client/journal.h"
#include "client/keepalive.h"
#include "client/transport.h"
#include "opentse/opentse.h"

struct tse {
    const tse_ops *ops; /* the transport: transport_file or transport_remote */
    void *backend;    /* its handle: the engine in-process, or a remote */
    journal *jr;      /* outage journal, or NULL */
    keepalive *ka;    /* keep-alive thread, or NULL */
};

#endif /* OPENTSE_CLIENT_H */
