/* heaptrail flamegraph: the call stacks as an interactive SVG flame graph.
 * Each box is a function, as wide as the weight of the stacks through it,
 * its callers below it; a small inline script shows a box's figures on
 * hover, zooms into a box on click and highlights functions by name. Boxes
 * narrower than a tenth of a pixel are left out, so the file's size follows
 * what can be seen, not the number of stacks. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "export/flamegraph.h"

#include "export/exporter.h"
#include "export/svg.h"
#include "export/weighted_tree.h"

#define FRAME_HEIGHT 16
#define TOP 56    /* title, subtitle and the search button */
#define BOTTOM 28 /* the details line */
#define PAD 10
#define MIN_WIDTH_PX 0.1

/* A warm colour that a name always gets, so that one function keeps its
 * colour from one flame graph to the next. */
static void colour(const char *name, unsigned *r, unsigned *g, unsigned *b)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    *r = 205 + h % 50;
    *g = 70 + (h >> 8) % 160;
    *b = 30 + (h >> 16) % 50;
}

static const char *figure(enum ht_export_weight weight, uint64_t v, char *buf, size_t len)
{
    if (weight == HT_WEIGHT_COUNT)
        snprintf(buf, len, "%" PRIu64 " allocation%s", v, v == 1 ? "" : "s");
    else
        ht_svg_bytes(v, buf, len);
    return buf;
}

static const char *const weight_titles[] = {
    [HT_WEIGHT_BYTES] = "bytes allocated",
    [HT_WEIGHT_COUNT] = "allocations",
    [HT_WEIGHT_PEAK] = "bytes live at each process's peak",
    [HT_WEIGHT_LEAKED] = "bytes leaked",
};

/* The script: hover, zoom and search. Frames carry their place as
 * fractions of the whole (data-x, data-w), their depth (data-d) and name
 * (data-n); the script lays them out again for the zoomed box. */
