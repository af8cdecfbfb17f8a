/*
 * From a module address to frames, with libdw: the line table gives the
 * innermost file and line, the DWARF scopes at the address give the chain
 * of inlined subroutines up to the subprogram, each inlined one saying where
 * it was inlined (DW_AT_call_file / DW_AT_call_line), which is the file and
 * line of the frame that follows. The ELF symbol table names the function
 * where there is no DWARF.
 */
#include "symbols/frames.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <stdlib.h>
#include <string.h>

#include "symbols/demangle.h"

int ht_frame_vec_push(ht_frame_vec *v, const ht_frame *f)
{
    if (v->count == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        ht_frame *frames = realloc(v->frames, cap * sizeof *frames);
        if (!frames)
            return -1;
        v->frames = frames;
        v->cap = cap;
    }
    v->frames[v->count++] = *f;
    return 0;
}

void ht_frame_vec_destroy(ht_frame_vec *v)
{
    free(v->frames);
    memset(v, 0, sizeof *v);
}

/* Intern a function name, demangled when it is a C++ one. *name becomes
 * NULL only when memory ran out (a NULL name stays NULL: unknown). */
static int intern_function(ht_strtab *strings, const char **name)
{
    if (!*name)
        return 0;
    char *demangled = ht_demangle(*name);
    const char *use = demangled ? demangled : *name;
    *name = ht_strtab_intern(strings, use, strlen(use));
    free(demangled);
    return *name ? 0 : -1;
}

static int intern_file(ht_strtab *strings, const char **file)
{
    if (!*file)
        return 0;
    *file = ht_strtab_intern(strings, *file, strlen(*file));
    return *file ? 0 : -1;
}

/* The name of a subprogram or inlined subroutine. The linkage name comes
 * first, as it demangles to the qualified name with its parameters; the
 * attributes are followed through DW_AT_abstract_origin (inlined copies,
 * clones) and DW_AT_specification (out-of-class definitions). */
static const char *die_function(Dwarf_Die *die)
{
    static const int attrs[] = {DW_AT_linkage_name, DW_AT_MIPS_linkage_name, DW_AT_name};
    Dwarf_Attribute attr;
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++) {
        const char *name = dwarf_formstring(dwarf_attr_integrate(die, attrs[i], &attr));
        if (name)
            return name;
    }
    return NULL;
}

/* Where the inlined subroutine inl was inlined: file and line in its caller. */
static void call_site(Dwarf_Die *inl, const char **file, uint32_t *line)
{
    Dwarf_Attribute attr;
    Dwarf_Word value;
    *file = NULL;
    *line = 0;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_line, &attr), &value) == 0)
        *line = (uint32_t)value;
    /* The file index refers to the line table of the unit holding the DIE,
     * which with dwz-compressed debug info is a partial unit. */
    Dwarf_Die unit;
    Dwarf_Files *files;
    size_t nfiles;
    if (dwarf_formudata(dwarf_attr(inl, DW_AT_call_file, &attr), &value) == 0 &&
        dwarf_diecu(inl, &unit, NULL, NULL) && dwarf_getsrcfiles(&unit, &files, &nfiles) == 0 &&
        value < nfiles)
        *file = dwarf_filesrc(files, value, NULL, NULL);
}

static int push(ht_frame_vec *out, ht_strtab *strings, const char *function, const char *file,
                uint32_t line, int inlined, uint32_t flags)
{
    ht_frame f = {.function = function, .file = file, .line = line, .inlined = inlined,
                  .flags = flags};
    if (intern_function(strings, &f.function) != 0 || intern_file(strings, &f.file) != 0)
        return -1;
    return ht_frame_vec_push(out, &f);
}

int ht_frames_describe(Dwfl_Module *mod, ht_unit_index *units, uint64_t pc, ht_strtab *strings,
                       ht_frame_vec *out)
{
    /* The unit from .debug_aranges, else from the unit index (units.h). */
    Dwarf_Addr bias = 0;
    Dwarf_Die unit;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, pc, &bias);
    if (!cu && dwfl_module_getdwarf(mod, &bias) && ht_unit_index_find(units, mod, pc - bias, &unit))
        cu = &unit;
    const char *file = NULL;
    uint32_t line = 0;
    Dwarf_Line *entry = cu ? dwarf_getsrc_die(cu, pc - bias) : NULL;
    int lineno = 0;
    if (entry && (file = dwarf_linesrc(entry, NULL, NULL)) && dwarf_lineno(entry, &lineno) == 0 &&
        lineno > 0)
        line = (uint32_t)lineno;

    Dwarf_Die *scopes = NULL;
    int nscopes = cu ? dwarf_getscopes(cu, pc - bias, &scopes) : 0;
    int last_inlined = 1; /* nothing appended yet counts as "needs the real function" */
    int rc = 0;
    for (int i = 0; i < nscopes && rc == 0; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine &&
            tag != DW_TAG_entry_point)
            continue; /* lexical blocks and the unit itself */
        last_inlined = tag == DW_TAG_inlined_subroutine;
        rc = push(out, strings, die_function(&scopes[i]), file, line, last_inlined, 0);
        if (!last_inlined)
            break;
        call_site(&scopes[i], &file, &line);
    }
    free(scopes);
    if (rc != 0 || !last_inlined)
        return rc;

    /* No function in the DWARF (no DWARF at all, assembly, or a chain cut
     * short): the symbol that contains pc is the real function, at the
     * position reached so far. */
    GElf_Off offset;
    GElf_Sym sym;
    const char *name = dwfl_module_addrinfo(mod, pc, &offset, &sym, NULL, NULL, NULL);
    return push(out, strings, name, file, line, 0, cu ? 0 : HT_FRAME_NO_DEBUG_INFO);
}
