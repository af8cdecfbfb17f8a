/* heaptrail collect: the recorder for a program that another tool started.
 * The preload library starts it when it finds HEAPTRAIL_OUTPUT and no
 * session (docs/RECORDING.md, "Without the CLI"): it creates a session,
 * hands its path back through a pipe, and collects until the program and
 * every process that joined the session are gone. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/recording.h"
#include "trace/clock.h"
#include "trace/session.h"

const char cmd_collect_usage[] =
    "usage: heaptrail collect -o FILE --pid PID --ready-fd FD [-f] [-q]\n"
    "\n"
    "Create a recording session for process PID (already running with the preload\n"
    "library), write the session's path to file descriptor FD and close it, then\n"
    "collect until PID and every process that joined the session are gone.\n"
    "The preload library runs this itself when a program is started with\n"
    "HEAPTRAIL_OUTPUT=FILE in its environment; see heaptrail-record(1).\n"
    "\n"
    "  -o, --output FILE   trace file\n"
    "  -f, --force        overwrite FILE if it exists\n"
    "      --pid PID      the process the session is for\n"
    "      --ready-fd FD  where to write the session path\n"
    "  -q, --quiet        print no summary\n";

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static bool parse_number(const char *s, long min, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return false;
    *out = v;
    return true;
}

int cmd_collect(int argc, char **argv)
{
    enum { OPT_PID = 256, OPT_READY };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"force", no_argument, NULL, 'f'},
        {"pid", required_argument, NULL, OPT_PID}, {"ready-fd", required_argument, NULL, OPT_READY},
        {"quiet", no_argument, NULL, 'q'}, {NULL, 0, NULL, 0}};
    const char *output = NULL;
    bool force = false, quiet = false;
    long pid = 0, ready = -1;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":o:fq", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'f': force = true; break;
        case 'q': quiet = true; break;
        case OPT_PID:
            if (!parse_number(optarg, 1, &pid))
                return ht_cli_usage_error("collect", "bad --pid '%s'", optarg);
            break;
        case OPT_READY:
            if (!parse_number(optarg, 0, &ready))
                return ht_cli_usage_error("collect", "bad --ready-fd '%s'", optarg);
            break;
        case ':': return ht_cli_usage_error("collect", "option '%s' needs a value", argv[optind - 1]);
        default: return ht_cli_usage_error("collect", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (!output || !pid || ready < 0 || optind != argc)
        return ht_cli_usage_error("collect", "-o, --pid and --ready-fd are required, and nothing else");

    char command[64];
    snprintf(command, sizeof command, "process %ld", pid);
    recording_options ro = {.name = "collect", .path = output, .force = force,
                            .ring_bytes = HT_SESSION_DEFAULT_RING,
                            .stack_depth = HT_DEFAULT_STACK_DEPTH, .command = command};
    recording rec;
    if (recording_start(&rec, &ro) < 0) {
        close((int)ready); /* the program learns there is no session, and runs untraced */
        return HT_EXIT_FAILURE;
    }
    ht_collector_set_root(rec.collector, (pid_t)pid);
    const char *session = ht_collector_session_path(rec.collector);
    ssize_t w = write((int)ready, session, strlen(session));
    close((int)ready);
    if (w != (ssize_t)strlen(session)) {
        ht_cli_error("collect", "cannot hand the session to process %ld", pid);
        recording_abandon(&rec);
        return HT_EXIT_FAILURE;
    }
    /* Detached from any terminal: only TERM (a shutdown) ends it early, and
     * then what was collected is written. */
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    int status = HT_EXIT_OK;
    long idle_ns = 0;
    uint64_t last_check = 0;
    while (!stop_requested) {
        long n = recording_round(&rec, false);
        if (n < 0) {
            ht_cli_error("collect", "out of memory while collecting");
            status = HT_EXIT_FAILURE;
            break;
        }
        uint64_t now = ht_now_ns();
        if (now - last_check > 100000000u) {
            ht_collector_check_owners(rec.collector);
            last_check = now;
            if (ht_process_gone((pid_t)pid) && ht_collector_active_slots(rec.collector) == 0)
                break;
        }
        recording_pause(&rec, n, &idle_ns);
    }
    ht_collector_check_owners(rec.collector);
    if (recording_round(&rec, true) < 0)
        status = HT_EXIT_FAILURE;
    if (recording_finish(&rec, quiet) != HT_EXIT_OK)
        status = HT_EXIT_FAILURE;
    return status;
}
