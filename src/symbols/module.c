/*
 * Finding and opening a module's files: the module itself (checked against
 * the trace's build-id) and its separate debug info, through libdwfl.
 */
#include "symbols/module.h"

#include <fcntl.h>
#include <gelf.h>
#include <elfutils/libdwelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "heaptrail/symbols.h"

/* Only regular files: a path in a trace may name a FIFO or a device, and
 * opening or reading those could block the report. */
static int regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The GNU build-id of the ELF file open at fd compared with want: 1 when
 * the same, 0 when different or absent, -1 when fd is no ELF file. */
static int build_id_matches(int fd, const void *want, size_t want_len)
{
    Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        elf_end(elf);
        return -1;
    }
    const void *id = NULL;
    ssize_t len = dwelf_elf_gnu_build_id(elf, &id);
    int same = len > 0 && (size_t)len == want_len && memcmp(id, want, want_len) == 0;
    elf_end(elf);
    return same;
}

/* ROOT/.build-id/xx/rest with suffix, the layout of Debian's -dbgsym
 * packages and of objcopy --only-keep-debug files put there by hand. */
static char *build_id_path(const char *root, const unsigned char *id, size_t len,
                           const char *suffix)
{
    char hex[2 * 64 + 1];
    if (len < 2 || len > 64)
        return NULL;
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    char *path = NULL;
    if (asprintf(&path, "%s/.build-id/%.2s/%s%s", root, hex, hex + 2, suffix) < 0)
        return NULL;
    return path;
}

/* A candidate debug file: opened when it is a regular ELF file whose
 * build-id is the module's (any ELF file when the module has none, as
 * nothing better can be checked). Returns the fd, or -1. */
