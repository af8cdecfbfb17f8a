/* heaptrail plot: the heap in use over time as an SVG chart
 * (src/export/plot.c draws it). */
#include "cli/cli.h"

const char cmd_plot_usage[] =
    "usage: heaptrail plot -o OUT.svg [--by source|heap] [--width PIXELS] FILE\n"
    "\n"
    "Draw the heap in use over time as an SVG picture: one chart per process image,\n"
    "its live bytes stacked by the allocator path (Source) or by heap, the peak\n"
    "marked. Long traces are drawn in time buckets (about one per pixel), each\n"
    "showing the moment its total was highest, so the output's size does not grow\n"
    "with the trace.\n"
    "\n"
    "  -o, --output OUT   the SVG file to write\n"
    "  --by source|heap   what the layers are (default: source)\n"
    "  --width PIXELS     the picture's width (default 1000)\n"
    "\n"
    "Exit status: 0, 1 damaged trace or output not written, 2 usage error or not a\n"
    "trace.\n";

int cmd_plot(int argc, char **argv) { return ht_cli_export_command("plot", "plot", argc, argv); }
