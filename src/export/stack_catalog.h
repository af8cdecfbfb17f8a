/*
 * The call stacks an export shows, each resolved once: a stack is known by
 * its process image and its stack id, and becomes a dense index with a list
 * of frame ids; equal frames (same function, file, line, module, offset)
 * share one id. Formats that write tables of stacks and frames (pprof,
 * heaptrack, sqlite) use the indexes as their ids; the others walk the
 * frames. Memory follows the distinct stacks and frames, never the events.
 *
 * Images: a PROCESS_START of a pid already started (an exec, or a reused
 * pid) begins a new image, whose stack ids are new ones; what a pid wrote
 * before its first PROCESS_START belongs to the image that start begins. Feed every event
 * through ht_stack_catalog_event after the command's stack store has taken
 * it, so that a stack is resolved while its image's definitions are known.
 */
#ifndef HT_EXPORT_STACK_CATALOG_H
#define HT_EXPORT_STACK_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "export/exporter.h"
#include "heaptrail/events.h"
#include "heaptrail/symbols.h"

typedef struct ht_stack_catalog ht_stack_catalog;

/* resolve may be NULL: every stack then has no frames. NULL when memory ran
 * out. */
ht_stack_catalog *ht_stack_catalog_create(ht_frame_resolver resolve, void *context);
void ht_stack_catalog_destroy(ht_stack_catalog *c);

/* Note process starts (new images and their executables). 0, or -1 when
 * memory ran out. */
int ht_stack_catalog_event(ht_stack_catalog *c, const ht_event *event);

/* The image serial of pid's current image (1, 2, ...; a pid never started
 * gets one on first use), or 0 when memory ran out. */
uint32_t ht_stack_catalog_image(ht_stack_catalog *c, uint32_t pid);

/* The executable of an image ("" when its start was not recorded). */
const char *ht_stack_catalog_image_executable(const ht_stack_catalog *c, uint32_t image);

/* Whether an image is an exec: it replaced a started image of its pid. */
int ht_stack_catalog_image_exec(const ht_stack_catalog *c, uint32_t image);

/* The pid of an image. */
uint32_t ht_stack_catalog_image_pid(const ht_stack_catalog *c, uint32_t image);

/* The index of stack_id in pid's current image, resolved the first time.
 * stack_id 0 (no stack recorded) has an index too, with no frames. Returns
 * 0 and sets *index, or -1 when memory ran out. */
int ht_stack_catalog_get(ht_stack_catalog *c, uint32_t pid, uint32_t stack_id, uint32_t *index);

/* How many stacks have indexes (they are 0 .. count-1). */
uint32_t ht_stack_catalog_count(const ht_stack_catalog *c);

/* The frame ids of stack index, innermost first, and their number. */
const uint32_t *ht_stack_catalog_frames(const ht_stack_catalog *c, uint32_t index,
                                        uint32_t *count);

/* The image and the recorded stack id of stack index. */
uint32_t ht_stack_catalog_stack_image(const ht_stack_catalog *c, uint32_t index);
uint32_t ht_stack_catalog_stack_id(const ht_stack_catalog *c, uint32_t index);

/* How many distinct frames there are (ids 0 .. count-1), and one of them.
 * Its strings live as long as the command's symbolizer. */
uint32_t ht_stack_catalog_frame_count(const ht_stack_catalog *c);
const ht_frame *ht_stack_catalog_frame(const ht_stack_catalog *c, uint32_t id);

/* A frame's name for one-line views (folded stacks, flame graphs): the
 * function, else "module+0xOFFSET", else "0xADDRESS". Written into buf. */
const char *ht_stack_catalog_frame_name(const ht_frame *f, char *buf, size_t len);

#endif
