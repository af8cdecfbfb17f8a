/* Standalone mode: a program started by another tool (a service manager, a
 * test harness) with HEAPTRAIL_OUTPUT=FILE and the preload library, but not
 * under `heaptrail record`, starts its own collector: `heaptrail collect`,
 * detached (double fork, own session) so that it outlives the program and is
 * never one of its children. The collector hands back the session's path,
 * which goes into HEAPTRAIL_SESSION so that the program's children join the
 * same session. FILE may contain %p, replaced by the process id. */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload/real.h"
#include "trace/session.h"

/* The heaptrail program: HEAPTRAIL_COLLECTOR, else ../bin/heaptrail beside
 * this library. */
static bool find_collector(char *out, size_t len)
{
    const char *env = getenv("HEAPTRAIL_COLLECTOR");
    if (env && *env) {
        snprintf(out, len, "%s", env);
        return access(out, X_OK) == 0;
    }
    Dl_info info;
    if (!dladdr((void *)find_collector, &info) || !info.dli_fname)
        return false;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", info.dli_fname);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return false;
    *slash = '\0';
    int n = snprintf(out, len, "%s/../bin/heaptrail", dir);
    return n > 0 && (size_t)n < len && access(out, X_OK) == 0;
}

static void expand_pid(const char *pattern, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < len; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            o += (size_t)snprintf(out + o, len - o, "%d", (int)getpid());
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o < len ? o : len - 1] = '\0';
}

/* The collector's environment: ours without the variables that would trace
 * it or point it at a session. */
static char **collector_environment(void)
{
    extern char **environ;
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 1, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
            strncmp(environ[i], "HEAPTRAIL_", 10) != 0)
            env[k++] = environ[i];
    return env;
}

void ht_standalone_start(void)
{
    const char *output = getenv(HT_OUTPUT_ENV);
    if (!output || !*output || getenv(HT_SESSION_ENV))
        return;
    char program[PATH_MAX], path[PATH_MAX], pid[16], fdnum[16];
    if (!find_collector(program, sizeof program)) {
        fprintf(stderr, "heaptrail: %s is set but the heaptrail program was not found "
                        "(set HEAPTRAIL_COLLECTOR); not tracing\n", HT_OUTPUT_ENV);
        return;
    }
    expand_pid(output, path, sizeof path);
    int ready[2];
    if (pipe(ready) < 0)
        return;
    fcntl(ready[0], F_SETFD, FD_CLOEXEC);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(fdnum, sizeof fdnum, "%d", ready[1]);
    char **env = collector_environment();
    pid_t first = env ? fork() : -1;
    if (first == 0) {
        setsid();
        if (fork() != 0)
            _exit(0); /* the collector is reparented: never the program's child */
        char *argv[] = {program, "collect", "-q", "-o", path, "--pid", pid,
                        "--ready-fd", fdnum, NULL};
        execve(program, argv, env);
        _exit(127);
    }
    close(ready[1]);
    if (first > 0)
        waitpid(first, NULL, 0);
    free(env);
    char session[256];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof session - 1 && (r = read(ready[0], session + got, sizeof session - 1 - got)) > 0)
        got += (size_t)r;
    close(ready[0]);
    session[got] = '\0';
    if (got == 0) {
        fprintf(stderr, "heaptrail: the collector for %s did not start; not tracing\n", path);
        return;
    }
    setenv(HT_SESSION_ENV, session, 1);
}
