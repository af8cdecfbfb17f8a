/* Trace files as bytes, for the tests that cut, damage or hand-build them:
 * loading and saving, listing the chunks of a file, rewriting chunk headers
 * and bodies with correct checksums, and assembling files chunk by chunk. */
#ifndef HT_TESTS_TRACEFILE_H
#define HT_TESTS_TRACEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/bytes.h"
#include "format/chunk.h"

/* A fresh temporary directory (malloc'ed path), and its removal with all it holds. */
char *tf_tmpdir(void);
void tf_rmtree(const char *dir);

/* malloc'ed "dir/name". */
char *tf_path(const char *dir, const char *name);

unsigned char *tf_load(const char *path, size_t *len);
int tf_save(const char *path, const void *data, size_t len);

typedef struct tf_chunk {
    uint64_t offset; /* of its header */
    uint64_t end;    /* just past its body */
    ht_chunk_header h;
} tf_chunk;

/* The chunks of a well-formed file, in file order (at most max); *trailer is
 * the offset of the end trailer, or the file length when it has none. */
size_t tf_chunks(const unsigned char *file, size_t len, tf_chunk *out, size_t max,
                 uint64_t *trailer);

/* Write h as the header of chunk c, with a checksum that matches. */
void tf_repack_header(unsigned char *file, tf_chunk *c, const ht_chunk_header *h);

/* After bytes of c's body changed: store the body checksum that matches them. */
void tf_fix_body_crc(unsigned char *file, tf_chunk *c);

/* A copy of file with every compressed body stored uncompressed (index and
 * trailer offsets follow). NULL when the file is not well formed. */
unsigned char *tf_uncompress(const unsigned char *file, size_t len, size_t *out_len);

/* Assembling a file: the file header, chunks (zstd-compressed when compress
 * is set), metadata records and the trailer. */
void tf_put_file_header(ht_buf *out, uint16_t major, uint16_t minor);
void tf_put_chunk(ht_buf *out, const ht_chunk_header *h, bool compress, const void *raw,
                  size_t len);
void tf_put_meta(ht_buf *meta, uint16_t key, const void *value, uint32_t len);
void tf_put_trailer(ht_buf *out, uint64_t index_offset, uint64_t chunk_count);

#endif
