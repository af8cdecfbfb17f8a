/* heaptrail plot: the heap in use over time as an SVG chart, one per process
 * image, its live bytes stacked by Source or by heap, the peak marked.
 *
 * Time is cut into buckets shared by every image; a bucket keeps the moment
 * its image's live bytes were highest (and how they split then), so a peak
 * is never averaged away. When the trace outgrows the buckets their width
 * doubles and neighbours merge, so memory and output stay bounded however
 * long the trace: about two buckets per pixel. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export/exporter.h"
#include "export/live_split.h"
#include "export/output_file.h"
#include "export/stack_catalog.h"
#include "export/svg.h"

#define MAX_LAYERS 8 /* named layers; the rest share one */
#define OTHER MAX_LAYERS
#define LAYER_SLOTS (MAX_LAYERS + 1)
#define MAX_CHARTS 24 /* the images with the highest peaks */
#define LEFT 80
#define RIGHT 190 /* room for the legend */
#define CHART_HEIGHT 170
#define CHART_GAP 70
#define TOP 50

typedef struct bucket {
    uint64_t total;              /* the highest live bytes in the bucket */
    uint64_t layer[LAYER_SLOTS]; /* how they split at that moment */
    int touched;                 /* an event fell in it */
} bucket;

typedef struct image {
    uint32_t pid;
    uint32_t serial;
    uint64_t keys[MAX_LAYERS];
    size_t key_count;
    uint64_t now[LAYER_SLOTS]; /* live bytes per layer now */
    uint64_t total;            /* live bytes now */
    uint64_t peak, peak_time;
    uint64_t first, last; /* its first and last heap event */
    int seen;             /* it had a heap event */
    int retired;          /* it ended (exit or exec) */
    int dropped;          /* its buckets were freed: it cannot be among the charts */
    bucket *buckets;      /* bucket_count of them, allocated on its first event */
} image;

struct ht_exporter {
    ht_output_file out;
    enum ht_export_split split;
    unsigned width;
    const char *trace_path;
    uint64_t start;        /* trace clock of bucket 0 */
    uint64_t bucket_ns;    /* width of a bucket */
    size_t bucket_count;   /* buckets per image */
    uint64_t end;          /* the last heap event */
    ht_live_split *live;
    ht_stack_catalog *images_by_pid; /* image numbering only (no stacks) */
    image *images;                    /* by serial - 1 */
    size_t image_count, image_cap;
};

static void destroy(ht_exporter *x)
{
    ht_output_abort(&x->out);
    ht_live_split_destroy(x->live);
    ht_stack_catalog_destroy(x->images_by_pid);
    for (size_t i = 0; i < x->image_count; i++)
        free(x->images[i].buckets);
    free(x->images);
    free(x);
}

static ht_exporter *create(const ht_export_options *o, char *err, size_t errlen)
{
    ht_exporter *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->split = o->split;
    x->width = o->width;
    x->trace_path = o->trace_path;
    x->start = o->info->StartTimeNs;
    x->bucket_ns = 1000;
    /* A bucket per pixel of the chart's width. */
    x->bucket_count = (size_t)(o->width - LEFT - RIGHT);
    x->live = ht_live_split_create(o->split);
    x->images_by_pid = ht_stack_catalog_create(NULL, NULL);
    if (!x->live || !x->images_by_pid) {
        snprintf(err, errlen, "out of memory");
        destroy(x);
        return NULL;
    }
    if (ht_output_open(&x->out, o->output, err, errlen) < 0) {
        destroy(x);
        return NULL;
    }
    return x;
}

static image *image_of(ht_exporter *x, uint32_t pid)
{
    uint32_t serial = ht_stack_catalog_image(x->images_by_pid, pid);
    if (!serial)
        return NULL;
    while (x->image_count < serial) {
        if (x->image_count == x->image_cap) {
            size_t cap = x->image_cap ? x->image_cap * 2 : 16;
            image *grown = realloc(x->images, cap * sizeof *grown);
            if (!grown)
                return NULL;
            x->images = grown;
            x->image_cap = cap;
        }
        image *im = &x->images[x->image_count++];
        memset(im, 0, sizeof *im);
        im->serial = (uint32_t)x->image_count;
        im->pid = ht_stack_catalog_image_pid(x->images_by_pid, im->serial);
    }
    return &x->images[serial - 1];
}