static int open_debug_candidate(const char *path, const char *main_file, const void *id,
                                size_t id_len)
{
    if (strcmp(path, main_file) == 0 || !regular_file(path))
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int match = build_id_matches(fd, id, id_len);
    if (match < 0 || (id_len > 0 && match == 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Offer one candidate; on success the path goes to dwfl (which frees it). */
static int try_debug(char *path, const char *main_file, const void *id, size_t id_len,
                     char **debuginfo_file_name)
{
    if (!path)
        return -1;
    int fd = open_debug_candidate(path, main_file, id, id_len);
    if (fd < 0) {
        free(path);
        return -1;
    }
    *debuginfo_file_name = path;
    return fd;
}

/* libdwfl's find_debuginfo callback, called when the module file itself has
 * no DWARF (or no symbol table). Our own rather than
 * dwfl_standard_find_debuginfo: the --sysroot applies to the path part of
 * the debuglink search, and no network (debuginfod) is asked behind the
 * user's back. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
                          Dwarf_Addr base, const char *file_name, const char *debuglink_file,
                          GElf_Word debuglink_crc, char **debuginfo_file_name)
{
    (void)modname;
    (void)base;
    (void)debuglink_crc; /* the build-id check is the stronger one */
    const ht_sym_module *m = *userdata;
    const unsigned char *id = NULL;
    GElf_Addr id_vaddr;
    int id_len = dwfl_module_build_id(mod, &id, &id_vaddr);
    size_t idn = id_len > 0 ? (size_t)id_len : 0;
    const ht_sym_search *search = m->search;
    int fd;

    for (size_t i = 0; i < search->root_count && idn > 0; i++)
        if ((fd = try_debug(build_id_path(search->roots[i], id, idn, ".debug"), file_name, id,
                            idn, debuginfo_file_name)) >= 0)
            return fd;
    if (!debuglink_file || !*debuglink_file || strchr(debuglink_file, '/'))
        return -1;

    /* By name: beside the file, in .debug/ beside it, and under each root
     * at the module's directory on the recording machine. */
    const char *slash = strrchr(file_name, '/');
    int dir_len = slash ? (int)(slash - file_name) : 0;
    const char *orig_slash = strrchr(m->path, '/');
    int orig_len = orig_slash ? (int)(orig_slash - m->path) : 0;
    char *path;
    if (slash) {
        if (asprintf(&path, "%.*s/%s", dir_len, file_name, debuglink_file) >= 0 &&
            (fd = try_debug(path, file_name, id, idn, debuginfo_file_name)) >= 0)
            return fd;
        if (asprintf(&path, "%.*s/.debug/%s", dir_len, file_name, debuglink_file) >= 0 &&
            (fd = try_debug(path, file_name, id, idn, debuginfo_file_name)) >= 0)
            return fd;
    }
    for (size_t i = 0; i < search->root_count && orig_slash; i++)
        if (asprintf(&path, "%s%.*s/%s", search->roots[i], orig_len, m->path, debuglink_file) >=
                0 &&
            (fd = try_debug(path, file_name, id, idn, debuginfo_file_name)) >= 0)
            return fd;
    return -1;
}

static const Dwfl_Callbacks callbacks = {
    /* Never called: the main file is handed over open (dwfl_report_elf). */
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = find_debuginfo,
    /* Only relocatable objects need it; a trace could name one. */
    .section_address = dwfl_offline_section_address,
};

/* Lowest p_vaddr of the PT_LOAD segments: where the recorded Size starts. */
static uint64_t lowest_load(Dwfl_Module *mod)
{
    GElf_Addr bias;
    Elf *elf = dwfl_module_getelf(mod, &bias);
    size_t n;
    uint64_t lo = UINT64_MAX;
    if (elf && elf_getphdrnum(elf, &n) == 0)
        for (size_t i = 0; i < n; i++) {
            GElf_Phdr ph;
            if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < lo)
                lo = ph.p_vaddr;
        }
    return lo == UINT64_MAX ? 0 : lo;
}

/* Report file as the module, placed at its own addresses (bias 0), so that
 * module offsets are the addresses dwfl works with. 1: opened, 0: not usable
 * (sets *mismatch when only the build-id was wrong). */
static int try_main(ht_sym_module *m, const char *file, int *mismatch)
{
    if (!regular_file(file))
        return 0;
    Dwfl *dwfl = dwfl_begin(&callbacks);
    if (!dwfl)
        return 0;
    dwfl_report_begin(dwfl);
    Dwfl_Module *mod = dwfl_report_elf(dwfl, m->path, file, -1, 0, true);
    dwfl_report_end(dwfl, NULL, NULL);
    if (!mod) {
        dwfl_end(dwfl);
        return 0;
    }
    if (m->build_id_len > 0) {
        const unsigned char *id = NULL;
        GElf_Addr vaddr;
        int len = dwfl_module_build_id(mod, &id, &vaddr);
        if (len <= 0 || (size_t)len != m->build_id_len ||
            memcmp(id, m->build_id, m->build_id_len) != 0) {
            *mismatch = 1;
            dwfl_end(dwfl);
            return 0;
        }
    }
    void **userdata;
    dwfl_module_info(mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
    *userdata = m;
    m->dwfl = dwfl;
    m->mod = mod;
    m->lo = lowest_load(mod);
    return 1;
}

void ht_sym_module_open(ht_sym_module *m)
{
    const ht_sym_search *search = m->search;
    int mismatch = 0, ok = 0;
    if (m->path[0] == '/') {
        char *file = NULL;
        if (asprintf(&file, "%s%s", search->sysroot, m->path) >= 0) {
            ok = try_main(m, file, &mismatch);
            free(file);
        }
    }
    /* The file at the path is gone or another build: the build-id names
     * the right one, the binary itself or its debug file (which has the
     * symbols and DWARF at the same addresses). */
    for (size_t i = 0; !ok && m->build_id_len > 0 && i < search->root_count; i++) {
        static const char *const suffixes[] = {"", ".debug"};
        for (size_t k = 0; !ok && k < 2; k++) {
            char *file = build_id_path(search->roots[i], m->build_id, m->build_id_len, suffixes[k]);
            if (file) {
                int ignored = 0;
                ok = try_main(m, file, &ignored);
                free(file);
            }
        }
    }
    m->mismatch_seen = mismatch;
    if (ok) {
        m->state = HT_SYM_OPEN;
    } else {
        m->state = HT_SYM_FAILED;
        m->fail_flags = mismatch ? HT_FRAME_BUILD_ID_MISMATCH : HT_FRAME_MODULE_MISSING;
    }
}

void ht_sym_module_close(ht_sym_module *m)
{
    if (m->dwfl)
        dwfl_end(m->dwfl);
    m->dwfl = NULL;
    m->mod = NULL;
    free(m->build_id);
    m->build_id = NULL;
    ht_u64map_destroy(&m->cache);
    ht_unit_index_destroy(&m->units);
}
