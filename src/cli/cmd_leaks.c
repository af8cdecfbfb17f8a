/* heaptrail leaks: the blocks each process image still held when it ended
 * (exit, exec or the end of the trace), grouped by the stack that allocated
 * them, less the groups a suppression pattern names. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/sites.h"
#include "cli/cli.h"
#include "cli/frames.h"
#include "cli/site_reader.h"
#include "cli/json.h"
#include "cli/trace_open.h"
#include "cli/units.h"
#include "heaptrail/stacks.h"
#include "heaptrail/symbols.h"
#include "heaptrail/trace.h"

const char cmd_leaks_usage[] =
    "usage: heaptrail leaks [--json] [--no-suppress] [--suppressions FILE]\n"
    "                       [--error-exitcode N] [--pid P] [--debug-dir DIR]\n"
    "                       [--sysroot DIR] FILE\n"
    "\n"
    "Report the heap blocks each process image still held when it ended (its\n"
    "process exited or exec'd, or the trace ended), grouped by process and by the\n"
    "call stack that allocated them, largest first.\n"
    "\n"
    "  --json              one JSON object: \"groups\", each with pid, blocks, bytes\n"
    "                      and stack (frames as in 'dump --format json --stacks'),\n"
    "                      then leaked_blocks, leaked_bytes, suppressed_blocks and\n"
    "                      suppressed_bytes\n"
    "  --suppressions FILE leave out the groups with a frame whose function matches\n"
    "                      a pattern of FILE (fnmatch globs, one a line, '#'\n"
    "                      comments; repeatable)\n"
    "  --no-suppress       leave nothing out, not even the built-in patterns for\n"
    "                      libc's and the loader's one-time allocations\n"
    "  --error-exitcode N  exit with N when a leak remains after suppressions\n"
    "  --pid P             only the leaks of process P\n"
    "  --debug-dir DIR     also look for separate debug info under DIR (repeatable)\n"
    "  --sysroot DIR       find the recorded modules under DIR\n"
    "\n"
    "Exit status: 0 (or N of --error-exitcode when leaks remain), 1 damaged trace,\n"
    "2 usage error, unreadable suppression file or not a trace.\n";

/* Allocations libc and the loader make once and keep for the life of the
 * process: not leaks of the program. Each names functions that only libc or
 * the loader call, so a program's own leak is never hidden by them. The
 * loader's entries are its allocating internals rather than dlopen or
 * _dl_init: a library constructor runs under those, and its leaks count. */
static const struct builtin_suppression {
    const char *pattern;
    const char *reason;
} builtin_suppressions[] = {
    {"_dl_new_object", "the loader's link map of each loaded object"},
    {"_dl_map_object*", "the loader's search paths and names of loaded objects"},
    {"_dl_check_map_versions", "the loader's symbol version tables"},
    {"_dl_important_hwcaps", "the loader's hardware capability subdirectories"},
    {"_dl_init_paths", "the loader's library search path list"},
    {"_dl_allocate_tls*", "a thread's dynamic thread vector, cached with its stack"},
    {"_dl_resize_dtv", "the dynamic thread vector grown for a new TLS module"},
    {"_dl_update_slotinfo", "TLS module slots, grown by dlopen"},
    {"_dl_add_to_slotinfo", "TLS module slots, grown by dlopen"},
    {"_dl_exception_create*", "the loader's last error message, kept for dlerror"},
    {"_dlerror_run", "the per-thread result buffer of dlerror"},
    {"__libc_dlopen_mode", "modules libc loads for itself (NSS, iconv, libgcc_s)"},
    {"_IO_file_doallocate", "the buffer of a stdio stream, kept until exit"},
    {"_IO_wfile_doallocate", "the buffer of a wide stdio stream"},
    {"setlocale", "locale data, loaded once and shared"},
    {"__libc_setlocale", "locale data, loaded once and shared"},
    {"_nl_*", "locale internals: archives, catalogs, names"},
    {"tzset", "the time zone rules, read once"},
    {"tzset_internal", "the time zone rules, read once"},
    {"__tzfile_read", "the time zone file's transitions"},
    {"__tzset_parse_tz", "the TZ variable's rules"},
    {"__nss_*", "NSS databases and the modules serving them"},
    {"nss_*", "NSS module internals"},
    {"getpwnam", "its static result buffer, reused by later calls"},
    {"getpwuid", "its static result buffer, reused by later calls"},
    {"getgrnam", "its static result buffer, reused by later calls"},
    {"getgrgid", "its static result buffer, reused by later calls"},
    {"pthread_create*", "thread descriptors, cached for later threads"},
    {"allocate_stack", "thread stacks and descriptors, cached for later threads"},
    {"__libc_early_init", "libc's start-up state"},
    {"__new_exitfn", "atexit's handler lists beyond the static first block"},
    {"_GLOBAL__sub_I_eh_alloc.cc", "libstdc++'s emergency pool for exceptions"},
};

