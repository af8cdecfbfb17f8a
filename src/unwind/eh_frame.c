/* The CFI reader: .eh_frame_hdr's search table, then the CIE and FDE of the
 * function, whose instructions run up to the address (DWARF 5 §6.4, the
 * .eh_frame layout of the LSB). Objects come from the running process and are
 * trusted as the dynamic loader trusts them; every read still stays inside
 * the lengths the entries give, so a malformed entry gives UNKNOWN. */
#include "unwind/eh_frame.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Pointer encodings (DW_EH_PE_*): the format in the low nibble, how the
 * value applies in the high one. */
enum {
    PE_ABSPTR = 0x00, PE_ULEB128 = 0x01, PE_UDATA2 = 0x02, PE_UDATA4 = 0x03,
    PE_UDATA8 = 0x04, PE_SLEB128 = 0x09, PE_SDATA2 = 0x0a, PE_SDATA4 = 0x0b,
    PE_SDATA8 = 0x0c,
    PE_PCREL = 0x10, PE_DATAREL = 0x30, PE_INDIRECT = 0x80,
};

/* The x86-64 DWARF register numbers the walk follows. */
enum { REG_RBP = 6, REG_RSP = 7, REG_RIP = 16 };

/* A bounded cursor: a read past end fails the whole parse. */
struct cursor {
    const uint8_t *at, *end;
    bool bad;
};

static uint64_t read_bytes(struct cursor *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->at) < n) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, c->at, n); /* little-endian: the low bytes first */
    c->at += n;
    return v;
}

static uint64_t read_uleb(struct cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b = (uint8_t)read_bytes(c, 1);
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

static int64_t read_sleb(struct cursor *c)
{
    uint64_t v = 0;
    unsigned shift = 0;
    uint8_t b;
    do {
        if (shift >= 64) {
            c->bad = true;
            return 0;
        }
        b = (uint8_t)read_bytes(c, 1);
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
    } while (b & 0x80);
    if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
    return (int64_t)v;
}

/* A value in encoding enc; datarel applies to base (the .eh_frame_hdr). */
static uint64_t read_encoded(struct cursor *c, uint8_t enc, uintptr_t base)
{
    uintptr_t here = (uintptr_t)c->at;
    uint64_t v;
    switch (enc & 0x0f) {
    case PE_ABSPTR: case PE_UDATA8: case PE_SDATA8: v = read_bytes(c, 8); break;
    case PE_ULEB128: v = read_uleb(c); break;
    case PE_SLEB128: v = (uint64_t)read_sleb(c); break;
    case PE_UDATA2: v = read_bytes(c, 2); break;
    case PE_SDATA2: v = (uint64_t)(int64_t)(int16_t)read_bytes(c, 2); break;
    case PE_UDATA4: v = read_bytes(c, 4); break;
    case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)read_bytes(c, 4); break;
    default: c->bad = true; return 0;
    }
    switch (enc & 0x70) {
    case 0: break;
    case PE_PCREL: v += here; break;
    case PE_DATAREL: v += base; break;
    default: c->bad = true; return 0; /* textrel, funcrel, aligned: unused on x86-64 */
    }
    if (enc & PE_INDIRECT)
        c->bad = true; /* never used for code addresses */
    return v;
}

/* An entry of .eh_frame: its length word, then its body up to end. */
static bool open_entry(const uint8_t *at, struct cursor *body)
{
    struct cursor c = {at, at + 12, false};
    uint64_t length = read_bytes(&c, 4);
    if (length == 0xffffffffu)
        length = read_bytes(&c, 8);
    if (c.bad || length == 0 || length > (1u << 30))
        return false;
    body->at = c.at;
    body->end = c.at + length;
    body->bad = false;
    return true;
}

/* What the CIE says for all its FDEs. */
struct cie {
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_encoding;
    bool has_augmentation_data; /* 'z': FDEs carry a length before their data */
    bool signal_frame;          /* 'S' */
    struct cursor initial;      /* the initial instructions */
};