/* The layer of key in im: for Sources their own fixed layer (the same
 * colour in every chart), for heaps the first ones met; OTHER when there is
 * none. */
static size_t layer_of(const ht_exporter *x, image *im, uint64_t key)
{
    if (x->split == HT_SPLIT_SOURCE)
        return key >= 1 && key <= MAX_LAYERS ? (size_t)key - 1 : OTHER;
    for (size_t i = 0; i < im->key_count; i++)
        if (im->keys[i] == key)
            return i;
    if (im->key_count == MAX_LAYERS)
        return OTHER;
    im->keys[im->key_count] = key;
    return im->key_count++;
}

/* Double the width of the buckets: each pair becomes one, keeping the
 * higher of the two moments. */
static void widen(ht_exporter *x)
{
    for (size_t i = 0; i < x->image_count; i++) {
        bucket *b = x->images[i].buckets;
        if (!b)
            continue;
        for (size_t k = 0; k < x->bucket_count / 2; k++) {
            const bucket *l = &b[2 * k], *r = &b[2 * k + 1];
            const bucket *keep = !r->touched ? l : !l->touched ? r : r->total > l->total ? r : l;
            b[k] = *keep;
        }
        memset(b + x->bucket_count / 2, 0, (x->bucket_count - x->bucket_count / 2) * sizeof *b);
    }
    x->bucket_ns *= 2;
}

static int heap_event(ht_exporter *x, const ht_event *ev)
{
    const ht_event_header *h = &ev->Header;
    ht_live_change c;
    if (ht_live_split_event(x->live, ev, &c) < 0)
        return -1;
    image *im = image_of(x, h->ProcessId);
    if (!im)
        return -1;
    if (im->dropped) /* events after its end, in a damaged trace */
        return 0;
    if (!im->buckets && !(im->buckets = calloc(x->bucket_count, sizeof *im->buckets)))
        return -1;
    for (size_t i = 0; i < c.count; i++) {
        size_t layer = layer_of(x, im, c.keys[i]);
        if (layer != OTHER)
            im->now[layer] = c.live[i];
    }
    /* OTHER holds whatever the named layers do not. */
    uint64_t named = 0;
    for (size_t i = 0; i < MAX_LAYERS; i++)
        named += im->now[i];
    im->now[OTHER] = c.process_live >= named ? c.process_live - named : 0;
    im->total = c.process_live;
    uint64_t t = h->TimeStamp > x->start ? h->TimeStamp - x->start : 0;
    if (!im->seen || h->TimeStamp < im->first)
        im->first = h->TimeStamp;
    if (!im->seen || h->TimeStamp > im->last)
        im->last = h->TimeStamp;
    if (h->TimeStamp > x->end)
        x->end = h->TimeStamp;
    im->seen = 1;
    if (im->total > im->peak) {
        im->peak = im->total;
        im->peak_time = h->TimeStamp;
    }
    while (t / x->bucket_ns >= x->bucket_count)
        widen(x);
    bucket *b = &im->buckets[t / x->bucket_ns];
    if (!b->touched || im->total > b->total) {
        b->touched = 1;
        b->total = im->total;
        memcpy(b->layer, im->now, sizeof b->layer);
    }
    return 0;
}

/* An image ended (exit or exec): its blocks need no memory any more, and
 * its buckets are kept only while it may be one of the charts drawn: the
 * MAX_CHARTS ended images with the highest peaks so far. Memory then follows
 * the running images, not the number of processes a trace had. */
static void retire(ht_exporter *x, image *im)
{
    ht_live_split_reset(x->live, im->pid, NULL, NULL);
    if (im->retired)
        return;
    im->retired = 1;
    if (!im->buckets)
        return;
    image *lowest = NULL;
    size_t kept = 0;
    for (size_t i = 0; i < x->image_count; i++) {
        image *o = &x->images[i];
        if (!o->retired || !o->buckets)
            continue;
        kept++;
        if (!lowest || o->peak < lowest->peak ||
            (o->peak == lowest->peak && o->serial > lowest->serial))
            lowest = o;
    }
    if (kept > MAX_CHARTS) {
        free(lowest->buckets);
        lowest->buckets = NULL;
        lowest->dropped = 1;
    }
}