#define BUILTIN_SUPPRESSIONS (sizeof builtin_suppressions / sizeof builtin_suppressions[0])

typedef struct patterns {
    char **items;
    size_t count, cap;
} patterns;

static void patterns_free(patterns *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->items[i]);
    free(p->items);
}

static int patterns_add(patterns *p, const char *s, size_t len)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        char **grown = realloc(p->items, cap * sizeof *grown);
        if (!grown)
            return -1;
        p->items = grown;
        p->cap = cap;
    }
    char *copy = strndup(s, len);
    if (!copy)
        return -1;
    p->items[p->count++] = copy;
    return 0;
}

/* Why a pattern cannot be what was meant, or NULL: fnmatch would take an
 * unclosed bracket or a trailing backslash literally, silently. */
static const char *pattern_problem(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\') {
            if (++i == len)
                return "a backslash ends the pattern";
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < len && (s[j] == '!' || s[j] == '^'))
                j++;
            if (j < len && s[j] == ']')
                j++;
            while (j < len && s[j] != ']')
                j++;
            if (j == len)
                return "'[' without its ']'";
            i = j;
        } else if (c < 0x20 || c == 0x7f) {
            return "a control character";
        }
    }
    return NULL;
}

/* Read the patterns of a suppression file; on failure print where and why. */
static int read_suppressions(patterns *p, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        ht_cli_error("leaks", "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t got;
    int status = 0;
    for (unsigned long lineno = 1; (got = getline(&buf, &cap, f)) >= 0; lineno++) {
        size_t len = (size_t)got;
        if (memchr(buf, '\0', len)) {
            ht_cli_error("leaks", "%s:%lu: a NUL byte: not a suppression file", path, lineno);
            status = -1;
            break;
        }
        const char *s = buf;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        while (len && isspace((unsigned char)*s)) {
            s++;
            len--;
        }
        if (!len || *s == '#')
            continue;
        const char *problem = pattern_problem(s, len);
        if (problem) {
            ht_cli_error("leaks", "%s:%lu: bad pattern '%.*s': %s", path, lineno, (int)len, s,
                         problem);
            status = -1;
            break;
        }
        if (patterns_add(p, s, len) < 0) {
            ht_cli_error("leaks", "out of memory");
            status = -1;
            break;
        }
    }
    if (!status && ferror(f)) {
        ht_cli_error("leaks", "%s: %s", path, strerror(errno));
        status = -1;
    }
    free(buf);
    fclose(f);
    return status;
}

/* ---- the groups of the report ---- */

typedef struct group {
    uint32_t pid;
    uint64_t blocks, bytes;
    int has_stack; /* the blocks were recorded with a stack id */
    int suppressed;
    size_t nframes;
    ht_frame *frames; /* innermost first, allocator frames left out */
} group;

typedef struct report {
    group *groups;
    size_t count, cap;
    uint64_t leaked_blocks, leaked_bytes, suppressed_blocks, suppressed_bytes;
} report;

typedef struct context {
    ht_cli_stacks stacks;
    ht_sites *sites;
    const patterns *user; /* NULL with --no-suppress */
    int builtin;          /* the built-in patterns apply */
    report rep;
} context;

#define MAX_FRAMES 2048

static int matches(const char *const *list, size_t n, const char *function)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(list[i], function, 0) == 0)
            return 1;
    return 0;
}

static int name_suppressed(const context *cx, const char *function)
{
    for (size_t k = 0; cx->builtin && k < BUILTIN_SUPPRESSIONS; k++)
        if (fnmatch(builtin_suppressions[k].pattern, function, 0) == 0)
            return 1;
    return cx->user &&
           matches((const char *const *)cx->user->items, cx->user->count, function);
}

/* A function matches under its own name and under the name a program knows
 * it by: glibc's symbol table and DWARF often give the internal alias
 * (__GI__IO_file_doallocate) or a versioned one (fopen@@GLIBC_2.2.5). */
