/* Times on the command line (--from, --to, --at): an offset from the start
 * of the recording, as the text output of dump shows them: a decimal number
 * with an optional unit, s (the default), ms, us or ns: "1.5", "250ms". */
#ifndef HT_CLI_TIME_ARG_H
#define HT_CLI_TIME_ARG_H

#include <stdint.h>

/* Parse s into nanoseconds. Returns 0, or -1 when it is not such a time. */
int ht_cli_parse_time(const char *s, uint64_t *ns);

#endif
