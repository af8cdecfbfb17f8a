/* Stacks resolved once, frames shared: see stack_catalog.h. */
#include "export/stack_catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/idmap.h"
#include "symbols/strtab.h"
#include "symbols/u64map.h"

/* The deepest stack the recorder writes is 1024 return addresses; inlined
 * functions add frames to each. */
#define MAX_FRAMES 4096

typedef struct image {
    uint32_t pid;
    const char *executable; /* interned */
    int started;            /* its PROCESS_START was seen */
    int exec;               /* it replaced an image of the same pid that had started */
} image;

typedef struct stack {
    uint32_t image, stack_id;
    size_t first; /* in frame_ids */
    uint32_t count;
} stack;

struct ht_stack_catalog {
    ht_frame_resolver resolve;
    void *context;
    ht_strtab names;
    ht_idmap pid_image; /* pid -> current image serial */
    image *images;      /* serial - 1 */
    uint32_t image_count;
    size_t image_cap;
    stack *stacks;
    uint32_t stack_count;
    size_t stack_cap;
    ht_u64map stack_index; /* image << 32 | stack id -> stack index */
    uint32_t *frame_ids;
    size_t frame_id_count, frame_id_cap;
    ht_frame *frames;
    uint32_t frame_count;
    size_t frame_cap;
    ht_u64map frame_index; /* hash of a frame -> frame ids */
    ht_frame scratch[MAX_FRAMES];
};

/* Grow an array to hold at least need items (indexes stay below 2^32 - 1:
 * they are 32-bit ids). */
static int grow(void **array, size_t item, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    if (need >= UINT32_MAX)
        return -1;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *p = realloc(*array, n * item);
    if (!p)
        return -1;
    *array = p;
    *cap = n;
    return 0;
}

ht_stack_catalog *ht_stack_catalog_create(ht_frame_resolver resolve, void *context)
{
    ht_stack_catalog *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->resolve = resolve;
    c->context = context;
    ht_strtab_init(&c->names);
    ht_idmap_init(&c->pid_image);
    ht_u64map_init(&c->stack_index);
    ht_u64map_init(&c->frame_index);
    return c;
}

void ht_stack_catalog_destroy(ht_stack_catalog *c)
{
    if (!c)
        return;
    ht_strtab_destroy(&c->names);
    ht_idmap_destroy(&c->pid_image);
    ht_u64map_destroy(&c->stack_index);
    ht_u64map_destroy(&c->frame_index);
    free(c->images);
    free(c->stacks);
    free(c->frame_ids);
    free(c->frames);
    free(c);
}

static uint32_t new_image(ht_stack_catalog *c, uint32_t pid, const char *exe, size_t len)
{
    if (grow((void **)&c->images, sizeof *c->images, &c->image_cap, c->image_count + 1) < 0)
        return 0;
    const char *name = ht_strtab_intern(&c->names, exe, len);
    if (!name)
        return 0;
    uint32_t serial = c->image_count + 1;
    if (ht_idmap_put(&c->pid_image, pid, serial) < 0)
        return 0;
    c->images[c->image_count++] = (image){pid, name, 0, 0};
    return serial;
}

static int serial_known(const ht_stack_catalog *c, uint32_t pid)
{
    uint32_t serial;
    return ht_idmap_get(&c->pid_image, pid, &serial);
}

int ht_stack_catalog_event(ht_stack_catalog *c, const ht_event *ev)
{
    if (ev->Header.Type != HT_EVENT_PROCESS_START ||
        (ev->Header.Flags & HT_EVENT_FLAG_UNKNOWN_TYPE))
        return 0;
    const ht_str *exe = &ev->u.ProcessStart.Executable;
    const char *data = exe->data ? exe->data : "";
    uint32_t serial;
    /* The events a process writes before its start (its first thread,
     * its modules) belong to the image that start begins. */
    if (ht_idmap_get(&c->pid_image, ev->Header.ProcessId, &serial) &&
        !c->images[serial - 1].started) {
        const char *name = ht_strtab_intern(&c->names, data, exe->len);
        if (!name)
            return -1;
        c->images[serial - 1].executable = name;
        c->images[serial - 1].started = 1;
        return 0;
    }
    int exec = serial_known(c, ev->Header.ProcessId);
    serial = new_image(c, ev->Header.ProcessId, data, exe->len);
    if (!serial)
        return -1;
    c->images[serial - 1].started = 1;
    c->images[serial - 1].exec = exec;
    return 0;
}

uint32_t ht_stack_catalog_image(ht_stack_catalog *c, uint32_t pid)
{
    uint32_t serial;
    if (ht_idmap_get(&c->pid_image, pid, &serial))
        return serial;
    return new_image(c, pid, "", 0);
}

