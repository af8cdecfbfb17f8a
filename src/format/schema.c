/* The built-in descriptor table and the descriptor table's serialized form. */
#include "schema.h"

#include <stdio.h>
#include <string.h>

#include "bytes.h"

#define OFF(member) ((int32_t)offsetof(ht_event, u.member))
#define F(nm, ty, co, member) {nm, HT_FT_##ty, HT_CODEC_##co, OFF(member), -1}

static const ht_event_desc builtin[] = {
    {HT_EVENT_HEAP_ALLOC, 1, HT_DESC_HAS_STACK, "alloc", 4,
     {F("HeapHandle", U64, MRU, Alloc.HeapHandle), F("Size", U64, SIZE, Alloc.Size),
      F("Address", U64, ADDRESS, Alloc.Address), F("Source", U32, VARINT, Alloc.Source)},
     true},
    {HT_EVENT_HEAP_FREE, 1, HT_DESC_HAS_STACK, "free", 3,
     {F("HeapHandle", U64, MRU, Free.HeapHandle), F("Address", U64, ADDRESS, Free.Address),
      F("Source", U32, VARINT, Free.Source)},
     true},
    {HT_EVENT_HEAP_REALLOC, 1, HT_DESC_HAS_STACK, "realloc", 6,
     {F("HeapHandle", U64, MRU, Realloc.HeapHandle),
      F("NewAddress", U64, ADDRESS, Realloc.NewAddress),
      F("OldAddress", U64, ADDRESS, Realloc.OldAddress), F("NewSize", U64, SIZE, Realloc.NewSize),
      F("OldSize", U64, SIZE, Realloc.OldSize), F("Source", U32, VARINT, Realloc.Source)},
     true},
    {HT_EVENT_HEAP_CREATE, 1, HT_DESC_HAS_STACK, "heap_create", 2,
     {F("HeapHandle", U64, MRU, Create.HeapHandle), F("HeapFlags", U32, VARINT, Create.HeapFlags)},
     true},
    {HT_EVENT_HEAP_DESTROY, 1, HT_DESC_HAS_STACK, "heap_destroy", 1,
     {F("HeapHandle", U64, MRU, Handle.HeapHandle)}, true},
    {HT_EVENT_HEAP_EXPAND, 1, 0, "heap_expand", 7,
     {F("HeapHandle", U64, MRU, Expand.HeapHandle),
      F("CommittedSize", U64, VARINT, Expand.CommittedSize),
      F("CommitAddress", U64, DELTA, Expand.CommitAddress),
      F("FreeSpace", U64, VARINT, Expand.FreeSpace),
      F("CommittedSpace", U64, VARINT, Expand.CommittedSpace),
      F("ReservedSpace", U64, VARINT, Expand.ReservedSpace),
      F("NoOfUCRs", U32, VARINT, Expand.NoOfUCRs)},
     true},
    {HT_EVENT_HEAP_SNAPSHOT, 1, 0, "heap_snapshot", 5,
     {F("HeapHandle", U64, MRU, SnapShot.HeapHandle),
      F("FreeSpace", U64, VARINT, SnapShot.FreeSpace),
      F("CommittedSpace", U64, VARINT, SnapShot.CommittedSpace),
      F("ReservedSpace", U64, VARINT, SnapShot.ReservedSpace),
      F("HeapFlags", U32, VARINT, SnapShot.HeapFlags)},
     true},
    {HT_EVENT_HEAP_CONTRACT, 1, 0, "heap_contract", 7,
     {F("HeapHandle", U64, MRU, Contract.HeapHandle),
      F("DeCommittedSize", U64, VARINT, Contract.DeCommittedSize),
      F("DeCommitAddress", U64, DELTA, Contract.DeCommitAddress),
      F("FreeSpace", U64, VARINT, Contract.FreeSpace),
      F("CommittedSpace", U64, VARINT, Contract.CommittedSpace),
      F("ReservedSpace", U64, VARINT, Contract.ReservedSpace),
      F("NoOfUCRs", U32, VARINT, Contract.NoOfUCRs)},
     true},
    {HT_EVENT_HEAP_LOCK, 1, 0, "heap_lock", 1, {F("HeapHandle", U64, MRU, Handle.HeapHandle)}, true},
    {HT_EVENT_HEAP_UNLOCK, 1, 0, "heap_unlock", 1, {F("HeapHandle", U64, MRU, Handle.HeapHandle)},
     true},
    {HT_EVENT_HEAP_VALIDATE, 1, 0, "heap_validate", 1,
     {F("HeapHandle", U64, MRU, Handle.HeapHandle)}, true},
    {HT_EVENT_HEAP_WALK, 1, 0, "heap_walk", 1, {F("HeapHandle", U64, MRU, Handle.HeapHandle)}, true},
    {HT_EVENT_PROCESS_START, 1, HT_DESC_HAS_CPU, "process_start", 3,
     {F("ParentPid", U32, VARINT, ProcessStart.ParentPid),
      F("Executable", STR, BLOB, ProcessStart.Executable),
      F("CommandLine", STR, BLOB, ProcessStart.CommandLine)},
     true},
    {HT_EVENT_PROCESS_EXIT, 1, 0, "process_exit", 2,
     {F("ExitStatus", I32, ZIGZAG, ProcessExit.ExitStatus),
      F("KnownStatus", U32, VARINT, ProcessExit.KnownStatus)},
     true},
    {HT_EVENT_THREAD_START, 1, HT_DESC_HAS_CPU, "thread_start", 1,
     {F("ParentTid", U32, VARINT, ThreadStart.ParentTid)}, true},
    {HT_EVENT_THREAD_EXIT, 1, 0, "thread_exit", 0, {{"", 0, 0, 0, 0}}, true},
    {HT_EVENT_THREAD_NAME, 1, 0, "thread_name", 1, {F("Name", STR, BLOB, ThreadName.Name)}, true},
    {HT_EVENT_MODULE_LOAD, 1, 0, "module_load", 4,
     {F("Base", U64, DELTA, ModuleLoad.Base), F("Size", U64, VARINT, ModuleLoad.Size),
      F("Path", STR, BLOB, ModuleLoad.Path), F("BuildId", STR, BLOB, ModuleLoad.BuildId)},
     true},
    {HT_EVENT_MODULE_UNLOAD, 1, 0, "module_unload", 1,
     {F("Base", U64, DELTA, ModuleUnload.Base)}, true},
    {HT_EVENT_STACK_DEFINE, 1, 0, "stack_define", 2,
     {F("StackId", U32, VARINT, StackDefine.StackId),
      {"Frames", HT_FT_U64_ARRAY, HT_CODEC_FRAMES, OFF(StackDefine.Frames), OFF(StackDefine.Depth)}},
     true},
    {HT_EVENT_OS_MAP, 1, HT_DESC_HAS_STACK, "os_map", 4,
     {F("Address", U64, DELTA, OsMap.Address), F("Length", U64, VARINT, OsMap.Length),
      F("Protection", U32, VARINT, OsMap.Protection), F("Flags", U32, VARINT, OsMap.Flags)},
     true},
    {HT_EVENT_OS_UNMAP, 1, HT_DESC_HAS_STACK, "os_unmap", 2,
     {F("Address", U64, DELTA, OsUnmap.Address), F("Length", U64, VARINT, OsUnmap.Length)}, true},
    {HT_EVENT_OS_REMAP, 1, HT_DESC_HAS_STACK, "os_remap", 4,
     {F("OldAddress", U64, DELTA, OsRemap.OldAddress),
      F("OldLength", U64, VARINT, OsRemap.OldLength),
      F("NewAddress", U64, DELTA, OsRemap.NewAddress),
      F("NewLength", U64, VARINT, OsRemap.NewLength)},
     true},
    {HT_EVENT_LOST, 1, 0, "lost", 2,
     {F("EventsLost", U64, VARINT, Lost.EventsLost), F("Reason", U32, VARINT, Lost.Reason)}, true},
    {HT_EVENT_CLOCK, 1, 0, "clock", 3,
     {F("ClockId", U32, VARINT, Clock.ClockId), F("ResolutionNs", U32, VARINT, Clock.ResolutionNs),
      F("RealtimeOffsetNs", I64, ZIGZAG, Clock.RealtimeOffsetNs)},
     true},
};

