#include "mmu/softtlb/softtlb.h"

#include <algorithm>

namespace emu::mmu {

namespace {

constexpr TlbEntry kInvalidEntry{kTlbInvalidTag, kTlbInvalidTag, kTlbInvalidTag, 0};

u64 TagFor(const TlbEntry& entry, AccessType access) {
    switch (access) {
        case AccessType::Read: return entry.addr_read;
        case AccessType::Write: return entry.addr_write;
        case AccessType::Fetch: return entry.addr_code;
    }
    return kTlbInvalidTag;
}

}  // namespace

SoftTlb::SoftTlb()
    : entries_(kMmuIndexCount * kEntries, kInvalidEntry),
      info_(kMmuIndexCount * kEntries),
      links_(kMmuIndexCount * kEntries) {}

void SoftTlb::Link(u32 slot) {
    Links& l = links_[slot];
    u32& bucket = bucket_head_[BucketOf(info_[slot].gpa_page)];
    l.bucket_prev = kNoSlot;
    l.bucket_next = bucket;
    if (bucket != kNoSlot) links_[bucket].bucket_prev = slot;
    bucket = slot;
    u32& list = ListHead(info_[slot].global);
    l.list_prev = kNoSlot;
    l.list_next = list;
    if (list != kNoSlot) links_[list].list_prev = slot;
    list = slot;
}

void SoftTlb::Unlink(u32 slot) {
    Links& l = links_[slot];
    if (l.bucket_prev != kNoSlot) {
        links_[l.bucket_prev].bucket_next = l.bucket_next;
    } else {
        bucket_head_[BucketOf(info_[slot].gpa_page)] = l.bucket_next;
    }
    if (l.bucket_next != kNoSlot) links_[l.bucket_next].bucket_prev = l.bucket_prev;
    if (l.list_prev != kNoSlot) {
        links_[l.list_prev].list_next = l.list_next;
    } else {
        ListHead(info_[slot].global) = l.list_next;
    }
    if (l.list_next != kNoSlot) links_[l.list_next].list_prev = l.list_prev;
    l = Links{};
}

template <typename F>
void SoftTlb::ForEachOn(u32 head, bool bucket_list, F&& f) {
    for (u32 slot = head; slot != kNoSlot;) {
        const u32 next = bucket_list ? links_[slot].bucket_next : links_[slot].list_next;
        f(slot);
        slot = next;
    }
}

TlbLookup SoftTlb::Lookup(MmuIndex index, u64 vaddr, AccessType access) {
    const u64 slot = Slot(index, vaddr);
    const TlbEntry& entry = entries_[slot];
    const u64 tag = TagFor(entry, access);
    TlbLookup result;
    if ((vaddr & ~kPageMask) == tag) {
        ++stats_.hits;
        result.kind = TlbLookupKind::Hit;
        result.host = reinterpret_cast<u8*>(vaddr + entry.addend);
        result.gpa = info_[slot].gpa_page | (vaddr & kPageMask);
        return result;
    }
    ++stats_.misses;
    if (tag != kTlbInvalidTag && (tag & ~kPageMask) == (vaddr & ~kPageMask)) {
        result.kind = TlbLookupKind::SlowPath;
        result.flags = tag & kPageMask;
        result.gpa = info_[slot].gpa_page | (vaddr & kPageMask);
    }
    return result;
}

void SoftTlb::Fill(MmuIndex index, const TlbFill& fill) {
    ++stats_.fills;
    const u64 page = fill.vaddr & ~kPageMask;
    const u64 slot = Slot(index, page);
    const u64 flags = (fill.flags & (tlb_flag::kMmio | tlb_flag::kTracked | tlb_flag::kNotDirty | tlb_flag::kCode)) |
                      (fill.host ? 0 : tlb_flag::kMmio);
    const u64 all_access_flags = flags & tlb_flag::kMmio;
    if (info_[slot].valid) Unlink(static_cast<u32>(slot));
    TlbEntry& entry = entries_[slot];
    entry.addr_read = fill.read ? page | all_access_flags : kTlbInvalidTag;
    entry.addr_write = fill.write ? page | flags : kTlbInvalidTag;
    entry.addr_code = fill.exec ? page | all_access_flags : kTlbInvalidTag;
    // addend maps the page's linear address to the host address of the page's first byte.
    entry.addend = fill.host ? reinterpret_cast<u64>(fill.host - (fill.gpa & kPageMask)) - page : 0;
    info_[slot] = TlbEntryInfo{page, fill.gpa & ~kPageMask, true, fill.global};
    Link(static_cast<u32>(slot));
    if (fill.page_size > kPageSize) NoteLargePage(static_cast<unsigned>(index), page, fill.page_size);
}

void SoftTlb::FillFromWalk(MmuIndex index, u64 vaddr, const WalkResult& walk, u8* host, u64 flags) {
    TlbFill fill;
    fill.vaddr = vaddr;
    fill.gpa = walk.gpa;
    fill.host = host;
    fill.page_size = walk.page_size;
    fill.read = walk.readable;
    fill.write = walk.writable && walk.dirty;
    fill.exec = walk.executable;
    fill.global = walk.global;
    fill.flags = flags;
    Fill(index, fill);
}

void SoftTlb::Invalidate(u64 slot) {
    if (info_[slot].valid) Unlink(static_cast<u32>(slot));
    entries_[slot] = kInvalidEntry;
    info_[slot] = TlbEntryInfo{};
}

void SoftTlb::FlushIndex(unsigned index) {
    for (const bool global : {false, true}) {
        ForEachOn(ListHead(global), false, [&](u32 slot) {
            if (slot / kEntries == index) Invalidate(slot);
        });
    }
    large_[index] = LargeRange{};
}

// Grows the index's large-page range until it covers [vaddr, vaddr + page_size) too (QEMU's
// tlb_add_large_page): one range, so a flush inside it may over-flush, never under-flush.
void SoftTlb::NoteLargePage(unsigned index, u64 vaddr, u64 page_size) {
    LargeRange& range = large_[index];
    u64 mask = ~(page_size - 1);
    if (range.base != kTlbInvalidTag) {
        mask &= range.mask;
        while (((range.base ^ vaddr) & mask) != 0) mask <<= 1;
    }
    range.base = vaddr & mask;
    range.mask = mask;
}

void SoftTlb::FlushAll() {
    ++stats_.flush_all;
    for (const bool global : {false, true}) ForEachOn(ListHead(global), false, [&](u32 slot) { Invalidate(slot); });
    large_.fill(LargeRange{});
}

void SoftTlb::FlushPage(u64 vaddr) {
    ++stats_.flush_page;
    for (unsigned index = 0; index < kMmuIndexCount; ++index) {
        const LargeRange& range = large_[index];
        if (range.base != kTlbInvalidTag && (vaddr & range.mask) == range.base) {
            ++stats_.flush_page_large;
            FlushIndex(index);
            continue;
        }
        const u64 slot = Slot(static_cast<MmuIndex>(index), vaddr);
        if (info_[slot].valid && info_[slot].vpage == (vaddr & ~kPageMask)) Invalidate(slot);
    }
}

void SoftTlb::FlushNonGlobal() {
    ++stats_.flush_non_global;
    ForEachOn(ListHead(false), false, [&](u32 slot) { Invalidate(slot); });
}

unsigned SoftTlb::FlushGfn(Gfn gfn) {
    ++stats_.flush_gfn;
    unsigned count = 0;
    ForEachOn(bucket_head_[BucketOf(gfn << kPageShift)], true, [&](u32 slot) {
        if (info_[slot].gpa_page != (gfn << kPageShift)) return;
        Invalidate(slot);
        ++count;
    });
    return count;
}

unsigned SoftTlb::DemoteWritesToGfn(Gfn gfn, u64 flag) {
    ++stats_.demote_gfn;
    unsigned count = 0;
    ForEachOn(bucket_head_[BucketOf(gfn << kPageShift)], true, [&](u32 slot) {
        TlbEntry& entry = entries_[slot];
        if (info_[slot].gpa_page != (gfn << kPageShift) || entry.addr_write == kTlbInvalidTag ||
            (entry.addr_write & flag)) {
            return;
        }
        entry.addr_write |= flag;
        ++count;
    });
    return count;
}

}  // namespace emu::mmu
