/*
 * archive.c - reading an export archive in two passes: the first loads
 * info.csv and the certificates (they may stand anywhere in the archive),
 * the second streams every log through the per-log checks and flags files
 * that do not belong. A plain ustar archive is read by tar.c over large
 * buffers; anything else (compressed, pax or GNU headers, damaged) with
 * libarchive, to the same findings. Also verify_log for a single message.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>

#include "internal.h"

/* Larger entries are not log messages or certificates of any TSE. */
#define MAX_LOG_SIZE (1u << 20)
#define MAX_SMALL_FILE (1u << 16)

typedef enum entry_kind { ENTRY_OTHER, ENTRY_LOG, ENTRY_CERT, ENTRY_INFO } entry_kind;

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static entry_kind kind_of(const char *name)
{
    if (strchr(name, '/'))
        return ENTRY_OTHER;
    if (strcmp(name, "info.csv") == 0)
        return ENTRY_INFO;
    if (ends_with(name, ".log"))
        return ENTRY_LOG;
    static const char *const exts[] = {"_X509.cer", "_X509.crt", "_X509.pem", "_X509.der"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (ends_with(name, exts[i]))
            return ENTRY_CERT;
    return ENTRY_OTHER;
}

/* Makes *buf (capacity *cap) hold at least `n` bytes. -1: out of memory. */
static int grow(uint8_t **buf, size_t *cap, size_t n)
{
    if (n <= *cap)
        return 0;
    uint8_t *b = realloc(*buf, n);
    if (!b)
        return -1;
    *buf = b;
    *cap = n;
    return 0;
}

/* Reads the current entry (at most `max` bytes) into *buf (grown as needed).
 * Returns the length, -1 on a read error, -2 when larger than `max`, -3 when
 * out of memory. */
static ssize_t read_entry(struct archive *a, struct archive_entry *e, size_t max, uint8_t **buf,
                          size_t *cap)
{
    int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : -1;
    if (size < 0 || (uint64_t)size > max)
        return -2;
    if (grow(buf, cap, (size_t)size + 1) != 0)
        return -3;
    size_t got = 0;
    while (got < (size_t)size) {
        la_ssize_t n = archive_read_data(a, *buf + got, (size_t)size - got);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (got != (size_t)size)
        return -1;
    (*buf)[got] = 0;
    return (ssize_t)got;
}

/* Opens the archive for reading: one file, or the parts of a split one
 * read as their concatenation (TR-03151-1 v1.1.1 section 2.5.2). false
 * when it cannot be opened (the reason is in archive_error_string). */
static bool open_archive(struct archive *a, const char *const *paths, size_t n)
{
    const char *names[ARCHIVE_MAX_PARTS + 1];
    if (n > ARCHIVE_MAX_PARTS)
        return false;
    memcpy(names, paths, n * sizeof *paths);
    names[n] = NULL;
    return archive_read_support_format_tar(a) == ARCHIVE_OK &&
           archive_read_support_filter_all(a) == ARCHIVE_OK &&
           archive_read_open_filenames(a, names, 1 << 16) == ARCHIVE_OK;
}

/* ---------------------------------------------------------- info.csv */

/* Splits one CSV line into at most `max` fields, in place. Quoted fields may
 * hold commas and doubled quotes; spaces around a field are dropped. `quoted`
 * tells whether every field was quoted with nothing around the quotes. */
static size_t csv_fields(char *line, char **fields, size_t max, bool *quoted)
{
    size_t n = 0;
    char *p = line;
    *quoted = true;
    for (;;) {
        char *start, *end;
        while (*p == ' ') {
            *quoted = false;
            p++;
        }
        if (*p == '"') {
            start = end = ++p;
            for (;;) {
                if (!*p) {
                    *quoted = false;   /* unterminated */
                    break;
                }
                if (*p == '"' && p[1] == '"') {
                    *end++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *end++ = *p++;
                }
            }
            while (*p == ' ') {
                *quoted = false;
                p++;
            }
            if (*p && *p != ',') {
                *quoted = false;
                while (*p && *p != ',')
                    *end++ = *p++;
            }
        } else {
            *quoted = false;
            start = p;
            while (*p && *p != ',')
                p++;
            end = p;
            while (end > start && end[-1] == ' ')
                end--;
        }
        char sep = *p;
        *end = 0;
        if (n < max)
            fields[n] = start;
        n++;
        if (sep != ',')
            break;
        p++;
    }
    return n;
}

/* Keeps what info.csv says; `strict`: every value quoted and one line feed
 * after each line, as our own exports write it. */
static int info_found(vctx *x, const char *name, const char *desc, const char *manufacturer, const char *version,
                      bool strict)
{
    verify_result *r = x->r;
    const verify_options *o = x->o;
    if (!(r->info_description = strdup(desc)) || !(r->info_manufacturer = strdup(manufacturer)) ||
        !(r->info_version = strdup(version)))
        return -1;
    if (strict)
        return 0;
    if (strcmp(manufacturer, VERIFY_OUR_MANUFACTURER) == 0)
        return vr_add(r, o, VERIFY_WARNING, "info-not-strict", name,
                      "an %s export writes every value quoted, each line ending in a line feed",
                      VERIFY_OUR_MANUFACTURER);
    return vr_add(r, o, VERIFY_NOTE, "info-unquoted", name,
                  "values without quotes (read leniently, as older exports write them)");
}

/* info.csv of TR-03151-1 v1.1.1 (section 2.5.3): one line per component
 * (component, manufacturer, model, version, certification-id, each after
 * its label), then "description:" with its value and eight empty values.
 * The manufacturer and version reported are the first component's. */
static int check_info_components(vctx *x, const char *name, char *text, bool final_lf)
{
    verify_result *r = x->r;
    const verify_options *o = x->o;
    static const char *const labels[] = {"component:", "manufacturer:", "model:", "version:", "certification-id:"};
    char *manufacturer = NULL, *version = NULL, *line = text, *f[10];
    bool strict = final_lf;
    for (int no = 1;; no++) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = 0;
        size_t ln = strlen(line);
        if (ln && line[ln - 1] == '\r') {
            line[--ln] = 0;
            strict = false;
        }
        bool quoted;
        size_t n = csv_fields(line, f, 10, &quoted);
        if (n != 10)
            return vr_add(r, o, VERIFY_WARNING, "info-malformed", name, "line %d has %zu values; expected 10", no, n);
        if (strcmp(f[0], "description:") == 0) {
            for (int i = 2; i < 10; i++)
                if (*f[i])
                    return vr_add(r, o, VERIFY_WARNING, "info-malformed", name,
                                  "line %d: the description line has a value %d after the description", no, i + 1);
            if (next && *next)
                return vr_add(r, o, VERIFY_WARNING, "info-malformed", name, "lines after the description line");
            if (!manufacturer)
                return vr_add(r, o, VERIFY_WARNING, "info-malformed", name, "no component line");
            /* the eight padding values are empty, so never quoted */
            return info_found(x, name, f[1], manufacturer, version, strict && line[0] == '"');
        }
        for (int i = 0; i < 5; i++)
            if (strcmp(f[2 * i], labels[i]) != 0)
                return vr_add(r, o, VERIFY_WARNING, "info-malformed", name, "line %d: value %d is \"%s\", expected \"%s\"",
                              no, 2 * i + 1, f[2 * i], labels[i]);
        strict = strict && quoted;
        if (!manufacturer) {
            manufacturer = f[3];
            version = f[7];
        }
        if (!next || !*next)
            return vr_add(r, o, VERIFY_WARNING, "info-malformed", name, "no description line after the components");
        line = next;
    }
}

/* Checks info.csv. `ours`: our own exports are written strictly (every
 * value quoted, one line ending in a line feed); others are read leniently. */
static int check_info(vctx *x, const char *name, char *text, size_t len)
{
    verify_result *r = x->r;
    const verify_options *o = x->o;
    if (strlen(text) != len)
        return vr_add(r, o, VERIFY_WARNING, "info-malformed", name, "holds a NUL byte");
    bool final_lf = len && text[len - 1] == '\n';
    size_t body = len - final_lf - (len > 1 && final_lf && text[len - 2] == '\r');
    text[body] = 0;
    if (strncmp(text, "\"component:\"", 12) == 0 || strncmp(text, "component:", 10) == 0)
        return check_info_components(x, name, text, final_lf && body == len - 1);
    if (strchr(text, '\n'))
        return vr_add(r, o, VERIFY_WARNING, "info-malformed", name, "more than one line");
    char *f[6];
    bool quoted;
    size_t n = csv_fields(text, f, 6, &quoted);
    static const char *const labels[] = {"description:", "manufacturer:", "version:"};
    if (n != 6)
        return vr_add(r, o, VERIFY_WARNING, "info-malformed", name,
                      "%zu values; expected description, manufacturer and version with labels", n);
    for (size_t i = 0; i < 3; i++)
        if (strcmp(f[2 * i], labels[i]) != 0)
            return vr_add(r, o, VERIFY_WARNING, "info-malformed", name,
                          "value %zu is \"%s\", expected \"%s\"", 2 * i + 1, f[2 * i], labels[i]);
    return info_found(x, name, f[1], f[3], f[5], quoted && final_lf && body == len - 1);
}

/* ------------------------------------------------------------ passes */

/* Pass 1's work on a certificate or info.csv: its content data[0..n),
 * NUL-terminated, or n == -2 when larger than MAX_SMALL_FILE. -1: out of
 * memory. */
static int side_file(vctx *x, const char *name, entry_kind k, ssize_t n, uint8_t *data, size_t *infos)
{
    int add;
    if (n == -2)
        add = vr_add(x->r, x->o, k == ENTRY_CERT ? VERIFY_ERROR : VERIFY_WARNING,
                     k == ENTRY_CERT ? "certificate-unreadable" : "info-malformed",
                     name, "larger than %u bytes", MAX_SMALL_FILE);
    else if (k == ENTRY_CERT)
        add = vctx_add_cert(x, name, data, (size_t)n);
    else if (++*infos == 1)
        add = check_info(x, name, (char *)data, (size_t)n);
    else
        add = vr_add(x->r, x->o, VERIFY_WARNING, "file-duplicate", name,
                     "the archive holds more than one info.csv");
    return add != 0 ? -1 : 0;
}

/* Pass 2's work on a regular file that is a log: its content data[0..n),
 * or n == -2 when larger than MAX_LOG_SIZE. -1: out of memory. */
static int log_file(vctx *x, const char *name, ssize_t n, const uint8_t *data)
{
    if (n != -2)
        return vctx_check_log(x, name, data, (size_t)n);
    x->r->counts.logs++;
    return vr_add(x->r, x->o, VERIFY_ERROR, "log-malformed", name, "larger than %u bytes", MAX_LOG_SIZE);
}

/* Pass 2's word on a regular file that is neither a log, a certificate
 * nor info.csv. -1: out of memory. */
static int other_file(vctx *x, const char *name)
{
    return vr_add(x->r, x->o, VERIFY_WARNING, "file-unexpected", name,
                  strchr(name, '/') ? "in a folder (an export is flat)"
                                    : "neither a log, a certificate nor info.csv");
}

static void progress(vctx *x, uint64_t done, uint64_t total)
{
    if (x->o && x->o->progress)
        x->o->progress(x->o->progress_ctx, done, total, x->r->counts.logs,
                       x->r->io_failed ? 0 : x->expected_logs);
}

/* Pass 1: info.csv and certificates. */
static int load_side_files(vctx *x, struct archive *a, uint8_t **buf, size_t *cap, size_t *infos)
{
    struct archive_entry *e;
    int rc;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(e);
        if (!name || archive_entry_filetype(e) != AE_IFREG)
            continue;
        entry_kind k = kind_of(name);
        x->expected_logs += k == ENTRY_LOG;
        if (k != ENTRY_CERT && k != ENTRY_INFO)
            continue;
        ssize_t n = read_entry(a, e, MAX_SMALL_FILE, buf, cap);
        if (n == -3)
            return -1;
        if (n == -1)
            return 1;
        if (side_file(x, name, k, n, *buf, infos) != 0)
            return -1;
    }
    return rc == ARCHIVE_EOF ? 0 : 1;
}

