/* --format pprof: a gzip-compressed profile.proto (the format of Go's pprof,
 * read by Pyroscope, Parca and Google's pprof). One sample per allocation
 * site (process image and call stack) with four values: alloc_objects and
 * alloc_space (the blocks allocated there and their bytes), inuse_objects and
 * inuse_space (those still live when the image ended). Sites come from
 * analysis/sites.h as each image ends; locations, functions and mappings are
 * shared by every site that uses them. Locations are return addresses: their
 * address is the offset in their module, and their lines list the inlined
 * functions first, the function they were inlined into last, as
 * profile.proto asks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "analysis/sites.h"
#include "export/exporter.h"
#include "export/output_file.h"
#include "export/protobuf.h"
#include "export/stack_catalog.h"
#include "symbols/u64map.h"

/* Fields of profile.proto's messages. */
enum { PROFILE_SAMPLE_TYPE = 1, PROFILE_SAMPLE, PROFILE_MAPPING, PROFILE_LOCATION,
       PROFILE_FUNCTION, PROFILE_STRING_TABLE, PROFILE_TIME_NANOS = 9, PROFILE_DURATION_NANOS,
       PROFILE_PERIOD_TYPE, PROFILE_PERIOD, PROFILE_DEFAULT_SAMPLE_TYPE = 14 };
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE, SAMPLE_LABEL };
enum { LABEL_KEY = 1, LABEL_STR, LABEL_NUM };
enum { MAPPING_ID = 1, MAPPING_MEMORY_START, MAPPING_MEMORY_LIMIT, MAPPING_FILE_OFFSET,
       MAPPING_FILENAME, MAPPING_HAS_FUNCTIONS = 7, MAPPING_HAS_FILENAMES,
       MAPPING_HAS_LINE_NUMBERS, MAPPING_HAS_INLINE_FRAMES };
enum { LOCATION_ID = 1, LOCATION_MAPPING_ID, LOCATION_ADDRESS, LOCATION_LINE };
enum { LINE_FUNCTION_ID = 1, LINE_LINE };
enum { FUNCTION_ID = 1, FUNCTION_NAME, FUNCTION_SYSTEM_NAME, FUNCTION_FILENAME };

#define VALUES 4

typedef struct sample {
    size_t first, count; /* in loc_ids */
    uint64_t values[VALUES];
    uint32_t pid;
    uint64_t program; /* string index */
} sample;

typedef struct location {
    uint64_t mapping; /* id, 0: none */
    uint64_t address;
    size_t first, count; /* in lines */
} location;

typedef struct line {
    uint64_t function, number;
} line;

typedef struct function {
    uint64_t name, file; /* string indexes */
} function;

typedef struct mapping {
    uint64_t filename; /* string index */
    uint64_t limit;    /* past the highest offset seen */
} mapping;

/* A growable array of items of one type. */
typedef struct array {
    void *items;
    size_t count, cap;
} array;

struct ht_exporter {
    ht_output_file out;
    ht_stack_catalog *catalog;
    ht_sites *sites;
    array strings;   /* char * (NUL-terminated copies) */
    ht_u64map string_index;
    array samples, loc_ids, locations, lines, functions, mappings;
    ht_u64map location_index, function_index, mapping_index;
    uint64_t sample_type_names[VALUES], objects, space, inuse_space;
    uint64_t start, last;
    int64_t realtime_offset;
    int out_of_memory;
};

static void *push(array *a, size_t item)
{
    if (a->count == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void *p = realloc(a->items, cap * item);
        if (!p)
            return NULL;
        a->items = p;
        a->cap = cap;
    }
    return (char *)a->items + item * a->count++;
}

#define AT(a, type, i) (((type *)(a).items)[i])

/* The index of s in the string table, added when new; 0 (the empty string)
 * when memory ran out, with out_of_memory set. */
static uint64_t string_of(ht_exporter *x, const char *s)
{
    uint64_t h = ht_hash_bytes(s, strlen(s), 0);
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&x->string_index, h, &cursor, &i))
        if (strcmp(AT(x->strings, char *, i), s) == 0)
            return i;
    char *copy = strdup(s);
    char **slot = copy ? push(&x->strings, sizeof(char *)) : NULL;
    if (!slot || ht_u64map_add(&x->string_index, h, (uint32_t)(x->strings.count - 1)) < 0) {
        if (slot)
            x->strings.count--;
        free(copy);
        x->out_of_memory = 1;
        return 0;
    }
    *slot = copy;
    return x->strings.count - 1;
}

