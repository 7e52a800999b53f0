/*
 * migrate.c - a data directory of the layout before the one store
 * (server.db beside one file per TSS in tss/) becomes the deployment's
 * database opentse.db, once: everything is copied into opentse.db.new,
 * which is renamed into place only when complete, and the old files are
 * then moved into pre-store-backup/ (kept, never read again). A crash at
 * any point leaves either the old layout (the next start migrates again) or
 * the new database (the next start only moves what is left of the old).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

/* Records collected for commits of up to REC_BULK records. */
#define REC_BULK 256
typedef struct bulk {
    srv *s;
    engine_db *d;
    engine_record r[REC_BULK];
    char *owned[REC_BULK][4];
    size_t n;
    int failed;
    char why[300];
    const char *data_dir;
} bulk;

static void bulk_flush(bulk *b)
{
    if (b->n && !b->failed && engine_records_commit(b->d, b->r, b->n) != TSE_OK) {
        b->failed = 1;
        snprintf(b->why, sizeof b->why, "%s", tse_last_error_message());
    }
    for (size_t i = 0; i < b->n; i++)
        for (int k = 0; k < 4; k++)
            free(b->owned[i][k]);
    b->n = 0;
}

static void bulk_add(bulk *b, const char *ns, const char *key, const char *idx, int64_t ord, json_t *v)
{
    char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    char *o[4] = {strdup(ns), strdup(key ? key : ""), idx ? strdup(idx) : NULL, text};
    if (!o[0] || !o[1] || (idx && !o[2]) || !text) {
        for (int k = 0; k < 4; k++)
            free(o[k]);
        b->failed = 1;
        snprintf(b->why, sizeof b->why, "out of memory");
        return;
    }
    b->r[b->n] = (engine_record){.op = ENGINE_RECORD_PUT, .ns = o[0], .key = o[1], .idx = o[2], .ord = ord,
                                 .value = o[3]};
    memcpy(b->owned[b->n], o, sizeof o);
    if (++b->n == REC_BULK)
        bulk_flush(b);
}

/* Column `name` of a legacy row ("" when absent or NULL). */
static const char *col(int n, const char *const *names, const char *const *values, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return values[i] ? values[i] : "";
    return "";
}

static json_int_t num(const char *v)
{
    return (json_int_t)strtoll(v, NULL, 10);
}

#define COL(name) col(n, names, values, name)

static int org_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    bulk *b = ctx;
    bulk_add(b, "org", COL("id"), NULL, num(COL("id")),
             json_pack("{s:s, s:I}", "name", COL("name"), "time_creation", num(COL("time_creation"))));
    return b->failed;
}

static int key_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    bulk *b = ctx;
    bulk_add(b, "apikey", COL("key"), COL("org_id"), num(COL("time_creation")),
             json_pack("{s:I, s:I, s:s, s:I, s:I}", "id", num(COL("id")), "org_id", num(COL("org_id")), "secret_hash",
                       COL("secret_hash"), "revoked", num(COL("revoked")), "time_creation",
                       num(COL("time_creation"))));
    return b->failed;
}

static int tss_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    bulk *b = ctx;
    const char *id = COL("id");
    char path[1200];
    snprintf(path, sizeof path, "%s/tss/%s.db", b->data_dir, id);
    if (!uuid_valid(id) || engine_db_import(b->d, id, path) != TSE_OK) {
        b->failed = 1;
        snprintf(b->why, sizeof b->why, "TSS %s: %s", id, uuid_valid(id) ? tse_last_error_message() : "bad id");
        return 1;
    }
    bulk_add(b, "tss", id, COL("org_id"), num(COL("time_creation")),
             json_pack("{s:I, s:s, s:I, s:I}", "org_id", num(COL("org_id")), "description", COL("description"),
                       "deployed", num(COL("deployed")), "time_creation", num(COL("time_creation"))));
    return b->failed;
}

static int client_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    bulk *b = ctx;
    char ns[REC_NS_LEN];
    bulk_add(b, rec_ns(ns, "client", COL("tss_id")), COL("id"), COL("state"), 0,
             json_pack("{s:s, s:s, s:I}", "serial_number", COL("serial_number"), "state", COL("state"),
                       "time_creation", num(COL("time_creation"))));
    return b->failed;
}

static int tx_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    bulk *b = ctx;
    char ns[REC_NS_LEN];
    json_t *result = json_loads(COL("result"), 0, NULL);
    if (!result) {
        b->failed = 1;
        snprintf(b->why, sizeof b->why, "transaction %s: its stored answer is not JSON", COL("id"));
        return 1;
    }
    bulk_add(b, rec_ns(ns, "tx", COL("tss_id")), COL("id"), COL("state"), num(COL("number")),
             json_pack("{s:I, s:s, s:s, s:I, s:o}", "number", num(COL("number")), "client_id", COL("client_id"),
                       "state", COL("state"), "revision", num(COL("revision")), "result", result));
    return b->failed;
}

static int link_row(void *ctx, int n, const char *const *names, const char *const *values)
{
    bulk *b = ctx;
    bulk_add(b, "tsslink", COL("predecessor"), COL("successor"), 0,
             json_pack("{s:s, s:I}", "successor", COL("successor"), "time_creation", num(COL("time_creation"))));
    return b->failed;
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return rc;
}