/* Pass 2: every entry; logs are checked, strangers reported. */
static int check_entries(vctx *x, struct archive *a, uint64_t total, uint8_t **buf, size_t *cap)
{
    struct archive_entry *e;
    int rc;
    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(e);
        if (!name)
            name = "";
        int add = 0;
        entry_kind k = kind_of(name);
        if (archive_entry_filetype(e) != AE_IFREG) {
            add = vr_add(x->r, x->o, VERIFY_WARNING, "file-unexpected", name,
                         "not a regular file (an export holds regular files only)");
        } else {
            x->r->counts.files++;
            if (k == ENTRY_LOG) {
                ssize_t n = read_entry(a, e, MAX_LOG_SIZE, buf, cap);
                if (n == -3)
                    return -1;
                if (n == -1)
                    return 1;
                add = log_file(x, name, n, *buf);
            } else if (k == ENTRY_OTHER) {
                add = other_file(x, name);
            }
        }
        if (add != 0)
            return -1;
        progress(x, (uint64_t)archive_filter_bytes(a, -1), total);
    }
    return rc == ARCHIVE_EOF ? 0 : 1;
}

/* Runs one pass over the archive. Returns 0, 1 when it could not be read
 * to its end (the finding archive-unreadable says why), -1 when out of memory. */