static void destroy(ht_exporter *x)
{
    ht_output_abort(&x->out);
    ht_stack_catalog_destroy(x->catalog);
    ht_sites_destroy(x->sites);
    for (size_t i = 0; i < x->strings.count; i++)
        free(AT(x->strings, char *, i));
    array *arrays[] = {&x->strings, &x->samples, &x->loc_ids, &x->locations,
                       &x->lines, &x->functions, &x->mappings};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        free(arrays[i]->items);
    ht_u64map_destroy(&x->string_index);
    ht_u64map_destroy(&x->location_index);
    ht_u64map_destroy(&x->function_index);
    ht_u64map_destroy(&x->mapping_index);
    free(x);
}

static ht_exporter *create(const ht_export_options *o, char *err, size_t errlen)
{
    ht_exporter *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ht_u64map_init(&x->string_index);
    ht_u64map_init(&x->location_index);
    ht_u64map_init(&x->function_index);
    ht_u64map_init(&x->mapping_index);
    ht_sites_filter all = ht_sites_filter_all();
    x->catalog = ht_stack_catalog_create(o->resolve, o->resolve_context);
    x->sites = ht_sites_create(&all);
    x->start = x->last = o->info->StartTimeNs;
    x->realtime_offset = o->info->Clock.RealtimeOffsetNs;
    static const char *const names[VALUES] = {"alloc_objects", "alloc_space", "inuse_objects",
                                              "inuse_space"};
    string_of(x, ""); /* string 0 must be the empty string */
    for (int i = 0; i < VALUES; i++)
        x->sample_type_names[i] = string_of(x, names[i]);
    x->objects = string_of(x, "count");
    x->space = string_of(x, "bytes");
    x->inuse_space = x->sample_type_names[3];
    if (!x->catalog || !x->sites || x->out_of_memory) {
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

static uint64_t function_of(ht_exporter *x, const ht_frame *f)
{
    char buf[128];
    uint64_t name = string_of(x, ht_stack_catalog_frame_name(f, buf, sizeof buf));
    uint64_t file = f->file ? string_of(x, f->file) : 0;
    uint64_t key = name << 32 ^ file;
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&x->function_index, key, &cursor, &i))
        if (AT(x->functions, function, i).name == name &&
            AT(x->functions, function, i).file == file)
            return i + 1;
    function *fn = push(&x->functions, sizeof *fn);
    if (!fn || ht_u64map_add(&x->function_index, key, (uint32_t)(x->functions.count - 1)) < 0) {
        x->out_of_memory = 1;
        return 0;
    }
    *fn = (function){name, file};
    return x->functions.count;
}

static uint64_t mapping_of(ht_exporter *x, const char *module, uint64_t offset)
{
    uint64_t name = string_of(x, module);
    size_t cursor = 0;
    uint32_t i;
    if (ht_u64map_next(&x->mapping_index, name, &cursor, &i)) { /* one per string index */
        mapping *m = &AT(x->mappings, mapping, i);
        if (offset >= m->limit)
            m->limit = offset + 1;
        return i + 1;
    }
    mapping *m = push(&x->mappings, sizeof *m);
    if (!m || ht_u64map_add(&x->mapping_index, name, (uint32_t)(x->mappings.count - 1)) < 0) {
        x->out_of_memory = 1;
        return 0;
    }
    *m = (mapping){name, offset + 1};
    return x->mappings.count;
}

/* The location of one return address: frames[0 .. n-1] are what it
 * resolved to, inlined functions first. */