/* Moves the files `old` (those there) of dir into pre-store-backup/. */
static int keep_files(const char *dir, const char *const *old, size_t n)
{
    char backup[1100], from[1200], to[1300];
    snprintf(backup, sizeof backup, "%s/pre-store-backup", dir);
    if (mkdir(backup, 0700) != 0 && errno != EEXIST)
        return -1;
    for (size_t i = 0; i < n; i++) {
        snprintf(from, sizeof from, "%s/%s", dir, old[i]);
        snprintf(to, sizeof to, "%s/%s", backup, old[i]);
        if (rename(from, to) != 0 && errno != ENOENT) {
            fprintf(stderr, "opentsed: cannot move %s to %s: %s\n", from, to, strerror(errno));
            return -1;
        }
    }
    return sync_dir(backup) || sync_dir(dir) ? -1 : 0;
}

/* Moves what is left of the old layout into pre-store-backup/. */
static int keep_old(const char *dir)
{
    static const char *const old[] = {"server.db", "server.db-wal", "server.db-shm", "tss"};
    return keep_files(dir, old, sizeof old / sizeof old[0]);
}

static void remove_db_files(const char *path)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal", "-lock"};
    char p[1200];
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

int migrate_legacy(srv *s, const char *dbpath)
{
    const char *dir = s->cfg.data_dir;
    char legacy[1100], fresh[1200];
    snprintf(legacy, sizeof legacy, "%s/server.db", dir);
    if (access(legacy, F_OK) != 0)
        return 0;   /* nothing of the old layout */
    if (access(dbpath, F_OK) == 0)
        return keep_old(dir);   /* migrated before, the old files not yet moved */
    snprintf(fresh, sizeof fresh, "%s.new", dbpath);
    remove_db_files(fresh);   /* what an interrupted migration left */
    bulk *b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    b->s = s;
    b->data_dir = dir;
    if (engine_db_open(fresh, &b->d) != TSE_OK) {
        fprintf(stderr, "opentsed: cannot create %s: %s\n", fresh, tse_last_error_message());
        free(b);
        return -1;
    }
    static const struct {
        const char *table;
        int (*row)(void *, int, const char *const *, const char *const *);
        int optional;
    } tables[] = {{"orgs", org_row, 0},    {"api_keys", key_row, 0}, {"tss", tss_row, 0},
                  {"clients", client_row, 0}, {"txs", tx_row, 0},      {"tss_links", link_row, 1}};
    for (size_t i = 0; !b->failed && i < sizeof tables / sizeof tables[0]; i++) {
        if (engine_legacy_rows(legacy, tables[i].table, tables[i].row, b) != TSE_OK && !b->failed &&
            !tables[i].optional) {
            b->failed = 1;
            snprintf(b->why, sizeof b->why, "%s: %s", tables[i].table, tse_last_error_message());
        }
        bulk_flush(b);
    }
    engine_db_close(b->d);
    int rc = b->failed ? -1 : 0;
    if (b->failed)
        fprintf(stderr, "opentsed: the data directory %s could not be migrated to one database (%s); nothing of it "
                        "was changed\n", dir, b->why);
    free(b);
    if (!rc && (rename(fresh, dbpath) != 0 || sync_dir(dir) != 0)) {
        fprintf(stderr, "opentsed: cannot rename %s: %s\n", fresh, strerror(errno));
        rc = -1;
    }
    remove_db_files(fresh);   /* the new database's side files; the data is in dbpath */
    if (!rc) {
        fprintf(stderr, "opentsed: migrated %s to one database (%s); the old files are in %s/pre-store-backup\n", dir,
                dbpath, dir);
        rc = keep_old(dir);
    }
    return rc;
}

int migrate_to_pg(srv *s, const char *dbpath)
{
    if (access(dbpath, F_OK) != 0)
        return 0;
    uint64_t n[4] = {0};
    tse_err rc = engine_db_copy_from(s->db, dbpath, n);
    if (rc == TSE_OK && n[3])   /* copied before a crash, the file not yet moved */
        fprintf(stderr, "opentsed: %s was copied into the PostgreSQL store before\n", dbpath);
    if (rc != TSE_OK) {
        fprintf(stderr, "opentsed: cannot move %s into the PostgreSQL store: %s; nothing was changed\n", dbpath,
                tse_last_error_message());
        return -1;
    }
    if (!n[3])
        fprintf(stderr, "opentsed: moved %" PRIu64 " TSS%s, %" PRIu64 " logs and %" PRIu64 " records from %s into "
                        "the PostgreSQL store; the file is kept in %s/pre-store-backup\n",
                n[0], n[0] == 1 ? "" : "s", n[1], n[2], dbpath, s->cfg.data_dir);
    const char *base = strrchr(dbpath, '/') ? strrchr(dbpath, '/') + 1 : dbpath;
    char names[3][300];
    snprintf(names[0], sizeof names[0], "%s", base);
    snprintf(names[1], sizeof names[1], "%s-wal", base);
    snprintf(names[2], sizeof names[2], "%s-shm", base);
    const char *const files[] = {names[0], names[1], names[2]};
    return keep_files(s->cfg.data_dir, files, 3);
}