const char *ht_stack_catalog_image_executable(const ht_stack_catalog *c, uint32_t serial)
{
    return serial && serial <= c->image_count ? c->images[serial - 1].executable : "";
}

int ht_stack_catalog_image_exec(const ht_stack_catalog *c, uint32_t serial)
{
    return serial && serial <= c->image_count ? c->images[serial - 1].exec : 0;
}

uint32_t ht_stack_catalog_image_pid(const ht_stack_catalog *c, uint32_t serial)
{
    return serial && serial <= c->image_count ? c->images[serial - 1].pid : 0;
}

static uint64_t frame_hash(const ht_frame *f)
{
    /* The symbolizer interns its strings: equal names are equal pointers. */
    uint64_t parts[6] = {(uintptr_t)f->function, (uintptr_t)f->file, (uintptr_t)f->module,
                         f->line, f->module_offset, (uint64_t)f->inlined};
    return ht_hash_bytes(parts, sizeof parts, 0);
}

static int same_frame(const ht_frame *a, const ht_frame *b)
{
    return a->function == b->function && a->file == b->file && a->module == b->module &&
           a->line == b->line && a->module_offset == b->module_offset &&
           a->inlined == b->inlined;
}

/* The id of frame f, added when new; -1 when memory ran out. */
static int64_t frame_id(ht_stack_catalog *c, const ht_frame *f)
{
    uint64_t h = frame_hash(f);
    size_t cursor = 0;
    uint32_t id;
    while (ht_u64map_next(&c->frame_index, h, &cursor, &id))
        if (same_frame(&c->frames[id], f))
            return id;
    if (grow((void **)&c->frames, sizeof *c->frames, &c->frame_cap, c->frame_count + 1) < 0 ||
        ht_u64map_add(&c->frame_index, h, c->frame_count) < 0)
        return -1;
    c->frames[c->frame_count] = *f;
    return c->frame_count++;
}

int ht_stack_catalog_get(ht_stack_catalog *c, uint32_t pid, uint32_t stack_id, uint32_t *index)
{
    uint32_t img = ht_stack_catalog_image(c, pid);
    if (!img)
        return -1;
    uint64_t key = (uint64_t)img << 32 | stack_id;
    size_t cursor = 0;
    if (ht_u64map_next(&c->stack_index, key, &cursor, index))
        return 0;
    size_t n = stack_id && c->resolve ? c->resolve(c->context, pid, stack_id, c->scratch,
                                                    MAX_FRAMES)
                                      : 0;
    if (grow((void **)&c->stacks, sizeof *c->stacks, &c->stack_cap, c->stack_count + 1) < 0 ||
        grow((void **)&c->frame_ids, sizeof *c->frame_ids, &c->frame_id_cap,
             c->frame_id_count + n) < 0)
        return -1;
    size_t first = c->frame_id_count;
    for (size_t i = 0; i < n; i++) {
        int64_t id = frame_id(c, &c->scratch[i]);
        if (id < 0)
            return -1;
        c->frame_ids[first + i] = (uint32_t)id;
    }
    if (ht_u64map_add(&c->stack_index, key, c->stack_count) < 0)
        return -1;
    c->frame_id_count += n;
    c->stacks[c->stack_count] = (stack){img, stack_id, first, (uint32_t)n};
    *index = c->stack_count++;
    return 0;
}

uint32_t ht_stack_catalog_count(const ht_stack_catalog *c) { return c->stack_count; }

const uint32_t *ht_stack_catalog_frames(const ht_stack_catalog *c, uint32_t index,
                                        uint32_t *count)
{
    *count = c->stacks[index].count;
    return c->frame_ids + c->stacks[index].first;
}

uint32_t ht_stack_catalog_stack_image(const ht_stack_catalog *c, uint32_t index)
{
    return c->stacks[index].image;
}

uint32_t ht_stack_catalog_stack_id(const ht_stack_catalog *c, uint32_t index)
{
    return c->stacks[index].stack_id;
}

uint32_t ht_stack_catalog_frame_count(const ht_stack_catalog *c) { return c->frame_count; }

const ht_frame *ht_stack_catalog_frame(const ht_stack_catalog *c, uint32_t id)
{
    return &c->frames[id];
}

const char *ht_stack_catalog_frame_name(const ht_frame *f, char *buf, size_t len)
{
    if (f->function)
        return f->function;
    if (f->module) {
        const char *slash = strrchr(f->module, '/');
        snprintf(buf, len, "%s+0x%" PRIx64, slash ? slash + 1 : f->module, f->module_offset);
    } else {
        snprintf(buf, len, "0x%" PRIx64, f->module_offset);
    }
    return buf;
}
