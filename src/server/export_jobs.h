/*
 * export_jobs.h - the export jobs of opentsed on disk, shared by export.c
 * (one TSS's export routes) and export_jobs.c (the job files, their answers
 * and the lists of jobs).
 *
 * A job is DATA_DIR/exports/<tss_id>/<export_id>.json (its state, written
 * whole and renamed), its archive <export_id>.tar (.tar.part while it is
 * written), <export_id>.lock (locked by the thread running it: a PENDING or
 * WORKING job without that lock was left by a process that died) and
 * <export_id>.cancel (a DELETE asked the running job to stop).
 */
#ifndef OPENTSE_SERVER_EXPORT_JOBS_H
#define OPENTSE_SERVER_EXPORT_JOBS_H

#include "server.h"

/* DATA_DIR/exports/<tss_id>/<id>.<ext>; 0, or -1 when it does not fit. */
int export_job_path(srv *s, const char *tss_id, const char *id, const char *ext, char *out, size_t cap);
/* Writes the job's document whole, then renames it into place; 0 or -1 (errno set). */
int export_job_save(srv *s, const char *tss_id, const char *id, json_t *doc);
/* The job's document as it stands (a job left PENDING or WORKING by a
 * process that died is saved as ERROR first); NULL when there is none.
 * Takes the job's lock (id_lock). */
json_t *export_job_read(srv *s, const char *tss_id, const char *id);
/* Creates and locks <id>.lock: the fd the running job keeps open, or -1. */
int export_job_lock(srv *s, const char *tss_id, const char *id);
/* The job's answer: the document (taken) with its envelope (_env,
 * _version) and older documents' fields in today's form. */
json_t *export_job_answer(srv_tss *x, json_t *doc);
/* GET /api/v2/tss/{id}/export: that TSS's jobs, paged and filtered. */
void export_list_tss(srv_req *q, srv_resp *r, srv_tss *x);

#endif
