#include "cli/frames.h"

#include <inttypes.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/json.h"

void ht_cli_stacks_init(ht_cli_stacks *s)
{
    memset(s, 0, sizeof *s);
    s->options.debug_dirs = s->debug_dirs;
}

int ht_cli_stacks_debug_dir(ht_cli_stacks *s, const char *name, const char *dir)
{
    if (s->options.debug_dir_count == HT_CLI_MAX_DEBUG_DIRS)
        return ht_cli_usage_error(name, "at most %d --debug-dir", HT_CLI_MAX_DEBUG_DIRS);
    s->debug_dirs[s->options.debug_dir_count++] = dir;
    return 0;
}

int ht_cli_stacks_open(ht_cli_stacks *s)
{
    s->store = ht_stacks_create();
    s->symbols = s->store ? ht_symbolizer_create(&s->options) : NULL;
    return s->symbols ? 0 : -1;
}

int ht_cli_stacks_take(ht_cli_stacks *s, const ht_event *ev)
{
    return ht_stacks_add(s->store, ev) < 0 || ht_symbolizer_add_event(s->symbols, ev) < 0 ? -1 : 0;
}

void ht_cli_stacks_close(ht_cli_stacks *s)
{
    ht_symbolizer_destroy(s->symbols);
    ht_stacks_destroy(s->store);
    s->symbols = NULL;
    s->store = NULL;
}

size_t ht_cli_stacks_resolve(ht_cli_stacks *s, uint32_t pid, uint32_t stack_id, ht_frame *out,
                             size_t max)
{
    uint32_t depth;
    const uint64_t *frames = stack_id ? ht_stacks_get(s->store, pid, stack_id, &depth) : NULL;
    size_t n = 0;
    for (uint32_t i = 0; frames && i < depth && n < max; i++)
        /* Every recorded frame is a return address: the call is just before. */
        n += ht_symbolizer_resolve(s->symbols, pid, frames[i], 1, out + n, max - n);
    /* Start at the program's own frame: operator new is not where it allocated. */
    size_t cull = ht_frames_allocator_prefix(out, n);
    if (cull && cull < n) {
        memmove(out, out + cull, (n - cull) * sizeof *out);
        n -= cull;
    }
    return n;
}

void ht_cli_print_frame(FILE *out, const ht_frame *f)
{
    const char *m = f->module ? strrchr(f->module, '/') : NULL;
    fputs(f->function ? f->function : "??", out);
    if (f->file && f->line)
        fprintf(out, " (%s:%" PRIu32 ")", f->file, f->line);
    else if (f->file)
        fprintf(out, " (%s)", f->file);
    fprintf(out, " [%s+0x%" PRIx64 "]%s", m ? m + 1 : f->module ? f->module : "?",
            f->module_offset, f->inlined ? " (inlined)" : "");
}

static void json_or_null(FILE *out, const char *s)
{
    if (s)
        ht_json_put_string(out, s, strlen(s));
    else
        fputs("null", out);
}

void ht_cli_json_frame(FILE *out, const ht_frame *f)
{
    fputs("{\"function\":", out);
    json_or_null(out, f->function);
    fputs(",\"file\":", out);
    json_or_null(out, f->file);
    if (f->line)
        fprintf(out, ",\"line\":%" PRIu32, f->line);
    else
        fputs(",\"line\":null", out);
    fputs(",\"module\":", out);
    json_or_null(out, f->module);
    fprintf(out, ",\"offset\":\"0x%" PRIx64 "\",\"inlined\":%s}", f->module_offset,
            f->inlined ? "true" : "false");
}

void ht_cli_print_site_frames(FILE *out, const ht_frame *f, size_t n, size_t max)
{
    if (!n) {
        fputs("        (no stack)\n", out);
        return;
    }
    size_t shown = max && n > max ? max : n;
    for (size_t i = 0; i < shown; i++) {
        fputs(i ? "        from " : "        at   ", out);
        ht_cli_print_frame(out, &f[i]);
        fputc('\n', out);
    }
    if (shown < n)
        fprintf(out, "        ... %zu more frames\n", n - shown);
}

void ht_cli_json_frames(FILE *out, const ht_frame *f, size_t n)
{
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', out);
        ht_cli_json_frame(out, &f[i]);
    }
    fputc(']', out);
}