static bool parse_cie(const uint8_t *at, struct cie *cie)
{
    struct cursor c;
    if (!open_entry(at, &c) || read_bytes(&c, 4) != 0)
        return false; /* the CIE id is 0 in .eh_frame */
    uint8_t version = (uint8_t)read_bytes(&c, 1);
    if (version != 1 && version != 3)
        return false;
    const char *aug = (const char *)c.at;
    size_t aug_len = strnlen(aug, (size_t)(c.end - c.at));
    if (c.at + aug_len >= c.end)
        return false;
    c.at += aug_len + 1;
    cie->code_align = read_uleb(&c);
    cie->data_align = read_sleb(&c);
    uint64_t ra = version == 1 ? read_bytes(&c, 1) : read_uleb(&c);
    if (ra != REG_RIP)
        return false;
    cie->fde_encoding = PE_ABSPTR;
    cie->has_augmentation_data = aug[0] == 'z';
    cie->signal_frame = false;
    if (cie->has_augmentation_data) {
        uint64_t data_len = read_uleb(&c);
        if (c.bad || data_len > (uint64_t)(c.end - c.at))
            return false;
        struct cursor data = {c.at, c.at + data_len, false};
        c.at += data_len;
        bool encoding_read = false;
        for (size_t i = 1; i < aug_len; i++) {
            switch (aug[i]) {
            case 'R': cie->fde_encoding = (uint8_t)read_bytes(&data, 1); encoding_read = true; break;
            case 'L': read_bytes(&data, 1); break;
            case 'P': {
                uint8_t enc = (uint8_t)read_bytes(&data, 1);
                read_encoded(&data, enc & (uint8_t)~PE_INDIRECT, 0);
                break;
            }
            case 'S': cie->signal_frame = true; break;
            default:
                /* The rest of the data is skipped by its length; only the
                 * encoding had to be known by then. */
                i = aug_len;
                break;
            }
        }
        if (data.bad || (strchr(aug, 'R') && !encoding_read))
            return false;
    } else if (aug[0] != '\0') {
        return false; /* an augmentation this reader cannot skip */
    }
    cie->initial = c;
    return !c.bad;
}

/* The rows of the CFI table that the walk needs. */
struct row {
    uint64_t cfa_reg;
    int64_t cfa_offset;
    bool cfa_expression;
    enum { SAME, SAVED, UNDEFINED, OTHER } rbp, rip;
    int64_t rbp_offset, rip_offset;
};

#define REMEMBER_DEPTH 8

struct machine {
    struct row row, initial;
    struct row remembered[REMEMBER_DEPTH];
    unsigned depth;
    uintptr_t loc;
    const struct cie *cie;
};

static void set_saved(struct row *row, uint64_t reg, int64_t offset)
{
    if (reg == REG_RBP) {
        row->rbp = SAVED;
        row->rbp_offset = offset;
    } else if (reg == REG_RIP) {
        row->rip = SAVED;
        row->rip_offset = offset;
    }
}

static void set_rule(struct row *row, uint64_t reg, int rule)
{
    if (reg == REG_RBP)
        row->rbp = rule;
    else if (reg == REG_RIP)
        row->rip = rule;
}

static void restore_reg(struct machine *m, uint64_t reg)
{
    if (reg == REG_RBP) {
        m->row.rbp = m->initial.rbp;
        m->row.rbp_offset = m->initial.rbp_offset;
    } else if (reg == REG_RIP) {
        m->row.rip = m->initial.rip;
        m->row.rip_offset = m->initial.rip_offset;
    }
}

/* Run instructions until the row that covers ip (or their end). Returns
 * false on an instruction it cannot follow or a malformed stream. */
