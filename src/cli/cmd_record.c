/* heaptrail record: run a program with the preload library, collect the
 * events of it and of every process it starts, and write one trace. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/recording.h"
#include "cli/units.h"
#include "trace/clock.h"
#include "trace/collector.h"
#include "trace/session.h"
#include "unwind/capture.h"

const char cmd_record_usage[] =
    "usage: heaptrail record [OPTIONS] [--] COMMAND [ARGS...]\n"
    "\n"
    "Run COMMAND and record every heap allocation, free and reallocation of it and\n"
    "of every process it starts into one trace file. Exits with COMMAND's status.\n"
    "\n"
    "  -o, --output FILE     trace file (default: heaptrail.COMMAND.PID.ht)\n"
    "  -f, --force           overwrite FILE if it exists\n"
    "      --no-follow       trace COMMAND only, not the processes it starts\n"
    "      --lossy           when a buffer is full, drop and count events rather\n"
    "                        than make the program wait (the default loses nothing)\n"
    "      --buffer-size N   bytes of buffer per traced thread (K, M, G suffixes;\n"
    "                        rounded up to a power of two; default 4M)\n"
    "      --no-stacks       record no call stacks\n"
    "      --stack-depth N   frames per stack (1 to 256; default 64)\n"
    "      --free-stacks     record the stacks of frees too\n"
    "      --heap=system     trace the program's own allocator (the default)\n"
    "      --heap=heaptrail  run it on the heaptrail heap (libheaptrail-malloc.so):\n"
    "                        true Source values and heap events\n"
    "  -q, --quiet           print no summary\n"
    "\n"
    "Environment: HEAPTRAIL_PRELOAD names the preload library to use instead of\n"
    "the one installed beside this program (for --heap=heaptrail:\n"
    "HEAPTRAIL_MALLOC).\n";

typedef struct record_options {
    const char *output;
    bool force, no_follow, lossy, quiet, free_stacks;
    bool heaptrail_heap; /* --heap=heaptrail: preload the heaptrail heap instead */
    uint32_t ring_bytes;
    uint32_t stack_depth; /* 0: --no-stacks */
    char **argv;
} record_options;

static volatile sig_atomic_t forward_signal;

static void on_terminate(int sig) { forward_signal = sig; }

/* A child changed: the collector reaps at its next round. The handled
 * signal also ends the collector's nap (nanosleep returns early), so a
 * child's exit is seen at once, not after a nap of up to 10 ms. */
static volatile sig_atomic_t child_changed = 1;
static void on_child(int sig)
{
    (void)sig;
    child_changed = 1;
}

/* --buffer-size: a size in range, rounded up to a power of two. */
static bool parse_ring_size(const char *s, uint32_t *out)
{
    uint64_t v;
    if (ht_cli_parse_size(s, &v) < 0 || v < HT_SESSION_MIN_RING || v > HT_SESSION_MAX_RING)
        return false;
    uint32_t p = HT_SESSION_MIN_RING;
    while (p < v)
        p <<= 1;
    *out = p;
    return true;
}