static uint64_t location_of(ht_exporter *x, const uint32_t *ids, size_t n)
{
    const ht_frame *real = ht_stack_catalog_frame(x->catalog, ids[n - 1]);
    uint64_t mod = real->module ? string_of(x, real->module) : 0;
    uint64_t parts[2] = {mod, real->module_offset};
    uint64_t key = ht_hash_bytes(parts, sizeof parts, 0);
    uint64_t map = real->module ? mapping_of(x, real->module, real->module_offset) : 0;
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&x->location_index, key, &cursor, &i)) {
        const location *l = &AT(x->locations, location, i);
        if (l->mapping == map && l->address == real->module_offset)
            return i + 1;
    }
    size_t first = x->lines.count;
    for (size_t k = 0; k < n; k++) {
        const ht_frame *f = ht_stack_catalog_frame(x->catalog, ids[k]);
        line *ln = push(&x->lines, sizeof *ln);
        if (!ln) {
            x->out_of_memory = 1;
            return 0;
        }
        *ln = (line){function_of(x, f), f->line};
    }
    location *l = push(&x->locations, sizeof *l);
    if (!l || ht_u64map_add(&x->location_index, key, (uint32_t)(x->locations.count - 1)) < 0) {
        x->out_of_memory = 1;
        return 0;
    }
    *l = (location){map, real->module_offset, first, n};
    return x->locations.count;
}

/* A location for a stack that has no frames: a function that says so. */
static uint64_t placeholder_location(ht_exporter *x, const char *what)
{
    ht_frame f = {what, NULL, 0, NULL, 0, 0, 0};
    uint64_t fn = function_of(x, &f);
    uint64_t key = fn | 1ULL << 63;
    size_t cursor = 0;
    uint32_t i;
    while (ht_u64map_next(&x->location_index, key, &cursor, &i)) {
        const location *l = &AT(x->locations, location, i);
        if (!l->mapping && l->count == 1 && AT(x->lines, line, l->first).function == fn)
            return i + 1;
    }
    line *ln = push(&x->lines, sizeof *ln);
    location *l = ln ? push(&x->locations, sizeof *l) : NULL;
    if (!l || ht_u64map_add(&x->location_index, key, (uint32_t)(x->locations.count - 1)) < 0) {
        x->out_of_memory = 1;
        return 0;
    }
    *ln = (line){fn, 0};
    *l = (location){0, 0, x->lines.count - 1, 1};
    return x->locations.count;
}

static int add_site(ht_exporter *x, const ht_site *s, uint64_t program)
{
    uint32_t index, n;
    if (ht_stack_catalog_get(x->catalog, s->pid, s->stack_id, &index) < 0)
        return -1;
    const uint32_t *ids = ht_stack_catalog_frames(x->catalog, index, &n);
    size_t first = x->loc_ids.count;
    if (n == 0) {
        uint64_t *slot = push(&x->loc_ids, sizeof *slot);
        if (!slot)
            return -1;
        *slot = placeholder_location(x, s->stack_id ? "[stack not recorded]" : "[no stack]");
    }
    for (uint32_t k = 0; k < n;) {
        uint32_t end = k;
        while (end + 1 < n && ht_stack_catalog_frame(x->catalog, ids[end])->inlined)
            end++;
        uint64_t *slot = push(&x->loc_ids, sizeof *slot);
        if (!slot)
            return -1;
        *slot = location_of(x, ids + k, end - k + 1);
        k = end + 1;
    }
    sample *sm = push(&x->samples, sizeof *sm);
    if (!sm)
        return -1;
    *sm = (sample){first, x->loc_ids.count - first,
                   {s->allocs, s->bytes, s->leaked_blocks, s->leaked_bytes}, s->pid, program};
    return x->out_of_memory ? -1 : 0;
}

static int end_image(ht_exporter *x, uint32_t pid)
{
    ht_sites_image img;
    if (ht_sites_end_image(x->sites, pid, &img) < 0)
        return -1;
    uint32_t image = img.count ? ht_stack_catalog_image(x->catalog, pid) : 0;
    const char *exe = ht_stack_catalog_image_executable(x->catalog, image);
    const char *slash = strrchr(exe, '/');
    uint64_t program = img.count ? string_of(x, slash ? slash + 1 : exe) : 0;
    int status = 0;
    for (size_t i = 0; i < img.count && status == 0; i++)
        if (img.sites[i].allocs || img.sites[i].leaked_blocks)
            status = add_site(x, &img.sites[i], program);
    free(img.sites);
    return status;
}

static int image_end(ht_exporter *x, uint32_t pid, char *err, size_t errlen)
{
    if (end_image(x, pid) == 0)
        return 0;
    snprintf(err, errlen, "out of memory");
    return -1;
}