#define BUILTIN_COUNT (sizeof builtin / sizeof builtin[0])

const ht_event_desc *ht_schema_builtin(size_t *count)
{
    *count = BUILTIN_COUNT;
    return builtin;
}

int ht_schema_builtin_tag(uint16_t type)
{
    /* A direct map, built on first use: this runs once per written event. */
    static int16_t tag_of[256];
    static int built;
    if (!__atomic_load_n(&built, __ATOMIC_ACQUIRE)) {
        int16_t map[256];
        for (int i = 0; i < 256; i++)
            map[i] = -1;
        for (size_t i = 0; i < BUILTIN_COUNT; i++)
            map[builtin[i].type & 0xFF] = (int16_t)i;
        memcpy(tag_of, map, sizeof map);
        __atomic_store_n(&built, 1, __ATOMIC_RELEASE);
    }
    if (type > 0xFF)
        return -1;
    return tag_of[type];
}

const char *ht_event_type_name(uint16_t type)
{
    int tag = ht_schema_builtin_tag(type);
    return tag < 0 ? NULL : builtin[tag].name;
}

const char *ht_source_name(uint32_t source)
{
    switch (source) {
    case MEMORY_FROM_LOOKASIDE: return "lookaside";
    case MEMORY_FROM_LOWFRAG: return "lowfrag";
    case MEMORY_FROM_MAINPATH: return "mainpath";
    case MEMORY_FROM_SLOWPATH: return "slowpath";
    case MEMORY_FROM_INVALID: return "invalid";
    case MEMORY_FROM_SEGMENT_HEAP: return "segmentheap";
    default: return "unknown";
    }
}

