#include "tracefile.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "format/crc32c.h"

static void need(bool ok)
{
    if (!ok) {
        fprintf(stderr, "tracefile: out of memory\n");
        abort();
    }
}

static void *must(void *p)
{
    need(p != NULL);
    return p;
}

char *tf_tmpdir(void)
{
    /* The tests write thousands of small files: memory beats a disk. */
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char *dir = tf_path(base, "heaptrail-test-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    return dir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

void tf_rmtree(const char *dir) { nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS); }

char *tf_path(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = must(malloc(n));
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

unsigned char *tf_load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    ht_buf b = {0};
    size_t n;
    do {
        need(ht_buf_reserve(&b, 65536));
        n = fread(b.data + b.len, 1, b.cap - b.len, f);
        b.len += n;
    } while (n > 0);
    fclose(f);
    *len = b.len;
    return b.data ? b.data : must(malloc(1));
}

int tf_save(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    const unsigned char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return close(fd);
}

size_t tf_chunks(const unsigned char *file, size_t len, tf_chunk *out, size_t max,
                 uint64_t *trailer)
{
    size_t n = 0;
    uint64_t at = HT_FILE_HEADER_SIZE;
    char why[200];
    while (at + HT_CHUNK_HEADER_SIZE <= len && n < max &&
           ht_chunk_header_unpack(file + at, &out[n].h, why, sizeof why)) {
        out[n].offset = at;
        out[n].end = at + HT_CHUNK_HEADER_SIZE + out[n].h.body_size;
        at = out[n++].end;
    }
    *trailer = at < len && len - at >= 8 && memcmp(file + at, HT_TRAILER_MAGIC, 8) == 0 ? at : len;
    return n;
}

void tf_repack_header(unsigned char *file, tf_chunk *c, const ht_chunk_header *h)
{
    c->h = *h;
    ht_chunk_header_pack(h, file + c->offset);
}

void tf_fix_body_crc(unsigned char *file, tf_chunk *c)
{
    ht_chunk_header h = c->h;
    h.body_crc = ht_crc32c(0, file + c->offset + HT_CHUNK_HEADER_SIZE, h.body_size);
    tf_repack_header(file, c, &h);
}

void tf_put_file_header(ht_buf *out, uint16_t major, uint16_t minor)
{
    unsigned char fh[HT_FILE_HEADER_SIZE] = {0};
    memcpy(fh, HT_FILE_MAGIC, 8);
    ht_store_u16(fh + 8, major);
    ht_store_u16(fh + 10, minor);
    need(ht_buf_append(out, fh, sizeof fh));
}

void tf_put_chunk(ht_buf *out, const ht_chunk_header *hin, bool compress, const void *raw,
                  size_t len)
{
    ht_chunk_header h = *hin;
    const void *body = raw;
    size_t body_len = len;
    void *packed = NULL;
    if (compress) {
        size_t bound = ZSTD_compressBound(len);
        packed = must(malloc(bound));
        body_len = ZSTD_compress(packed, bound, raw, len, 3);
        if (ZSTD_isError(body_len))
            abort();
        body = packed;
    }
    h.compression = compress ? HT_COMPRESS_ZSTD : HT_COMPRESS_NONE;
    h.raw_size = (uint32_t)len;
    h.body_size = (uint32_t)body_len;
    h.body_crc = ht_crc32c(0, body, body_len);
    unsigned char head[HT_CHUNK_HEADER_SIZE];
    ht_chunk_header_pack(&h, head);
    need(ht_buf_append(out, head, sizeof head) && ht_buf_append(out, body, body_len));
    free(packed);
}

void tf_put_meta(ht_buf *meta, uint16_t key, const void *value, uint32_t len)
{
    need(ht_buf_put_u16(meta, key) && ht_buf_put_u32(meta, len) &&
                 ht_buf_append(meta, value, len));
}

void tf_put_trailer(ht_buf *out, uint64_t index_offset, uint64_t chunk_count)
{
    unsigned char t[HT_TRAILER_SIZE];
    memcpy(t, HT_TRAILER_MAGIC, 8);
    ht_store_u64(t + 8, index_offset);
    ht_store_u64(t + 16, chunk_count);
    need(ht_buf_append(out, t, sizeof t));
}

/* Index entries: offset u64, seq u64, pid u32, count u32, ts_first u64, ts_last u64. */
#define INDEX_ENTRY 40

unsigned char *tf_uncompress(const unsigned char *file, size_t len, size_t *out_len)
{
    enum { MAX = 1 << 16 };
    tf_chunk *chunks = must(malloc(MAX * sizeof *chunks));
    uint64_t trailer;
    size_t n = tf_chunks(file, len, chunks, MAX, &trailer);
    uint64_t *moved = must(calloc(n + 1, sizeof *moved));
    ht_buf out = {0}, raw = {0};
    need(ht_buf_append(&out, file, HT_FILE_HEADER_SIZE));
    uint64_t index_at = 0;
    bool ok = trailer < len;
    for (size_t i = 0; ok && i < n; i++) {
        const tf_chunk *c = &chunks[i];
        const unsigned char *body = file + c->offset + HT_CHUNK_HEADER_SIZE;
        raw.len = 0;
        need(ht_buf_reserve(&raw, c->h.raw_size + 1));
        if (c->h.compression == HT_COMPRESS_ZSTD)
            ok = ZSTD_decompress(raw.data, c->h.raw_size, body, c->h.body_size) == c->h.raw_size;
        else
            memcpy(raw.data, body, c->h.raw_size);
        raw.len = c->h.raw_size;
        if (c->h.kind == HT_CHUNK_INDEX) {
            /* Entries point at chunks that may have moved. */
            index_at = out.len;
            for (size_t e = 4; e + INDEX_ENTRY <= raw.len; e += INDEX_ENTRY)
                for (size_t k = 0; k < i; k++)
                    if (chunks[k].offset == ht_load_u64(raw.data + e)) {
                        ht_store_u64(raw.data + e, moved[k]);
                        break;
                    }
        }
        moved[i] = out.len;
        tf_put_chunk(&out, &c->h, false, raw.data, raw.len);
    }
    if (ok) {
        need(ht_buf_append(&out, file + trailer, len - trailer));
        if (index_at)
            ht_store_u64(out.data + out.len - (len - trailer) + 8, index_at);
    }
    free(chunks);
    free(moved);
    ht_buf_free(&raw);
    if (!ok) {
        ht_buf_free(&out);
        return NULL;
    }
    *out_len = out.len;
    return out.data;
}