static bool run(struct machine *m, struct cursor *c, uintptr_t ip)
{
    const struct cie *cie = m->cie;
    while (c->at < c->end && !c->bad) {
        uint8_t op = (uint8_t)read_bytes(c, 1);
        uint64_t advance = 0, reg;
        switch (op >> 6) {
        case 1: advance = op & 0x3f; goto advance;
        case 2: set_saved(&m->row, op & 0x3f, (int64_t)read_uleb(c) * cie->data_align); continue;
        case 3: restore_reg(m, op & 0x3f); continue;
        default: break;
        }
        switch (op) {
        case 0x00: /* nop */ break;
        case 0x02: advance = read_bytes(c, 1); goto advance;
        case 0x03: advance = read_bytes(c, 2); goto advance;
        case 0x04: advance = read_bytes(c, 4); goto advance;
        case 0x05: /* offset_extended */
            reg = read_uleb(c);
            set_saved(&m->row, reg, (int64_t)read_uleb(c) * cie->data_align);
            break;
        case 0x11: /* offset_extended_sf */
            reg = read_uleb(c);
            set_saved(&m->row, reg, read_sleb(c) * cie->data_align);
            break;
        case 0x06: restore_reg(m, read_uleb(c)); break;
        case 0x07: set_rule(&m->row, read_uleb(c), UNDEFINED); break;
        case 0x08: set_rule(&m->row, read_uleb(c), SAME); break;
        case 0x09: /* register: the value lives in another register */
            set_rule(&m->row, read_uleb(c), OTHER);
            read_uleb(c);
            break;
        case 0x0a: /* remember_state */
            if (m->depth == REMEMBER_DEPTH)
                return false;
            m->remembered[m->depth++] = m->row;
            break;
        case 0x0b: /* restore_state */
            if (m->depth == 0)
                return false;
            m->row = m->remembered[--m->depth];
            break;
        case 0x0c: /* def_cfa */
            m->row.cfa_reg = read_uleb(c);
            m->row.cfa_offset = (int64_t)read_uleb(c);
            m->row.cfa_expression = false;
            break;
        case 0x12: /* def_cfa_sf */
            m->row.cfa_reg = read_uleb(c);
            m->row.cfa_offset = read_sleb(c) * cie->data_align;
            m->row.cfa_expression = false;
            break;
        case 0x0d: m->row.cfa_reg = read_uleb(c); m->row.cfa_expression = false; break;
        case 0x0e: m->row.cfa_offset = (int64_t)read_uleb(c); break;
        case 0x13: m->row.cfa_offset = read_sleb(c) * cie->data_align; break;
        case 0x0f: { /* def_cfa_expression */
            uint64_t len = read_uleb(c);
            if (len > (uint64_t)(c->end - c->at))
                return false;
            c->at += len;
            m->row.cfa_expression = true;
            break;
        }
        case 0x10: case 0x16: { /* expression, val_expression */
            reg = read_uleb(c);
            uint64_t len = read_uleb(c);
            if (len > (uint64_t)(c->end - c->at))
                return false;
            c->at += len;
            set_rule(&m->row, reg, OTHER);
            break;
        }
        case 0x14: case 0x15: /* val_offset(_sf): the value, not a slot */
            reg = read_uleb(c);
            if (op == 0x14)
                read_uleb(c);
            else
                read_sleb(c);
            set_rule(&m->row, reg, OTHER);
            break;
        case 0x2e: /* GNU_args_size */ read_uleb(c); break;
        case 0x2f: /* GNU_negative_offset_extended */
            reg = read_uleb(c);
            set_saved(&m->row, reg, -(int64_t)read_uleb(c) * cie->data_align);
            break;
        default: return false; /* set_loc, vendor extensions */
        }
        continue;
    advance:
        if (m->loc + advance * cie->code_align > ip)
            return true; /* the next row starts after ip: this one covers it */
        m->loc += advance * cie->code_align;
    }
    return !c->bad;
}