static int run_pass(vctx *x, const char *const *paths, size_t n, int pass, uint64_t total, uint8_t **buf,
                    size_t *cap, size_t *infos)
{
    struct archive *a = archive_read_new();
    if (!a)
        return -1;
    int rc = 1;
    bool opened = open_archive(a, paths, n);
    if (opened)
        rc = pass == 1 ? load_side_files(x, a, buf, cap, infos) : check_entries(x, a, total, buf, cap);
    if (rc == 1 && !x->r->io_failed) {   /* the second pass fails the same way */
        const char *why = archive_error_string(a);
        x->r->io_failed = true;
        int e = opened ? 0 : archive_errno(a);   /* a system errno when opening failed */
        if (e == EILSEQ)   /* libarchive: not an archive */
            e = 0;
        rc = vr_add(x->r, x->o, VERIFY_ERROR, "archive-unreadable", NULL, "%s%s%s%s",
                    why ? why : "read error", e > 0 ? " (" : "", e > 0 ? strerror(e) : "",
                    e > 0 ? ")" : "") == 0 ? 1 : -1;
    }
    archive_read_free(a);
    return rc;
}

/* Both passes with libarchive; what can be read of a broken archive is
 * still checked. */
static int slow_passes(vctx *x, const char *const *paths, size_t n, uint64_t total, uint8_t **buf,
                       size_t *cap, size_t *infos)
{
    int rc = run_pass(x, paths, n, 1, total, buf, cap, infos);
    if (rc >= 0) {
        int rc2 = run_pass(x, paths, n, 2, total, buf, cap, infos);
        rc = rc2 < 0 ? -1 : rc | rc2;
    }
    return rc;
}

