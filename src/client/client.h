/*
 * client.h - what a libopentse handle is: the transport it was opened with.
 */
#ifndef OPENTSE_CLIENT_H
#define OPENTSE_CLIENT_H

#include "engine/engine.h"
#include "opentse/opentse.h"

struct tse {
    engine *eng;   /* "file:" transport: the engine in-process */
};

#endif /* OPENTSE_CLIENT_H */
