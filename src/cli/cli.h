/* The `heaptrail` command: one builtin per subcommand (the git/perf shape).
 * Each builtin lives in its own cmd_NAME.c and is listed in main.c. */
#ifndef HT_CLI_CLI_H
#define HT_CLI_CLI_H

#include <stdio.h>

typedef struct ht_builtin {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;               /* one line for `heaptrail --help` */
    const char *usage;                 /* full help for `heaptrail help NAME` */
} ht_builtin;

/* Exit statuses shared by every subcommand. */
enum {
    HT_EXIT_OK = 0,
    HT_EXIT_FAILURE = 1, /* the work failed (corrupt input, I/O error) */
    HT_EXIT_USAGE = 2,   /* bad command line, or a file that is not a trace */
};

const ht_builtin *ht_find_builtin(const char *name);

/* Print "heaptrail NAME: message" on stderr. */
void ht_cli_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ht_cli_warn(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a usage error for NAME with a hint to its help, return HT_EXIT_USAGE. */
int ht_cli_usage_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Builtins. */
int cmd_record(int argc, char **argv);
extern const char cmd_record_usage[];
int cmd_collect(int argc, char **argv);
extern const char cmd_collect_usage[];
int cmd_info(int argc, char **argv);
extern const char cmd_info_usage[];
int cmd_stats(int argc, char **argv);
extern const char cmd_stats_usage[];
int cmd_dump(int argc, char **argv);
extern const char cmd_dump_usage[];
int cmd_leaks(int argc, char **argv);
extern const char cmd_leaks_usage[];
int cmd_report(int argc, char **argv);
extern const char cmd_report_usage[];
int cmd_diff(int argc, char **argv);
extern const char cmd_diff_usage[];
int cmd_export(int argc, char **argv);
extern const char cmd_export_usage[];
int cmd_flamegraph(int argc, char **argv);
extern const char cmd_flamegraph_usage[];
int cmd_plot(int argc, char **argv);
extern const char cmd_plot_usage[];

/* The reading loop of export, flamegraph and plot (cmd_export.c): parse the
 * options of command name, export FILE in format (NULL: --format says). */
int ht_cli_export_command(const char *name, const char *format, int argc, char **argv);

#endif