static int function_suppressed(const context *cx, const char *function)
{
    if (name_suppressed(cx, function))
        return 1;
    const char *name = strncmp(function, "__GI_", 5) == 0 ? function + 5 : function;
    size_t len = strcspn(name, "@");
    if (name == function && !name[len])
        return 0;
    char plain[512];
    if (len >= sizeof plain)
        return 0;
    memcpy(plain, name, len);
    plain[len] = '\0';
    return name_suppressed(cx, plain);
}

static int suppressed(const context *cx, const ht_frame *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].function && function_suppressed(cx, f[i].function))
            return 1;
    return 0;
}

/* An image ended: turn the sites of its leaked blocks into groups of the
 * report. */
static int image_ended(void *arg, const ht_sites_image *im)
{
    context *cx = arg;
    uint32_t pid = im->pid;
    static ht_frame frames[MAX_FRAMES]; /* too large for the stack */
    report *r = &cx->rep;
    int status = 0;
    for (size_t i = 0; i < im->count; i++) {
        const ht_site *site = &im->sites[i];
        if (!site->leaked_blocks)
            continue;
        if (r->count == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 64;
            group *grown = realloc(r->groups, cap * sizeof *grown);
            if (!grown) {
                status = -1;
                break;
            }
            r->groups = grown;
            r->cap = cap;
        }
        size_t nf = ht_cli_stacks_resolve(&cx->stacks, pid, site->stack_id, frames, MAX_FRAMES);
        group *g = &r->groups[r->count];
        *g = (group){pid, site->leaked_blocks, site->leaked_bytes, site->stack_id != 0, 0, nf,
                     NULL};
        if (nf && !(g->frames = malloc(nf * sizeof *g->frames))) {
            status = -1;
            break;
        }
        if (nf)
            memcpy(g->frames, frames, nf * sizeof *frames);
        g->suppressed = suppressed(cx, frames, nf);
        if (g->suppressed) {
            r->suppressed_blocks += g->blocks;
            r->suppressed_bytes += g->bytes;
        } else {
            r->leaked_blocks += g->blocks;
            r->leaked_bytes += g->bytes;
        }
        r->count++;
    }
    return status;
}