static int event(ht_exporter *x, const ht_event *ev, char *err, size_t errlen)
{
    if (ev->Header.TimeStamp > x->last)
        x->last = ev->Header.TimeStamp;
    /* pprof takes the first mapping for the program's: make it the first
     * program's executable. */
    if (!x->mappings.count && ev->Header.Type == HT_EVENT_PROCESS_START &&
        !(ev->Header.Flags & HT_EVENT_FLAG_UNKNOWN_TYPE) && ev->u.ProcessStart.Executable.len) {
        char *exe = strndup(ev->u.ProcessStart.Executable.data, ev->u.ProcessStart.Executable.len);
        if (exe)
            mapping_of(x, exe, 0);
        free(exe);
        if (!exe || x->out_of_memory) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (ht_stack_catalog_event(x->catalog, ev) == 0 && ht_sites_add(x->sites, ev) == 0)
        return 0;
    snprintf(err, errlen, "out of memory");
    return -1;
}

static void value_type(ht_pb *out, ht_pb *tmp, uint32_t field, uint64_t type, uint64_t unit)
{
    ht_pb_clear(tmp);
    ht_pb_uint(tmp, VALUE_TYPE_TYPE, type);
    ht_pb_uint(tmp, VALUE_TYPE_UNIT, unit);
    ht_pb_bytes(out, field, tmp->data, tmp->len);
}

/* The whole Profile message into out. */
static void encode(ht_exporter *x, ht_pb *out)
{
    ht_pb tmp, inner;
    ht_pb_init(&tmp);
    ht_pb_init(&inner);
    uint64_t pid_key = string_of(x, "pid"), program_key = string_of(x, "program");
    for (int i = 0; i < VALUES; i++)
        value_type(out, &tmp, PROFILE_SAMPLE_TYPE, x->sample_type_names[i],
                   i % 2 ? x->space : x->objects);
    for (size_t i = 0; i < x->samples.count; i++) {
        const sample *s = &AT(x->samples, sample, i);
        ht_pb_clear(&tmp);
        ht_pb_packed(&tmp, SAMPLE_LOCATION_ID, &AT(x->loc_ids, uint64_t, s->first), s->count);
        ht_pb_packed(&tmp, SAMPLE_VALUE, s->values, VALUES);
        ht_pb_clear(&inner);
        ht_pb_uint(&inner, LABEL_KEY, pid_key);
        ht_pb_uint(&inner, LABEL_NUM, s->pid);
        ht_pb_bytes(&tmp, SAMPLE_LABEL, inner.data, inner.len);
        if (s->program) {
            ht_pb_clear(&inner);
            ht_pb_uint(&inner, LABEL_KEY, program_key);
            ht_pb_uint(&inner, LABEL_STR, s->program);
            ht_pb_bytes(&tmp, SAMPLE_LABEL, inner.data, inner.len);
        }
        ht_pb_bytes(out, PROFILE_SAMPLE, tmp.data, tmp.len);
    }
    for (size_t i = 0; i < x->mappings.count; i++) {
        const mapping *m = &AT(x->mappings, mapping, i);
        ht_pb_clear(&tmp);
        ht_pb_uint(&tmp, MAPPING_ID, i + 1);
        ht_pb_uint(&tmp, MAPPING_MEMORY_START, 0);
        ht_pb_uint(&tmp, MAPPING_MEMORY_LIMIT, m->limit);
        ht_pb_uint(&tmp, MAPPING_FILENAME, m->filename);
        ht_pb_uint(&tmp, MAPPING_HAS_FUNCTIONS, 1);
        ht_pb_uint(&tmp, MAPPING_HAS_FILENAMES, 1);
        ht_pb_uint(&tmp, MAPPING_HAS_LINE_NUMBERS, 1);
        ht_pb_uint(&tmp, MAPPING_HAS_INLINE_FRAMES, 1);
        ht_pb_bytes(out, PROFILE_MAPPING, tmp.data, tmp.len);
    }
    for (size_t i = 0; i < x->locations.count; i++) {
        const location *l = &AT(x->locations, location, i);
        ht_pb_clear(&tmp);
        ht_pb_uint(&tmp, LOCATION_ID, i + 1);
        if (l->mapping)
            ht_pb_uint(&tmp, LOCATION_MAPPING_ID, l->mapping);
        ht_pb_uint(&tmp, LOCATION_ADDRESS, l->address);
        for (size_t k = 0; k < l->count; k++) {
            const line *ln = &AT(x->lines, line, l->first + k);
            ht_pb_clear(&inner);
            ht_pb_uint(&inner, LINE_FUNCTION_ID, ln->function);
            if (ln->number)
                ht_pb_uint(&inner, LINE_LINE, ln->number);
            ht_pb_bytes(&tmp, LOCATION_LINE, inner.data, inner.len);
        }
        ht_pb_bytes(out, PROFILE_LOCATION, tmp.data, tmp.len);
    }
    for (size_t i = 0; i < x->functions.count; i++) {
        const function *f = &AT(x->functions, function, i);
        ht_pb_clear(&tmp);
        ht_pb_uint(&tmp, FUNCTION_ID, i + 1);
        ht_pb_uint(&tmp, FUNCTION_NAME, f->name);
        ht_pb_uint(&tmp, FUNCTION_SYSTEM_NAME, f->name);
        ht_pb_uint(&tmp, FUNCTION_FILENAME, f->file);
        ht_pb_bytes(out, PROFILE_FUNCTION, tmp.data, tmp.len);
    }
    for (size_t i = 0; i < x->strings.count; i++) {
        const char *s = AT(x->strings, char *, i);
        ht_pb_bytes(out, PROFILE_STRING_TABLE, s, strlen(s));
    }
    ht_pb_uint(out, PROFILE_TIME_NANOS, x->start + (uint64_t)x->realtime_offset);
    ht_pb_uint(out, PROFILE_DURATION_NANOS, x->last - x->start);
    value_type(out, &tmp, PROFILE_PERIOD_TYPE, x->sample_type_names[1], x->space);
    ht_pb_uint(out, PROFILE_PERIOD, 1);
    ht_pb_uint(out, PROFILE_DEFAULT_SAMPLE_TYPE, x->inuse_space);
    if (tmp.failed || inner.failed)
        out->failed = 1;
    ht_pb_free(&tmp);
    ht_pb_free(&inner);
}

/* gzip data into f. 0, or -1 with errno set by the failed write (or 0). */
static int gzip_to(FILE *f, const uint8_t *data, size_t len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip header and trailer around the deflate data. */
    if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    uint8_t buf[65536];
    int status = 0, rc;
    z.next_in = (Bytef *)data;
    do {
        /* avail_in is 32 bits wide: feed a large profile in parts. */
        size_t left = len - (size_t)((const uint8_t *)z.next_in - data);
        z.avail_in = left > (1u << 30) ? 1u << 30 : (uInt)left;
        int flush = left > (1u << 30) ? Z_NO_FLUSH : Z_FINISH;
        do {
            z.next_out = buf;
            z.avail_out = sizeof buf;
            rc = deflate(&z, flush);
            size_t have = sizeof buf - z.avail_out;
            if (have && fwrite(buf, 1, have, f) != have)
                status = -1;
        } while (status == 0 && z.avail_out == 0);
    } while (status == 0 && rc != Z_STREAM_END);
    deflateEnd(&z);
    return status;
}

static int finish(ht_exporter *x, char *err, size_t errlen)
{
    uint32_t open;
    while (ht_sites_next_open(x->sites, &open))
        if (end_image(x, open) < 0) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    ht_pb profile;
    ht_pb_init(&profile);
    encode(x, &profile);
    if (profile.failed || x->out_of_memory) {
        ht_pb_free(&profile);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    errno = 0;
    int r = gzip_to(x->out.fp, profile.data, profile.len);
    ht_pb_free(&profile);
    if (r < 0 || ferror(x->out.fp)) {
        ht_output_error(&x->out, errno, err, errlen);
        return -1;
    }
    return ht_output_commit(&x->out, err, errlen);
}

const ht_export_format ht_export_pprof = {
    .name = "pprof",
    .needs_stacks = 1,
    .create = create,
    .image_end = image_end,
    .event = event,
    .finish = finish,
    .destroy = destroy,
};