static int event(ht_exporter *x, const ht_event *ev, char *err, size_t errlen)
{
    const ht_event_header *h = &ev->Header;
    if (h->Flags & HT_EVENT_FLAG_UNKNOWN_TYPE)
        return 0;
    uint32_t before = ht_stack_catalog_image(x->images_by_pid, h->ProcessId);
    if (!before || ht_stack_catalog_event(x->images_by_pid, ev) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int execs = ht_stack_catalog_image(x->images_by_pid, h->ProcessId) != before;
    if (execs || h->Type == HT_EVENT_PROCESS_EXIT) {
        image *ended = before <= x->image_count ? &x->images[before - 1] : NULL;
        if (ended)
            retire(x, ended);
        else
            ht_live_split_reset(x->live, h->ProcessId, NULL, NULL);
    }
    if ((h->Type == HT_EVENT_HEAP_ALLOC || h->Type == HT_EVENT_HEAP_FREE ||
         h->Type == HT_EVENT_HEAP_REALLOC) &&
        heap_event(x, ev) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* ---- drawing ---- */

static const char *const palette[LAYER_SLOTS] = {"#4e79a7", "#f28e2b", "#59a14f", "#e15759",
                                                 "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
                                                 "#9c755f"};

static const char *layer_name(const ht_exporter *x, const image *im, size_t layer, char *buf,
                              size_t len)
{
    if (layer == OTHER)
        return x->split == HT_SPLIT_HEAP ? "other heaps" : "other";
    if (x->split == HT_SPLIT_SOURCE)
        return ht_source_name((uint32_t)layer + 1);
    uint64_t key = im->keys[layer];
    if (key == HT_HEAP_GLIBC_MAIN_ARENA)
        return "main arena";
    if (key == HT_HEAP_GLIBC_MMAPPED)
        return "mmapped chunks";
    if (key == HT_HEAP_UNKNOWN)
        return "unknown heap";
    snprintf(buf, len, "heap 0x%" PRIx64, key);
    return buf;
}

/* A round step for an axis of range (at least 1) with about ticks ticks: 1,
 * 2 or 5 times a power of ten, or of 1024 for bytes (steps of KiB and MiB
 * read better). In doubles: a damaged trace's figures may be near 2^64. */
static double nice_step(double range, unsigned ticks, int binary)
{
    double raw = range / ticks;
    double base = binary ? 1024 : 10, power = 1;
    while (power * base <= raw)
        power *= base;
    static const double mult[] = {1, 2, 5, 10, 20, 50, 100, 200, 500};
    for (size_t i = 0; i < sizeof mult / sizeof mult[0]; i++)
        if (power * mult[i] >= raw)
            return power * mult[i];
    return power * base;
}

static int by_peak(const void *a, const void *b)
{
    const image *x = *(image *const *)a, *y = *(image *const *)b;
    if (x->peak != y->peak)
        return x->peak < y->peak ? 1 : -1;
    return (x->serial > y->serial) - (x->serial < y->serial);
}

/* A height in tenths of a pixel (finer steps cannot be seen), kept inside
 * the chart whatever a damaged trace's figures. */
static long tenths(double y, double top)
{
    if (!(y >= top))
        y = top;
    if (y > top + CHART_HEIGHT)
        y = top + CHART_HEIGHT;
    return (long)(y * 10 + 0.5);
}

/* Whether a layer holds bytes at some moment shown. */
static int layer_used(const image *im, size_t layer, size_t first, size_t last)
{
    for (size_t i = first; i <= last; i++)
        if (im->buckets[i].touched && im->buckets[i].layer[layer])
            return 1;
    return 0;
}

/* One chart; shown, upper and lower are scratch arrays of bucket_count. */
static void draw_chart(FILE *f, const ht_exporter *x, const image *im, double top,
                       const bucket **shown, long *upper, long *lower)
{
    double plot_w = x->width - LEFT - RIGHT, plot_h = CHART_HEIGHT;
    uint64_t span = x->end > x->start ? x->end - x->start : 1;
    double ystep = nice_step(im->peak ? (double)im->peak : 1, 4, 1);
    double ymax = ceil((im->peak ? (double)im->peak : 1) / ystep) * ystep;
    char a[64], b[64];
    const char *exe = ht_stack_catalog_image_executable(x->images_by_pid, im->serial);
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"13\" font-weight=\"bold\">pid %" PRIu32 " ",
            LEFT, top - 22, im->pid);
    ht_svg_escape(f, exe, strlen(exe));
    fprintf(f, "%s \xE2\x80\x94 peak %s</text>\n",
            ht_stack_catalog_image_exec(x->images_by_pid, im->serial) ? " (after exec)" : "",
            ht_svg_bytes(im->peak, a, sizeof a));
    /* Axes and grid. */
    fprintf(f, "<g stroke=\"#ccc\" stroke-width=\"1\">\n");
    for (double v = 0; v <= ymax * 1.0001; v += ystep) {
        double y = top + plot_h - v / ymax * plot_h;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", LEFT, y,
                LEFT + plot_w, y);
    }
    fputs("</g>\n", f);
    for (double v = 0; v <= ymax * 1.0001; v += ystep) {
        double y = top + plot_h - v / ymax * plot_h;
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"11\">%s</text>\n",
                LEFT - 6, y + 4, ht_svg_bytes(v < 1.8e19 ? (uint64_t)v : UINT64_MAX, a, sizeof a));
    }
    double xstep = nice_step((double)span, 6, 0);
    for (double t = 0; t <= (double)span; t += xstep) {
        double px = LEFT + t / (double)span * plot_w;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\">%s</text>\n",
                px, top + plot_h, px, top + plot_h + 4, px, top + plot_h + 16,
                ht_svg_duration(t < 1.8e19 ? (uint64_t)t : UINT64_MAX, b, sizeof b));
    }
    fprintf(f,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>"
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            LEFT, top + plot_h, LEFT + plot_w, top + plot_h, LEFT, top, LEFT, top + plot_h);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"11\" "
               "fill=\"#555\">time since the recording started</text>\n",
            LEFT + plot_w / 2, top + plot_h + 32);
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" fill=\"#555\" "
               "transform=\"rotate(-90 %d %.1f)\" text-anchor=\"middle\">live heap bytes</text>\n",
            16, top + plot_h / 2, 16, top + plot_h / 2);
    /* The layers: step outlines over the image's buckets, from its first
     * bucket to its last; a bucket without events shows the one before. A
     * run of equal heights is one horizontal line, so a quiet heap costs
     * little output. */
    size_t first = (size_t)((im->first > x->start ? im->first - x->start : 0) / x->bucket_ns);
    size_t last = (size_t)((im->last > x->start ? im->last - x->start : 0) / x->bucket_ns);
    if (last >= x->bucket_count)
        last = x->bucket_count - 1;
    if (first > last)
        first = last;
    double bx = (double)x->bucket_ns / (double)span * plot_w;
    const bucket *held = NULL;
    for (size_t i = first; i <= last; i++) {
        if (im->buckets[i].touched)
            held = &im->buckets[i];
        shown[i - first] = held;
    }
    size_t n = last - first + 1;
    for (size_t layer = 0; layer < LAYER_SLOTS; layer++) {
        if (!layer_used(im, layer, first, last))
            continue;
        for (size_t i = 0; i < n; i++) {
            uint64_t below = 0;
            for (size_t l = 0; shown[i] && l < layer; l++)
                below += shown[i]->layer[l];
            uint64_t above = below + (shown[i] ? shown[i]->layer[layer] : 0);
            lower[i] = tenths(top + plot_h - (double)below / ymax * plot_h, top);
            upper[i] = tenths(top + plot_h - (double)above / ymax * plot_h, top);
        }
        double x0 = LEFT + (double)first * bx;
        double xend = LEFT + (double)(last + 1) * bx;
        if (xend > LEFT + plot_w)
            xend = LEFT + plot_w;
        fprintf(f, "<path fill=\"%s\" fill-opacity=\"0.85\" stroke=\"none\" d=\"M%.1f %.1f",
                palette[layer], x0, upper[0] / 10.0);
        for (size_t i = 1; i < n; i++)
            if (upper[i] != upper[i - 1])
                fprintf(f, "H%.1fV%.1f", x0 + (double)i * bx, upper[i] / 10.0);
        fprintf(f, "H%.1fV%.1f", xend, lower[n - 1] / 10.0);
        for (size_t i = n - 1; i-- > 0;)
            if (lower[i] != lower[i + 1])
                fprintf(f, "H%.1fV%.1f", x0 + (double)(i + 1) * bx, lower[i] / 10.0);
        fprintf(f, "H%.1fZ\"/>\n", x0);
    }
    /* The peak. */
    uint64_t peak_at = im->peak_time > x->start ? im->peak_time - x->start : 0;
    double px = LEFT + (double)peak_at / (double)span * plot_w;
    double py = top + plot_h - (double)im->peak / ymax * plot_h;
    int right_half = px > LEFT + plot_w / 2; /* the label goes to the left of the line */
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c00\" "
            "stroke-dasharray=\"4 3\"/><circle class=\"peak\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" "
            "fill=\"#c00\"><title>peak: %" PRIu64 " bytes at %" PRIu64 " ns</title></circle>"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" fill=\"#c00\" text-anchor=\"%s\">"
            "peak %s at %s</text>\n",
            px, top, px, top + plot_h, px, py, im->peak, peak_at, px + (right_half ? -6 : 6),
            top - 6, right_half ? "end" : "start", ht_svg_bytes(im->peak, a, sizeof a),
            ht_svg_duration(peak_at, b, sizeof b));
    /* The legend. */
    double ly = top + 4;
    for (size_t layer = 0; layer < LAYER_SLOTS; layer++) {
        if (!layer_used(im, layer, first, last))
            continue;
        char name[64];
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">",
                LEFT + plot_w + 14, ly, palette[layer], LEFT + plot_w + 32, ly + 10);
        const char *label = layer_name(x, im, layer, name, sizeof name);
        ht_svg_escape(f, label, strlen(label));
        fputs("</text>\n", f);
        ly += 17;
    }
}