static int larger_first(const void *a, const void *b)
{
    const group *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes < y->bytes ? 1 : -1;
    if (x->blocks != y->blocks)
        return x->blocks < y->blocks ? 1 : -1;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* ---- output ---- */

static void print_json(FILE *out, const report *r)
{
    fputs("{\"groups\":[", out);
    int first = 1;
    for (size_t i = 0; i < r->count; i++) {
        const group *g = &r->groups[i];
        if (g->suppressed)
            continue;
        fprintf(out, "%s\n{\"pid\":%" PRIu32 ",\"blocks\":%" PRIu64 ",\"bytes\":%" PRIu64
                     ",\"stack\":",
                first ? "" : ",", g->pid, g->blocks, g->bytes);
        first = 0;
        if (!g->has_stack) {
            fputs("null}", out);
            continue;
        }
        ht_cli_json_frames(out, g->frames, g->nframes);
        fputc('}', out);
    }
    fprintf(out,
            "%s],\n\"leaked_blocks\":%" PRIu64 ",\"leaked_bytes\":%" PRIu64
            ",\"suppressed_blocks\":%" PRIu64 ",\"suppressed_bytes\":%" PRIu64 "}\n",
            first ? "" : "\n", r->leaked_blocks, r->leaked_bytes, r->suppressed_blocks,
            r->suppressed_bytes);
}

static void print_text(FILE *out, const report *r)
{
    for (size_t i = 0; i < r->count; i++) {
        const group *g = &r->groups[i];
        if (g->suppressed)
            continue;
        fprintf(out, "%" PRIu64 " bytes in %" PRIu64 " block%s leaked by pid %" PRIu32 "\n",
                g->bytes, g->blocks, g->blocks == 1 ? "" : "s", g->pid);
        if (!g->has_stack)
            fputs("    (no stack recorded)\n", out);
        for (size_t k = 0; k < g->nframes; k++) {
            fprintf(out, "    #%zu ", k);
            ht_cli_print_frame(out, &g->frames[k]);
            fputc('\n', out);
        }
        fputc('\n', out);
    }
    fprintf(out,
            "leaked: %" PRIu64 " bytes in %" PRIu64 " blocks\n"
            "suppressed: %" PRIu64 " bytes in %" PRIu64 " blocks\n",
            r->leaked_bytes, r->leaked_blocks, r->suppressed_bytes, r->suppressed_blocks);
}

/* ---- the command ---- */

int cmd_leaks(int argc, char **argv)
{
    static const struct option options[] = {{"json", no_argument, NULL, 'j'},
                                            {"no-suppress", no_argument, NULL, 'n'},
                                            {"suppressions", required_argument, NULL, 's'},
                                            {"error-exitcode", required_argument, NULL, 'e'},
                                            {"pid", required_argument, NULL, 'p'},
                                            {"debug-dir", required_argument, NULL, 'd'},
                                            {"sysroot", required_argument, NULL, 'r'},
                                            {NULL, 0, NULL, 0}};
    enum { MAX_SUPPRESSION_FILES = 16 };
    const char *files[MAX_SUPPRESSION_FILES];
    size_t nfiles = 0;
    context cx;
    memset(&cx, 0, sizeof cx);
    ht_cli_stacks_init(&cx.stacks);
    int json = 0, no_suppress = 0, by_pid = 0, has_exitcode = 0;
    uint32_t pid = 0, exitcode = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'j': json = 1; break;
        case 'n': no_suppress = 1; break;
        case 's':
            if (nfiles == MAX_SUPPRESSION_FILES)
                return ht_cli_usage_error("leaks", "at most %d --suppressions",
                                          MAX_SUPPRESSION_FILES);
            files[nfiles++] = optarg;
            break;
        case 'e':
            if (ht_cli_parse_u32(optarg, &exitcode) < 0 || exitcode > 255)
                return ht_cli_usage_error("leaks", "--error-exitcode needs 0 to 255, not '%s'",
                                          optarg);
            has_exitcode = 1;
            break;
        case 'p':
            if (ht_cli_parse_u32(optarg, &pid) < 0)
                return ht_cli_usage_error("leaks", "--pid needs a process id, not '%s'", optarg);
            by_pid = 1;
            break;
        case 'd':
            if (ht_cli_stacks_debug_dir(&cx.stacks, "leaks", optarg))
                return HT_EXIT_USAGE;
            break;
        case 'r': cx.stacks.options.sysroot = optarg; break;
        default:
            return ht_cli_usage_error("leaks", optopt ? "option '%s' needs a value"
                                                      : "unknown option '%s'",
                                      argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return ht_cli_usage_error("leaks", argc - optind < 1 ? "no trace file given"
                                                             : "too many arguments");
    patterns user = {NULL, 0, 0};
    for (size_t i = 0; i < nfiles; i++)
        if (read_suppressions(&user, files[i]) < 0) {
            patterns_free(&user);
            return HT_EXIT_USAGE;
        }
    ht_trace *t = ht_cli_open_trace("leaks", argv[optind]);
    if (!t) {
        patterns_free(&user);
        return HT_EXIT_USAGE_OR_FAILURE;
    }
    cx.sites = ht_sites_create(NULL);
    cx.user = no_suppress ? NULL : &user;
    cx.builtin = !no_suppress;
    ht_cli_site_reader reader = {.stacks = &cx.stacks, .sites = cx.sites, .by_pid = by_pid,
                                  .pid = pid, .image_ended = image_ended, .context = &cx};
    int r = ht_cli_stacks_open(&cx.stacks) == 0 && cx.sites ? ht_cli_read_sites(t, &reader) : -2;
    if (r >= 0) {
        qsort(cx.rep.groups, cx.rep.count, sizeof *cx.rep.groups, larger_first);
        if (json)
            print_json(stdout, &cx.rep);
        else
            print_text(stdout, &cx.rep);
    }
    uint64_t leaked = cx.rep.leaked_blocks;
    for (size_t i = 0; i < cx.rep.count; i++)
        free(cx.rep.groups[i].frames);
    free(cx.rep.groups);
    ht_sites_destroy(cx.sites);
    ht_cli_stacks_close(&cx.stacks);
    patterns_free(&user);
    if (r == -2) {
        ht_trace_close(t);
        ht_cli_error("leaks", "out of memory");
        return HT_EXIT_FAILURE;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ht_trace_close(t);
        ht_cli_error("leaks", "cannot write the output: %s", strerror(errno));
        return HT_EXIT_FAILURE;
    }
    int status = ht_cli_finish_trace("leaks", t, r);
    if (status != HT_EXIT_OK)
        return status;
    return has_exitcode && leaked ? (int)exitcode : HT_EXIT_OK;
}
