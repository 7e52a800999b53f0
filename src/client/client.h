/*
 * client.h - what a libopentse handle is: the transport it was opened with
 * (the engine in-process, or opentsed over HTTP), its outage journal and its
 * keep-alive thread.
 */
#ifndef OPENTSE_CLIENT_H
#define OPENTSE_CLIENT_H

#include "client/journal.h"
#include "client/keepalive.h"
#include "client/remote.h"
#include "engine/engine.h"
#include "opentse/opentse.h"

struct tse {
    engine *eng;      /* "file:" transport: the engine in-process */
    remote *rem;      /* "http(s):" transport: opentsed */
    journal *jr;      /* outage journal, or NULL */
    keepalive *ka;    /* keep-alive thread, or NULL */
};

#endif /* OPENTSE_CLIENT_H */