/* The FDE covering ip, through .eh_frame_hdr's sorted table. */
static const uint8_t *find_fde(const uint8_t *hdr, uintptr_t ip)
{
    /* version, eh_frame_ptr encoding, fde_count encoding, table encoding */
    if (hdr[0] != 1 || hdr[3] != (PE_DATAREL | PE_SDATA4))
        return NULL;
    struct cursor c = {hdr + 4, hdr + 4 + 16, false};
    read_encoded(&c, hdr[1], (uintptr_t)hdr);
    uint64_t count = read_encoded(&c, hdr[2], (uintptr_t)hdr);
    if (c.bad || count == 0)
        return NULL;
    const int32_t *table = (const int32_t *)(const void *)c.at;
    intptr_t rel = (intptr_t)(ip - (uintptr_t)hdr);
    if (rel < table[0])
        return NULL;
    uint64_t lo = 0, hi = count; /* table[2*lo] <= rel < table[2*hi] */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (table[2 * mid] <= rel)
            lo = mid;
        else
            hi = mid;
    }
    return hdr + table[2 * lo + 1];
}

enum ht_frame_lookup ht_eh_frame_rule(uintptr_t ip, struct ht_frame_rule *rule)
{
    rule->kind = HT_FRAME_UNKNOWN;
    rule->cfa_offset = rule->rbp_offset = 0;
    struct dl_find_object object;
    if (_dl_find_object((void *)ip, &object) != 0)
        return HT_FRAME_NO_OBJECT;
    if (!object.dlfo_eh_frame)
        return HT_FRAME_FOUND;
    const uint8_t *fde = find_fde(object.dlfo_eh_frame, ip);
    struct cursor c;
    if (!fde || !open_entry(fde, &c))
        return HT_FRAME_FOUND;
    const uint8_t *cie_pointer_at = c.at;
    uint32_t cie_pointer = (uint32_t)read_bytes(&c, 4);
    if (cie_pointer == 0)
        return HT_FRAME_FOUND; /* a CIE, not an FDE */
    struct cie cie;
    if (!parse_cie(cie_pointer_at - cie_pointer, &cie) || cie.signal_frame)
        return HT_FRAME_FOUND;
    uintptr_t pc_begin = read_encoded(&c, cie.fde_encoding, 0);
    uint64_t pc_range = read_encoded(&c, cie.fde_encoding & 0x0f, 0);
    if (c.bad || ip < pc_begin || ip - pc_begin >= pc_range)
        return HT_FRAME_FOUND;
    if (cie.has_augmentation_data) {
        uint64_t len = read_uleb(&c);
        if (c.bad || len > (uint64_t)(c.end - c.at))
            return HT_FRAME_FOUND;
        c.at += len;
    }

    struct machine m = {.cie = &cie, .loc = pc_begin};
    m.row.cfa_reg = REG_RSP;
    m.row.rbp = m.row.rip = SAME;
    struct cursor initial = cie.initial;
    if (!run(&m, &initial, UINTPTR_MAX))
        return HT_FRAME_FOUND;
    m.initial = m.row;
    m.depth = 0;
    m.loc = pc_begin; /* a CIE has no rows of its own to advance over */
    if (!run(&m, &c, ip))
        return HT_FRAME_FOUND;

    const struct row *r = &m.row;
    if (r->rip == UNDEFINED) {
        rule->kind = HT_FRAME_OUTERMOST;
        return HT_FRAME_FOUND;
    }
    bool rbp_known = r->rbp == SAME || (r->rbp == SAVED && r->rbp_offset != 0);
    bool cfa_known = !r->cfa_expression && (r->cfa_reg == REG_RSP || r->cfa_reg == REG_RBP);
    if (!cfa_known || !rbp_known || r->rip != SAVED || r->rip_offset != -8)
        return HT_FRAME_FOUND;
    rule->kind = r->cfa_reg == REG_RSP ? HT_FRAME_CFA_RSP : HT_FRAME_CFA_RBP;
    rule->cfa_offset = r->cfa_offset;
    rule->rbp_offset = r->rbp == SAVED ? r->rbp_offset : 0;
    return HT_FRAME_FOUND;
}