/* One pass over a plain ustar archive (tar.c), as load_side_files (1) and
 * check_entries (2) do it. 0; 2 when tar.c declines the archive; -1 when
 * out of memory. */
static int fast_pass(vctx *x, vtar *t, int pass, uint64_t total, uint8_t **buf, size_t *cap, size_t *infos)
{
    vtar_entry e;
    int rc;
    while ((rc = vtar_next(t, &e)) == 1) {
        entry_kind k = kind_of(e.name);
        const uint8_t *data = NULL;
        if (pass == 1) {
            x->expected_logs += k == ENTRY_LOG;
            if (k != ENTRY_CERT && k != ENTRY_INFO)
                continue;
            if (e.size <= MAX_SMALL_FILE && !(data = vtar_data(t, &e)))
                return 2;
            if (data && grow(buf, cap, (size_t)e.size + 1) != 0)
                return -1;
            if (data) {
                memcpy(*buf, data, (size_t)e.size);
                (*buf)[e.size] = 0;
            }
            if (side_file(x, e.name, k, data ? (ssize_t)e.size : -2, *buf, infos) != 0)
                return -1;
            continue;
        }
        x->r->counts.files++;
        if (k == ENTRY_LOG && e.size <= MAX_LOG_SIZE && !(data = vtar_data(t, &e)))
            return 2;
        if (k == ENTRY_LOG ? log_file(x, e.name, data ? (ssize_t)e.size : -2, data) != 0
                           : k == ENTRY_OTHER && other_file(x, e.name) != 0)
            return -1;
        progress(x, t->pos, total);
    }
    return rc == 0 ? 0 : 2;
}

