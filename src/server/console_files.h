/*
 * console_files.h - the web console's static files (web/), compiled into
 * opentsed by scripts/embed_files.py; console.c serves them under /ui/.
 */
#ifndef OPENTSE_SERVER_CONSOLE_FILES_H
#define OPENTSE_SERVER_CONSOLE_FILES_H

#include <stddef.h>

typedef struct console_file {
    const char *name;            /* file name, e.g. "console.js"; NULL ends the list */
    const unsigned char *data;   /* its bytes, NUL-terminated */
    size_t len;
} console_file;

extern const console_file console_files[];

#endif
