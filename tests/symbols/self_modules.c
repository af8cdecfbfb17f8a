/* The test process's modules and the probe: see self_modules.h. */
#include "self_modules.h"

#include <elf.h>
#include <link.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../programs/own_frame.h"

uint64_t probe_return_address;

OWN_FRAME int probe(int x)
{
    probe_return_address = (uint64_t)(uintptr_t)__builtin_return_address(0);
    return x + 1;
}

#define MAX_SELF_MODULES 256

typedef struct listing {
    self_module *modules;
    size_t count;
} listing;

static void read_build_id(const struct dl_phdr_info *info, self_module *m)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const unsigned char *desc = p + sizeof *nh + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(p + sizeof *nh, "GNU", 4) == 0 && nh->n_descsz <= sizeof m->build_id) {
                memcpy(m->build_id, desc, nh->n_descsz);
                m->build_id_len = nh->n_descsz;
                return;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
}

static int on_module(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    listing *l = data;
    if (l->count == MAX_SELF_MODULES)
        return 1;
    self_module *m = &l->modules[l->count];
    memset(m, 0, sizeof *m);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++)
        if (info->dlpi_phdr[i].p_type == PT_LOAD) {
            uint64_t a = info->dlpi_phdr[i].p_vaddr, e = a + info->dlpi_phdr[i].p_memsz;
            lo = a < lo ? a : lo;
            hi = e > hi ? e : hi;
        }
    if (hi == 0)
        return 0;
    m->base = info->dlpi_addr;
    m->lo = lo;
    m->size = hi - lo;
    if (info->dlpi_name && info->dlpi_name[0]) {
        snprintf(m->path, sizeof m->path, "%s", info->dlpi_name);
    } else { /* the executable */
        ssize_t n = readlink("/proc/self/exe", m->path, sizeof m->path - 1);
        m->path[n > 0 ? n : 0] = '\0';
    }
    read_build_id(info, m);
    l->count++;
    return 0;
}

static self_module all[MAX_SELF_MODULES];

static size_t list_modules(void)
{
    listing l = {all, 0};
    dl_iterate_phdr(on_module, &l);
    return l.count;
}

int self_module_find(const char *suffix, self_module *out)
{
    size_t n = list_modules(), len = strlen(suffix);
    for (size_t i = 0; i < n; i++) {
        size_t plen = strlen(all[i].path);
        if (plen >= len && strcmp(all[i].path + plen - len, suffix) == 0) {
            *out = all[i];
            return 1;
        }
    }
    return 0;
}

int self_module_containing(const void *address, self_module *out)
{
    uint64_t a = (uint64_t)(uintptr_t)address;
    size_t n = list_modules();
    for (size_t i = 0; i < n; i++) {
        uint64_t start = all[i].base + all[i].lo;
        if (a >= start && a - start < all[i].size) {
            *out = all[i];
            return 1;
        }
    }
    return 0;
}

void self_module_register_as(ht_symbolizer *s, uint32_t pid, const self_module *m,
                             const char *path)
{
    if (!path)
        path = m->path;
    assert_int_equal(ht_symbolizer_add_module(s, pid, m->base, m->size, path, strlen(path),
                                              m->build_id, m->build_id_len),
                     0);
}

size_t self_modules_register(ht_symbolizer *s, uint32_t pid)
{
    size_t n = list_modules();
    for (size_t i = 0; i < n; i++)
        self_module_register_as(s, pid, &all[i], NULL);
    return n;
}