static bool put_name(ht_buf *out, const char *name)
{
    size_t n = strlen(name);
    uint8_t len = (uint8_t)n;
    return ht_buf_append(out, &len, 1) && ht_buf_append(out, name, n);
}

bool ht_schema_serialize(const ht_event_desc *descs, size_t count, ht_buf *out)
{
    if (!ht_buf_put_u16(out, (uint16_t)count))
        return false;
    for (size_t i = 0; i < count; i++) {
        const ht_event_desc *d = &descs[i];
        uint8_t head[2] = {d->version, d->flags};
        if (!ht_buf_put_u16(out, d->type) || !ht_buf_append(out, head, 2) ||
            !put_name(out, d->name) || !ht_buf_append(out, &d->field_count, 1))
            return false;
        for (unsigned f = 0; f < d->field_count; f++) {
            uint8_t tc[2] = {d->fields[f].type, d->fields[f].codec};
            if (!put_name(out, d->fields[f].name) || !ht_buf_append(out, tc, 2))
                return false;
        }
    }
    return true;
}

static bool codec_fits(uint8_t type, uint8_t codec)
{
    if (type < HT_FT_U8 || type > HT_FT_U64_ARRAY || codec < HT_CODEC_VARINT ||
        codec > HT_CODEC_FRAMES)
        return false;
    if (type == HT_FT_STR)
        return codec == HT_CODEC_BLOB;
    if (type == HT_FT_U64_ARRAY)
        return codec == HT_CODEC_FRAMES;
    return codec != HT_CODEC_BLOB && codec != HT_CODEC_FRAMES;
}

static bool get_name(ht_cursor *c, char *dst)
{
    uint8_t len = ht_get_u8(c);
    const unsigned char *p = ht_get_bytes(c, len);
    if (!p || len >= HT_MAX_NAME)
        return false;
    memcpy(dst, p, len);
    dst[len] = '\0';
    return memchr(dst, '\0', len) == NULL;
}

/* Give a parsed descriptor the struct offsets of the built-in type it matches. */
static void bind_builtin(ht_event_desc *d)
{
    d->known = false;
    for (unsigned f = 0; f < d->field_count; f++)
        d->fields[f].offset = d->fields[f].count_offset = -1;
    int tag = ht_schema_builtin_tag(d->type);
    if (tag < 0 || strcmp(builtin[tag].name, d->name) != 0)
        return;
    const ht_event_desc *b = &builtin[tag];
    d->known = true;
    for (unsigned f = 0; f < d->field_count; f++)
        for (unsigned g = 0; g < b->field_count; g++)
            if (strcmp(d->fields[f].name, b->fields[g].name) == 0 &&
                d->fields[f].type == b->fields[g].type) {
                d->fields[f].offset = b->fields[g].offset;
                d->fields[f].count_offset = b->fields[g].count_offset;
            }
}

bool ht_schema_parse(const void *data, size_t len, ht_event_desc *descs, size_t *count,
                     char *err, size_t errlen)
{
    ht_cursor c = ht_cursor_make(data, len);
    size_t n = ht_get_u16(&c);
    if (!c.ok || n > HT_MAX_EVENT_TYPES) {
        snprintf(err, errlen, "descriptor table: bad count %zu", n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        ht_event_desc *d = &descs[i];
        memset(d, 0, sizeof *d);
        d->type = ht_get_u16(&c);
        d->version = ht_get_u8(&c);
        d->flags = ht_get_u8(&c);
        if (!get_name(&c, d->name)) {
            snprintf(err, errlen, "descriptor %zu: bad name", i);
            return false;
        }
        d->field_count = ht_get_u8(&c);
        if (!c.ok || d->field_count > HT_EVENT_MAX_FIELDS) {
            snprintf(err, errlen, "descriptor %zu (%s): bad field count", i, d->name);
            return false;
        }
        for (unsigned f = 0; f < d->field_count; f++) {
            ht_field_desc *fd = &d->fields[f];
            if (!get_name(&c, fd->name)) {
                snprintf(err, errlen, "descriptor %zu (%s): field %u: bad name", i, d->name, f);
                return false;
            }
            fd->type = ht_get_u8(&c);
            fd->codec = ht_get_u8(&c);
            if (!c.ok || !codec_fits(fd->type, fd->codec)) {
                snprintf(err, errlen, "descriptor %zu (%s): field %s: bad type %u / codec %u", i,
                         d->name, fd->name, fd->type, fd->codec);
                return false;
            }
        }
        bind_builtin(d);
    }
    if (!c.ok) {
        snprintf(err, errlen, "descriptor table: truncated");
        return false;
    }
    *count = n;
    return true;
}