static int finish(ht_exporter *x, char *err, size_t errlen)
{
    image **shown = malloc((x->image_count + 1) * sizeof *shown);
    if (!shown) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    size_t all = 0;
    for (size_t i = 0; i < x->image_count; i++)
        if (x->images[i].seen) {
            all++;
            if (!x->images[i].dropped)
                shown[n++] = &x->images[i];
        }
    qsort(shown, n, sizeof *shown, by_peak);
    if (n > MAX_CHARTS)
        n = MAX_CHARTS;
    FILE *f = x->out.fp;
    unsigned height = TOP + (unsigned)(n ? n : 1) * (CHART_HEIGHT + CHART_GAP) + 20;
    errno = 0;
    ht_svg_begin(f, x->width, height);
    fprintf(f, "<text x=\"%u\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">Heap in use "
               "over time, by %s</text>\n",
            x->width / 2, x->split == HT_SPLIT_HEAP ? "heap" : "Source");
    fprintf(f, "<text x=\"%u\" y=\"40\" text-anchor=\"middle\" fill=\"#555\">", x->width / 2);
    ht_svg_escape(f, x->trace_path, strlen(x->trace_path));
    if (all > n)
        fprintf(f, " \xE2\x80\x94 the %zu images with the highest peaks of %zu", n, all);
    fputs("</text>\n", f);
    if (!n)
        fprintf(f, "<text x=\"%u\" y=\"%d\" text-anchor=\"middle\">The trace has no heap "
                   "events.</text>\n",
                x->width / 2, TOP + 40);
    /* Charts in the order the processes started. */
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            if (shown[k]->serial < shown[i]->serial) {
                image *t = shown[i];
                shown[i] = shown[k];
                shown[k] = t;
            }
    const bucket **held = malloc(x->bucket_count * sizeof *held);
    long *upper = malloc(x->bucket_count * sizeof *upper);
    long *lower = malloc(x->bucket_count * sizeof *lower);
    for (size_t i = 0; held && upper && lower && i < n; i++)
        draw_chart(f, x, shown[i], TOP + 30 + (double)i * (CHART_HEIGHT + CHART_GAP), held, upper,
                   lower);
    int drawn = held && upper && lower;
    free(held);
    free(upper);
    free(lower);
    ht_svg_end(f);
    free(shown);
    if (!drawn) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return ht_output_finish(&x->out, err, errlen);
}

const ht_export_format ht_export_plot = {
    .name = "plot",
    .stdout_ok = 1,
    .create = create,
    .event = event,
    .finish = finish,
    .destroy = destroy,
};