/* Both passes with tar.c. 2 when it declines the archive in the first
 * pass (what that pass added is to be thrown away; *trailing_at: where
 * the end mark stands when only what follows it is not zero); 1 when the
 * second pass finds it changed (archive-unreadable); 0; -1 as above. */
static int fast_passes(vctx *x, const char *const *paths, size_t n, uint64_t total, uint8_t **buf,
                       size_t *cap, size_t *infos, int64_t *trailing_at)
{
    if (n > ARCHIVE_MAX_PARTS)
        return 2;
    vtar t;
    if (vtar_open(&t, paths, n) != 0)
        return -1;
    int rc = fast_pass(x, &t, 1, total, buf, cap, infos);
    if (t.trailing)
        *trailing_at = (int64_t)t.end_mark;
    vtar_close(&t);
    if (rc != 0)
        return rc;
    if (vtar_open(&t, paths, n) != 0)
        return -1;
    rc = fast_pass(x, &t, 2, total, buf, cap, infos);
    uint64_t at = t.pos;
    vtar_close(&t);
    if (rc == 2) {
        x->r->io_failed = true;
        rc = vr_add(x->r, x->o, VERIFY_ERROR, "archive-unreadable", NULL,
                    "the archive changed while it was read: from byte %" PRIu64
                    " on it no longer reads as it did at first", at) == 0 ? 1 : -1;
    }
    return rc;
}

static int begin(verify_result *out, const char *source, const verify_options *opts, bool single,
                 vctx *x)
{
    memset(out, 0, sizeof *out);
    if (vctx_init(x, out, opts, single) != 0)
        return -1;
    return (out->source = strdup(source)) ? 0 : -1;
}

int verify_archive(const char *path, const verify_options *opts, verify_result *out)
{
    return verify_archive_parts(&path, 1, opts, out);
}

int verify_archive_parts(const char *const *paths, size_t n, const verify_options *opts, verify_result *out)
{
    vctx x;
    uint8_t *buf = NULL;
    size_t cap = 0, infos = 0;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        total += stat(paths[i], &st) == 0 ? (uint64_t)st.st_size : 0;
    }
    char source[1200];
    if (n > 1)
        snprintf(source, sizeof source, "%s (%zu parts)", paths[0], n);
    const char *name = n > 1 ? source : n ? paths[0] : NULL;
    int64_t trailing_at = -1;
    int rc = n ? begin(out, name, opts, false, &x) : -1;
    if (rc == 0)
        rc = opts && opts->libarchive_only ? 2 : fast_passes(&x, paths, n, total, &buf, &cap, &infos, &trailing_at);
    if (rc == 2) {   /* not plain ustar: libarchive reads it, from the start */
        infos = 0;
        vctx_free(&x);
        verify_result_free(out);
        rc = begin(out, name, opts, false, &x);
        if (rc == 0)
            rc = slow_passes(&x, paths, n, total, &buf, &cap, &infos);
    }
    int more = 0;
    /* libarchive ends an archive at its end mark, whatever follows */
    if (rc >= 0 && trailing_at >= 0)
        more = vr_add(out, opts, VERIFY_WARNING, "archive-trailing-data", NULL,
                      "bytes other than zeros follow the end-of-archive mark at byte %" PRId64
                      ": they were not read (an export ends with its end mark)", trailing_at);
    if (rc == 0 && !more && !infos)
        more = vr_add(out, opts, VERIFY_WARNING, "info-missing", NULL,
                      "the archive holds no info.csv");
    if (rc == 0 && !more && !out->counts.logs)
        more = vr_add(out, opts, VERIFY_WARNING, "no-logs", NULL, "the archive holds no log message");
    if (rc >= 0 && !more)
        more = vctx_finish(&x);
    free(buf);
    vctx_free(&x);
    return rc == 0 && more == 0 ? 0 : -1;
}

int verify_log(const uint8_t *data, size_t len, const char *name, const uint8_t *cert,
               size_t cert_len, const char *cert_name, const verify_options *opts,
               verify_result *out)
{
    vctx x;
    int rc = begin(out, name, opts, true, &x);
    if (rc == 0 && cert)
        rc = vctx_add_cert(&x, cert_name ? cert_name : "certificate", cert, cert_len);
    if (rc == 0)
        rc = vctx_check_log(&x, name, data, len);
    if (rc == 0)
        rc = vctx_finish(&x);
    vctx_free(&x);
    return rc;
}