static const char script[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "(function(){\n"
    "var svg=document.documentElement,W=+svg.getAttribute('width'),PAD=10,SW=W-2*PAD;\n"
    "var frames=Array.prototype.slice.call(document.querySelectorAll('g.f'));\n"
    "var details=document.getElementById('details'),matched=document.getElementById('matched');\n"
    "function fit(g){var r=g.firstElementChild.nextElementSibling,t=r.nextElementSibling;\n"
    " var w=+r.getAttribute('width'),n=g.getAttribute('data-n'),c=Math.floor((w-6)/7);\n"
    " t.setAttribute('x',+r.getAttribute('x')+3);\n"
    " t.textContent=c<3?'':(n.length<=c?n:n.substring(0,c-2)+'..');}\n"
    "function zoom(z){var zx=+z.getAttribute('data-x'),zw=+z.getAttribute('data-w'),"
    "zd=+z.getAttribute('data-d'),e=1e-9;\n"
    " frames.forEach(function(g){var x=+g.getAttribute('data-x'),w=+g.getAttribute('data-w'),"
    "d=+g.getAttribute('data-d'),r=g.firstElementChild.nextElementSibling;\n"
    "  if(d>=zd&&x>=zx-e&&x+w<=zx+zw+e){r.setAttribute('x',PAD+(x-zx)/zw*SW);"
    "r.setAttribute('width',Math.max(0,w/zw*SW-0.5));g.style.display='';}\n"
    "  else if(d<zd&&x<=zx+e&&x+w>=zx+zw-e){r.setAttribute('x',PAD);"
    "r.setAttribute('width',SW-0.5);g.style.display='';}\n"
    "  else g.style.display='none';\n"
    "  fit(g);});}\n"
    "frames.forEach(function(g){\n"
    " g.addEventListener('click',function(){zoom(g);});\n"
    " g.addEventListener('mouseover',function(){details.textContent="
    "g.firstElementChild.textContent;});\n"
    " g.addEventListener('mouseout',function(){details.textContent=' ';});});\n"
    "function search(){var re=prompt('Highlight the functions matching (a regular expression):');\n"
    " if(re===null)return;var rx;try{rx=new RegExp(re);}catch(err){alert(err);return;}\n"
    " var spans=[];frames.forEach(function(g){var r=g.firstElementChild.nextElementSibling;\n"
    "  if(!r.hasAttribute('data-c'))r.setAttribute('data-c',r.getAttribute('fill'));\n"
    "  if(re!==''&&rx.test(g.getAttribute('data-n'))){r.setAttribute('fill','#e040e0');"
    "spans.push([+g.getAttribute('data-x'),+g.getAttribute('data-w')]);}\n"
    "  else r.setAttribute('fill',r.getAttribute('data-c'));});\n"
    " spans.sort(function(a,b){return a[0]-b[0];});var sum=0,end=0;\n"
    " spans.forEach(function(s){var a=Math.max(s[0],end),b=s[0]+s[1];if(b>a){sum+=b-a;end=b;}});\n"
    " matched.textContent=re===''?' ':'Matched: '+(100*sum).toFixed(1)+'%';}\n"
    "document.getElementById('search').addEventListener('click',search);\n"
    "document.addEventListener('keydown',function(e){if((e.ctrlKey||e.metaKey)&&e.key==='f')"
    "{e.preventDefault();search();}});\n"
    "})();\n"
    "]]></script>\n";

/* How a graph is drawn. */
typedef struct style {
    enum ht_export_weight weight;
    unsigned width;
} style;

static void write_frame(FILE *f, const style *x, const ht_frame_node *n, double fx, double fw,
                        uint32_t max_depth, uint64_t total)
{
    double sw = x->width - 2.0 * PAD;
    double px = PAD + fx * sw, pw = fw * sw;
    double y = TOP + (double)(max_depth - n->depth) * FRAME_HEIGHT;
    unsigned r, g, b;
    colour(n->name, &r, &g, &b);
    char fig[64];
    fprintf(f, "<g class=\"f\" data-x=\"%.9g\" data-w=\"%.9g\" data-d=\"%u\" data-n=\"", fx, fw,
            n->depth);
    ht_svg_escape(f, n->name, strlen(n->name));
    fputs("\"><title>", f);
    ht_svg_escape(f, n->name, strlen(n->name));
    fprintf(f, " (%s, %.2f%%)</title>", figure(x->weight, n->total, fig, sizeof fig),
            total ? 100.0 * (double)n->total / (double)total : 0.0);
    fprintf(f,
            "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" height=\"%d\" fill=\"rgb(%u,%u,%u)\" "
            "rx=\"2\"/><text x=\"%.2f\" y=\"%.1f\">",
            px, y, pw > 0.5 ? pw - 0.5 : pw, FRAME_HEIGHT - 1, r, g, b, px + 3,
            y + FRAME_HEIGHT - 4.5);
    int chars = (int)((pw - 6) / 7);
    size_t len = strlen(n->name);
    if (chars >= 3) {
        if (len <= (size_t)chars) {
            ht_svg_escape(f, n->name, len);
        } else {
            ht_svg_escape(f, n->name, (size_t)chars - 2);
            fputs("..", f);
        }
    }
    fputs("</text></g>\n", f);
}

/* Lay out and write the boxes wide enough to see: depth first, each child
 * starting where its previous sibling ended. */
int ht_flamegraph_draw(FILE *f, const ht_frame_tree *t, enum ht_export_weight weight,
                       unsigned width, const char *subtitle)
{
    const style st = {weight, width}, *x = &st;
    const ht_frame_node *n = t->nodes;
    uint64_t total = n[0].total;
    double sw = x->width - 2.0 * PAD;
    double *start = malloc((size_t)t->count * sizeof *start);
    if (!start)
        return -1;
    /* First pass: positions, and the depth of the deepest visible box. */
    uint32_t max_depth = 0;
    start[0] = 0;
    for (uint32_t p = 0; p < t->count; p++) {
        double at = start[p];
        for (uint32_t c = n[p].first_child; c; c = n[c].next_sibling) {
            start[c] = at;
            at += total ? (double)n[c].total / (double)total : 0;
        }
    }
    for (uint32_t i = 0; i < t->count; i++)
        if (total && (double)n[i].total / (double)total * sw >= MIN_WIDTH_PX &&
            n[i].depth > max_depth)
            max_depth = n[i].depth;
    unsigned height = TOP + (max_depth + 1) * FRAME_HEIGHT + BOTTOM;
    ht_svg_begin(f, x->width, height);
    fputs("<style>g.f text{pointer-events:none;font-size:11px}g.f:hover rect{stroke:#000;"
          "stroke-width:0.5}#search{cursor:pointer}g.f{cursor:pointer}</style>\n",
          f);
    fprintf(f, "<text x=\"%u\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">Flame graph: %s"
               "</text>\n",
            x->width / 2, weight_titles[x->weight]);
    fprintf(f, "<text x=\"%u\" y=\"40\" text-anchor=\"middle\" fill=\"#555\">", x->width / 2);
    ht_svg_escape(f, subtitle, strlen(subtitle));
    char fig[64];
    fprintf(f, " \xE2\x80\x94 %s in all</text>\n", figure(x->weight, total, fig, sizeof fig));
    fprintf(f, "<text id=\"search\" x=\"%u\" y=\"22\" text-anchor=\"end\">Search</text>\n",
            x->width - PAD);
    fprintf(f, "<text id=\"matched\" x=\"%u\" y=\"%u\" text-anchor=\"end\"> </text>\n",
            x->width - PAD, height - 10);
    fprintf(f, "<text id=\"details\" x=\"%d\" y=\"%u\"> </text>\n", PAD, height - 10);
    /* Second pass: the boxes, pre-order, skipping what is too narrow (and
     * so everything above it). */
    uint32_t cur = 0;
    for (;;) {
        double fw = total ? (double)n[cur].total / (double)total : 0;
        int visible = total && fw * sw >= MIN_WIDTH_PX;
        if (visible)
            write_frame(f, x, &n[cur], start[cur], fw, max_depth, total);
        if (visible && n[cur].first_child) {
            cur = n[cur].first_child;
            continue;
        }
        while (cur && !n[cur].next_sibling)
            cur = n[cur].parent;
        if (!cur)
            break;
        cur = n[cur].next_sibling;
    }
    fputs(script, f);
    ht_svg_end(f);
    free(start);
    return 0;
}

static int write_flamegraph(FILE *f, const ht_frame_tree *tree, const ht_export_options *o)
{
    return ht_flamegraph_draw(f, tree, o->weight, o->width, o->trace_path);
}

static ht_exporter *create(const ht_export_options *o, char *err, size_t errlen)
{
    return ht_weighted_tree_create(o, write_flamegraph, err, errlen);
}

const ht_export_format ht_export_flamegraph = {
    .name = "flamegraph",
    .stdout_ok = 1,
    .needs_stacks = 1,
    .create = create,
    .image_end = ht_weighted_tree_image_end,
    .event = ht_weighted_tree_event,
    .finish = ht_weighted_tree_finish,
    .destroy = ht_weighted_tree_destroy,
};