static int parse_options(int argc, char **argv, record_options *o)
{
    enum { OPT_NO_FOLLOW = 256, OPT_LOSSY, OPT_BUFFER, OPT_NO_STACKS, OPT_STACK_DEPTH,
           OPT_FREE_STACKS, OPT_HEAP };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
        {"no-follow", no_argument, NULL, OPT_NO_FOLLOW}, {"lossy", no_argument, NULL, OPT_LOSSY},
        {"buffer-size", required_argument, NULL, OPT_BUFFER},
        {"no-stacks", no_argument, NULL, OPT_NO_STACKS},
        {"stack-depth", required_argument, NULL, OPT_STACK_DEPTH},
        {"free-stacks", no_argument, NULL, OPT_FREE_STACKS}, {"heap", required_argument, NULL, OPT_HEAP},
        {"quiet", no_argument, NULL, 'q'}, {NULL, 0, NULL, 0}};
    *o = (record_options){.ring_bytes = HT_SESSION_DEFAULT_RING,
                          .stack_depth = HT_DEFAULT_STACK_DEPTH};
    bool no_stacks = false;
    opterr = 0;
    optind = 1;
    int c;
    /* '+': options end at the command, whose own options are its business. */
    while ((c = getopt_long(argc, argv, "+:o:fq", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'f': o->force = true; break;
        case 'q': o->quiet = true; break;
        case OPT_NO_FOLLOW: o->no_follow = true; break;
        case OPT_LOSSY: o->lossy = true; break;
        case OPT_NO_STACKS: no_stacks = true; break;
        case OPT_FREE_STACKS: o->free_stacks = true; break;
        case OPT_STACK_DEPTH: {
            char *end;
            unsigned long d = strtoul(optarg, &end, 10);
            if (*optarg == '\0' || *end || d < 1 || d > HT_STACK_MAX_DEPTH)
                return ht_cli_usage_error("record", "bad --stack-depth '%s' (1 to %d)", optarg,
                                          HT_STACK_MAX_DEPTH);
            o->stack_depth = (uint32_t)d;
            break;
        }
        case OPT_BUFFER:
            if (!parse_ring_size(optarg, &o->ring_bytes))
                return ht_cli_usage_error("record", "bad --buffer-size '%s' (64K to 1G)", optarg);
            break;
        case OPT_HEAP:
            if (strcmp(optarg, "system") == 0)
                break;
            if (strcmp(optarg, "heaptrail") == 0) {
                o->heaptrail_heap = true;
                break;
            }
            return ht_cli_usage_error("record", "bad --heap '%s' (system or heaptrail)", optarg);
        case ':':
            return ht_cli_usage_error("record", "option '%s' needs a value", argv[optind - 1]);
        default:
            return ht_cli_usage_error("record", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (no_stacks)
        o->stack_depth = 0;
    if (optind >= argc)
        return ht_cli_usage_error("record", "no command to record");
    o->argv = argv + optind;
    return 0;
}

/* Find the program as execvp would; false with errno when it cannot run. */
static bool resolve_program(const char *name, char *out, size_t outlen)
{
    if (strchr(name, '/')) {
        snprintf(out, outlen, "%s", name);
        return access(out, X_OK) == 0 || (errno = errno ? errno : EACCES, false);
    }
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int saved = ENOENT;
    for (const char *p = path; *p;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        snprintf(out, outlen, "%.*s%s%s", (int)len, p, len ? "/" : "", name);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(out, X_OK) == 0)
                return true;
            saved = EACCES;
        }
        if (!colon)
            break;
        p = colon + 1;
    }
    errno = saved;
    return false;
}

/* The preload library: HEAPTRAIL_PRELOAD (HEAPTRAIL_MALLOC for the
 * heaptrail heap), else ../lib beside this program. */
static bool find_preload(char *out, size_t outlen, bool heaptrail_heap)
{
    const char *env = getenv(heaptrail_heap ? "HEAPTRAIL_MALLOC" : "HEAPTRAIL_PRELOAD");
    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return access(out, R_OK) == 0;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return false;
    self[len] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return false;
    *slash = '\0';
    const char *libdirs[] = {"/../lib/", "/../lib/x86_64-linux-gnu/", "/../lib64/"};
    for (size_t i = 0; i < sizeof libdirs / sizeof *libdirs; i++) {
        int n = snprintf(out, outlen, "%s%s%s", self, libdirs[i],
                         heaptrail_heap ? "libheaptrail-malloc.so" : "libheaptrail-preload.so");
        if (n > 0 && (size_t)n < outlen && access(out, R_OK) == 0)
            return true;
    }
    return false;
}

/* The child: environment, then exec. Reports exec's errno through the pipe. */
static void run_child(const record_options *o, const char *program, const char *preload,
                      const char *session, int report)
{
    const char *old = getenv("LD_PRELOAD");
    char *value = malloc(strlen(preload) + (old ? strlen(old) : 0) + 2);
    if (value) {
        sprintf(value, "%s%s%s", preload, old && *old ? ":" : "", old && *old ? old : "");
        setenv("LD_PRELOAD", value, 1);
    }
    setenv(HT_SESSION_ENV, session, 1);
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    execv(program, o->argv);
    int e = errno;
    if (write(report, &e, sizeof e) < 0)
        _exit(127);
    _exit(127);
}

/* Start the program. Returns its pid, or -1 (with *status the exit status
 * to give) when it could not be started. */
static pid_t launch(const record_options *o, const char *program, const char *preload,
                    recording *r, int *status)
{
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) {
        ht_cli_error("record", "pipe: %s", strerror(errno));
        *status = HT_EXIT_FAILURE;
        return -1;
    }
    pid_t child = fork();
    if (child < 0) {
        ht_cli_error("record", "fork: %s", strerror(errno));
        close(report[0]);
        close(report[1]);
        *status = HT_EXIT_FAILURE;
        return -1;
    }
    if (child == 0) {
        close(report[0]);
        run_child(o, program, preload, ht_collector_session_path(r->collector), report[1]);
    }
    close(report[1]);
    ht_collector_set_root(r->collector, child);
    int exec_errno = 0;
    ssize_t got = read(report[0], &exec_errno, sizeof exec_errno);
    close(report[0]);
    if (got == (ssize_t)sizeof exec_errno) {
        waitpid(child, NULL, 0);
        ht_cli_error("record", "cannot execute '%s': %s", o->argv[0], strerror(exec_errno));
        *status = 127;
        return -1;
    }
    return child;
}

/* Collect until the program and every process it started are gone. Returns
 * false when the consumer failed (out of memory). */
