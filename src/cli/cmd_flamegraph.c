/* heaptrail flamegraph: the call stacks of a trace as an interactive SVG
 * flame graph (src/export/flamegraph.c draws it). */
#include "cli/cli.h"

const char cmd_flamegraph_usage[] =
    "usage: heaptrail flamegraph -o OUT.svg [--weight W] [--width PIXELS]\n"
    "                            [--debug-dir DIR] [--sysroot DIR] FILE\n"
    "\n"
    "Draw the call stacks of the trace FILE as an interactive SVG flame graph: each\n"
    "box a function, as wide as what the stacks through it count, callers below\n"
    "callees; one tower per program. Hover a box for its figures, click it to zoom,\n"
    "click the bottom bar to zoom out, press Ctrl-F (or click Search) to highlight\n"
    "functions by name. The file needs no network.\n"
    "\n"
    "  -o, --output OUT   the SVG file to write\n"
    "  --weight W         bytes (allocated, the default), count (allocations), peak\n"
    "                     (bytes live at the process's peak) or leaked (bytes live\n"
    "                     when the process ended)\n"
    "  --width PIXELS     the picture's width (default 1200)\n"
    "  --debug-dir DIR    also look for separate debug info under DIR (repeatable)\n"
    "  --sysroot DIR      find the recorded modules under DIR\n"
    "\n"
    "Exit status: 0, 1 damaged trace or output not written, 2 usage error or not a\n"
    "trace.\n";

int cmd_flamegraph(int argc, char **argv)
{
    return ht_cli_export_command("flamegraph", "flamegraph", argc, argv);
}