static bool collect(recording *r, pid_t child, int *child_status, bool *child_done)
{
    long idle_ns = 0;
    uint64_t last_owner_check = 0;
    for (;;) {
        if (forward_signal) {
            kill(child, forward_signal);
            forward_signal = 0;
        }
        long n = recording_round(r, false);
        if (n < 0)
            return false;
        /* Children are reaped when SIGCHLD said one changed, and every
         * 100 ms whatever happened: a wait4 every round was a system call
         * for each of the tens of thousands of rounds of a busy recording. */
        uint64_t now = ht_now_ns();
        bool check = now - last_owner_check > 100000000u, reap = child_changed || check;
        int status;
        pid_t p;
        bool any_children = true;
        if (reap) {
            child_changed = 0; /* before the wait: a later change sets it again */
            while ((p = waitpid(-1, &status, WNOHANG)) != 0) {
                if (p < 0) {
                    any_children = errno != ECHILD;
                    break;
                }
                if (p == child) {
                    *child_status = status;
                    *child_done = true;
                }
                ht_collector_process_ended(r->collector, p, status, true);
                n++;
            }
        }
        if (check) {
            ht_collector_check_owners(r->collector);
            last_owner_check = now;
        }
        if (!any_children)
            break;
        recording_pause(r, n, &idle_ns);
    }
    ht_collector_check_owners(r->collector);
    return recording_round(r, true) >= 0;
}

int cmd_record(int argc, char **argv)
{
    record_options o;
    int r = parse_options(argc, argv, &o);
    if (r)
        return r;

    char program[PATH_MAX];
    if (!resolve_program(o.argv[0], program, sizeof program)) {
        ht_cli_error("record", "cannot execute '%s': %s", o.argv[0], strerror(errno));
        return 127;
    }
    struct stat st;
    if (stat(program, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID))) {
        ht_cli_error("record",
                     "refusing to trace %s: it is set-user-ID or set-group-ID, and the loader "
                     "ignores LD_PRELOAD for such programs",
                     program);
        return HT_EXIT_FAILURE;
    }
    char preload[PATH_MAX];
    if (!find_preload(preload, sizeof preload, o.heaptrail_heap)) {
        ht_cli_error("record", o.heaptrail_heap
                                   ? "cannot find libheaptrail-malloc.so (set HEAPTRAIL_MALLOC)"
                                   : "cannot find libheaptrail-preload.so (set HEAPTRAIL_PRELOAD)");
        return HT_EXIT_FAILURE;
    }
    char path[PATH_MAX], command[4096] = "";
    if (o.output) {
        snprintf(path, sizeof path, "%s", o.output);
    } else {
        const char *base = strrchr(o.argv[0], '/');
        snprintf(path, sizeof path, "heaptrail.%s.%d.ht", base ? base + 1 : o.argv[0],
                 (int)getpid());
    }
    for (char **a = o.argv; *a; a++) {
        size_t used = strlen(command);
        snprintf(command + used, sizeof command - used, "%s%s", a == o.argv ? "" : " ", *a);
    }
    recording_options ro = {
        .name = "record", .path = path, .force = o.force, .ring_bytes = o.ring_bytes,
        .stack_depth = o.stack_depth,
        .session_flags = (o.lossy ? HT_SESSION_LOSSY : 0) | (o.no_follow ? HT_SESSION_NO_FOLLOW : 0) |
                         (o.free_stacks ? HT_SESSION_FREE_STACKS : 0),
        .trace_options = (o.lossy ? HT_TRACE_OPT_LOSSY : 0) | (o.no_follow ? HT_TRACE_OPT_NO_FOLLOW : 0),
        .command = command};
    recording rec;
    if (recording_start(&rec, &ro) < 0)
        return HT_EXIT_FAILURE;

    /* Orphaned descendants become our children, so we see every exit. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* The terminal's ^C and ^\ reach the program too; the program decides,
     * and we keep collecting until it is gone. TERM and HUP are passed on. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_terminate};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    struct sigaction sc = {.sa_handler = on_child, .sa_flags = SA_RESTART | SA_NOCLDSTOP};
    sigaction(SIGCHLD, &sc, NULL);

    int status = HT_EXIT_OK;
    pid_t child = launch(&o, program, preload, &rec, &status);
    if (child < 0) {
        recording_abandon(&rec);
        return status;
    }
    int child_status = 0;
    bool child_done = false;
    if (!collect(&rec, child, &child_status, &child_done)) {
        ht_cli_error("record", "out of memory while collecting");
        status = HT_EXIT_FAILURE;
    }
    if (recording_finish(&rec, o.quiet) != HT_EXIT_OK)
        status = HT_EXIT_FAILURE;
    if (status != HT_EXIT_OK)
        return status;
    if (!child_done)
        return HT_EXIT_FAILURE;
    if (WIFSIGNALED(child_status))
        return 128 + WTERMSIG(child_status);
    return WEXITSTATUS(child_status);
}
