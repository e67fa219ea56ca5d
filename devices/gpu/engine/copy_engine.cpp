#include "devices/gpu/engine/copy_engine.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "emu/common/log.h"

namespace emu::devices::gpu {

using regs::FaultReason;

namespace {

u64 PageRemainder(u64 address) { return kPageSize - (address & kPageMask); }

void SetLow(u64& reg, u32 value) { reg = (reg & ~u64{0xFFFF'FFFF}) | value; }
void SetHigh(u64& reg, u32 value) { reg = (reg & 0xFFFF'FFFF) | u64{value} << 32; }
u32 Low(u64 value) { return static_cast<u32>(value); }
u32 High(u64 value) { return static_cast<u32>(value >> 32); }

const char* FaultName(FaultReason reason) {
    static constexpr std::array kNames = {"none",    "not bound", "not present", "read-only",    "bad entry",
                                          "not RAM", "removed",   "bad address", "bad command", "bad batch"};
    const auto index = static_cast<size_t>(reason);
    return index < kNames.size() ? kNames[index] : "?";
}

}  // namespace

std::string GpuEngineStats::ToString() const {
    return fmt::format("batches {}, commands {}, faults {}, bytes written {}; shadow: {}", batches, commands, faults,
                       bytes_written, shadow.ToString());
}

CopyEngine::CopyEngine(mmu::Memslots& slots, mmu::PageTrack& page_track)
    : page_track_(page_track), memory_(slots, &page_track), shadow_(slots, page_track) {}

CopyEngine::~CopyEngine() { log::Log(log::Category::Gpu, "gpu: final statistics: {}", Stats().ToString()); }

void CopyEngine::Connect(std::function<void(bool level)> set_irq, Scanout& scanout) {
    std::lock_guard lock(run_mutex_);
    irq_ = std::move(set_irq);
    scanout_ = &scanout;
}

void CopyEngine::Read(u64 offset, std::span<u8> data) {
    if ((data.size() != 4 && data.size() != 8) || offset % data.size() != 0) {
        log::Log(log::Category::GuestErrors, "gpu engine: {}-byte read at {:#x} ignored", data.size(), offset);
        std::fill(data.begin(), data.end(), u8{0});
        return;
    }
    std::lock_guard lock(run_mutex_);
    for (size_t i = 0; i < data.size(); i += 4) StoreLe(data.subspan(i, 4), ReadReg(offset + i));
}

void CopyEngine::Write(u64 offset, std::span<const u8> data) {
    if ((data.size() != 4 && data.size() != 8) || offset % data.size() != 0) {
        log::Log(log::Category::GuestErrors, "gpu engine: {}-byte write at {:#x} ignored", data.size(), offset);
        return;
    }
    std::lock_guard lock(run_mutex_);
    for (size_t i = 0; i < data.size(); i += 4) {
        WriteReg(offset + i, static_cast<u32>(LoadLe(data.subspan(i, 4))));
    }
}

u32 CopyEngine::ReadReg(u64 offset) {
    const GpuShadowStats s = offset >= regs::kStatTrackedGfns && offset <= regs::kStatBatches
                                 ? shadow_.Stats()
                                 : GpuShadowStats{};
    switch (offset) {
        case regs::kId: return regs::kIdValue;
        case regs::kVersion: return regs::kVersionValue;
        case regs::kCtxRootLo: return Low(ctx_root_);
        case regs::kCtxRootHi: return High(ctx_root_);
        case regs::kCtxStatus: return ctx_status_;
        case regs::kBatchLo: return Low(batch_);
        case regs::kBatchHi: return High(batch_);
        case regs::kBatchCount: return batch_count_;
        case regs::kFenceAddrLo: return Low(fence_addr_);
        case regs::kFenceAddrHi: return High(fence_addr_);
        case regs::kFenceValueLo: return Low(fence_value_);
        case regs::kFenceValueHi: return High(fence_value_);
        case regs::kFaultReason: return static_cast<u32>(last_fault_.reason);
        case regs::kFaultCmd: return fault_cmd_;
        case regs::kFaultGvaLo: return Low(last_fault_.gva);
        case regs::kFaultGvaHi: return High(last_fault_.gva);
        case regs::kIntStatus: return int_status_;
        case regs::kIntEnable: return int_enable_;
        case regs::kStatTrackedGfns: return Low(s.tracked_gfns);
        case regs::kStatWritesSeen: return Low(s.writes_seen);
        case regs::kStatPartialWrites: return Low(s.partial_writes);
        case regs::kStatEntryUpdates: return Low(s.entry_updates);
        case regs::kStatRebuilds: return Low(s.rebuilds);
        case regs::kStatFaults: return Low(faults_);
        case regs::kStatRegionsRemoved: return Low(s.regions_removed);
        case regs::kStatBatches: return Low(batches_);
        case regs::kQueryGfnLo: return Low(query_gfn_);
        case regs::kQueryGfnHi: return High(query_gfn_);
        case regs::kQueryTrackCount: return page_track_.TrackCount(query_gfn_);
        case regs::kQueryGpuTracks: return shadow_.Tracks(query_gfn_) ? 1 : 0;
        case regs::kListIndex: return list_index_;
        case regs::kListGfnLo:
        case regs::kListGfnHi: {
            const std::vector<Gfn> gfns = shadow_.TrackedGfns();
            const u64 gfn = list_index_ < gfns.size() ? gfns[list_index_] : ~u64{0};
            return offset == regs::kListGfnLo ? Low(gfn) : High(gfn);
        }
        default: return 0;
    }
}

void CopyEngine::WriteReg(u64 offset, u32 value) {
    switch (offset) {
        case regs::kCtxRootLo: SetLow(ctx_root_, value); break;
        case regs::kCtxRootHi: SetHigh(ctx_root_, value); break;
        case regs::kBatchLo: SetLow(batch_, value); break;
        case regs::kBatchHi: SetHigh(batch_, value); break;
        case regs::kBatchCount: batch_count_ = value; break;
        case regs::kFenceAddrLo: SetLow(fence_addr_, value); break;
        case regs::kFenceAddrHi: SetHigh(fence_addr_, value); break;
        case regs::kFenceValueLo: SetLow(fence_value_, value); break;
        case regs::kFenceValueHi: SetHigh(fence_value_, value); break;
        case regs::kIntStatus:
            int_status_ &= ~value;
            UpdateIrq();
            break;
        case regs::kIntEnable:
            int_enable_ = value & (regs::kIntDone | regs::kIntFault);
            UpdateIrq();
            break;
        case regs::kQueryGfnLo: SetLow(query_gfn_, value); break;
        case regs::kQueryGfnHi: SetHigh(query_gfn_, value); break;
        case regs::kListIndex: list_index_ = value; break;
        case regs::kDoorbell: RunBatch(); break;
        case regs::kControl:
            if (value == regs::kCtlBind) {
                ctx_status_ = shadow_.Bind(Gpa(ctx_root_)) ? 1 : 2;
            } else if (value == regs::kCtlUnbind) {
                shadow_.Unbind();
                ctx_status_ = 0;
            } else {
                log::Log(log::Category::GuestErrors, "gpu engine: unknown CONTROL value {:#x}", value);
            }
            break;
        default:
            log::Log(log::Category::GuestErrors, "gpu engine: write {:#x} to read-only/unknown register {:#x}", value,
                     offset);
    }
}

void CopyEngine::UpdateIrq() {
    if (irq_) irq_((int_status_ & int_enable_) != 0);
}

void CopyEngine::RunBatch() {
    ++batches_;
    last_fault_ = {};
    fault_cmd_ = 0;
    if (!shadow_.bound()) {
        last_fault_.reason = FaultReason::NotBound;
    } else if (batch_count_ > regs::kMaxBatchCommands) {
        last_fault_.reason = FaultReason::BadBatch;
    }
    for (u32 i = 0; i < batch_count_ && last_fault_.reason == FaultReason::None; ++i) {
        regs::GpuCommand cmd;
        if (!memory_.ReadObject(batch_ + u64{i} * sizeof(cmd), &cmd)) {
            last_fault_ = {FaultReason::BadBatch, 0};
        } else {
            shadow_.ResolvePending();  // partial table writes are settled before each command uses the shadow
            ++commands_;
            last_fault_ = RunCommand(cmd);
        }
        fault_cmd_ = i;
    }
    if (last_fault_.reason != FaultReason::None) {
        ++faults_;
        log::Log(log::Category::Gpu, "gpu: batch {} fault: {} at command {} gva {:#x}", batches_,
                 FaultName(last_fault_.reason), fault_cmd_, last_fault_.gva);
    }
    if (fence_addr_ != 0 && !memory_.WriteObject(fence_addr_, fence_value_)) {
        log::Log(log::Category::GuestErrors, "gpu engine: fence address {:#x} is not RAM", fence_addr_);
    }
    int_status_ |= regs::kIntDone | (last_fault_.reason != FaultReason::None ? regs::kIntFault : 0);
    UpdateIrq();
}

CopyEngine::Fault CopyEngine::RunCommand(const regs::GpuCommand& cmd) {
    switch (cmd.opcode) {
        case regs::kCmdNop: return {};
        case regs::kCmdFill: return Fill(cmd.a, cmd.b, static_cast<u32>(cmd.c));
        case regs::kCmdCopy: return Copy(cmd.a, cmd.b, cmd.c);
        case regs::kCmdBlit: return Blit(cmd.a, cmd.b, cmd.c);
        default: return {FaultReason::BadCommand, 0};
    }
}

template <typename F>
CopyEngine::Fault CopyEngine::ForEachPiece(u64 gva, u64 len, bool write, F&& fn) {
    if (len == 0) return {};
    if (len > regs::kMaxCommandBytes) return {FaultReason::BadCommand, gva};
    if (gva + len - 1 < gva || (gva + len - 1) >> kGvaBits) return {FaultReason::BadAddress, gva};
    for (u64 done = 0; done < len;) {
        const u64 at = gva + done;
        const u64 piece = std::min(len - done, PageRemainder(at));
        const GptTranslation t = shadow_.Translate(at, write);
        if (t.fault != FaultReason::None) return {t.fault, at};
        if (!fn(t.gpa, done, piece)) return {FaultReason::NotRam, at};
        done += piece;
    }
    return {};
}

CopyEngine::Fault CopyEngine::Fill(u64 gva, u64 len, u32 pattern) {
    // One page of the pattern plus three bytes, so any phase of it is a contiguous slice.
    std::array<u8, kPageSize + 3> bytes;
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<u8>(pattern >> (8 * (i % 4)));
    return ForEachPiece(gva, len, true, [&](Gpa gpa, u64 done, u64 piece) {
        if (!memory_.Write(gpa.value(), std::span<const u8>(bytes.data() + done % 4, piece))) return false;
        bytes_written_ += piece;
        return true;
    });
}

CopyEngine::Fault CopyEngine::Copy(u64 src, u64 dst, u64 len) {
    // Split by the destination's pages, then each piece by the source's.
    std::array<u8, kPageSize> buffer;
    Fault fault{};
    const Fault dst_fault = ForEachPiece(dst, len, true, [&](Gpa dst_gpa, u64 done, u64 piece) {
        fault = ForEachPiece(src + done, piece, false, [&](Gpa src_gpa, u64 sub_done, u64 sub_piece) {
            return memory_.Read(src_gpa.value(), std::span<u8>(buffer.data() + sub_done, sub_piece));
        });
        if (fault.reason != FaultReason::None) return true;  // reported below, as the source's fault
        if (!memory_.Write(dst_gpa.value(), std::span<const u8>(buffer.data(), piece))) return false;
        bytes_written_ += piece;
        return true;
    });
    if (fault.reason != FaultReason::None) return fault;
    return dst_fault;
}

CopyEngine::Fault CopyEngine::Blit(u64 src, u64 pitch, u64 rect) {
    const u32 x = rect & 0xFFFF, y = (rect >> 16) & 0xFFFF, w = (rect >> 32) & 0xFFFF, h = rect >> 48;
    if (w == 0 || h == 0) return {};
    const auto fits = [&](const ScanoutInfo& info) {
        return info.enabled && info.bpp == 32 && u64{x} + w <= info.width && u64{y} + h <= info.height;
    };
    if (!scanout_ || !fits(scanout_->Info())) return {FaultReason::BadCommand, src};
    // Gather the rectangle from guest memory first, so the display's lock is held only for the copy into VRAM.
    const u64 row_bytes = u64{w} * 4;
    std::vector<u8> pixels(row_bytes * h);
    for (u32 row = 0; row < h; ++row) {
        u8* target = pixels.data() + row * row_bytes;
        const Fault fault = ForEachPiece(src + u64{row} * pitch, row_bytes, false, [&](Gpa gpa, u64 done, u64 piece) {
            return memory_.Read(gpa.value(), std::span<u8>(target + done, piece));
        });
        if (fault.reason != FaultReason::None) return fault;
    }
    bool drawn = false;
    scanout_->WithVram([&](std::span<u8> vram, const ScanoutInfo& info) {
        if (!fits(info)) return;  // the guest changed the mode meanwhile
        for (u32 row = 0; row < h; ++row) {
            std::memcpy(vram.data() + info.offset + u64{info.pitch} * (y + row) + u64{x} * 4,
                        pixels.data() + row * row_bytes, row_bytes);
        }
        drawn = true;
    });
    return drawn ? Fault{} : Fault{FaultReason::BadCommand, src};
}

GpuEngineStats CopyEngine::Stats() const {
    std::lock_guard lock(run_mutex_);
    return GpuEngineStats{shadow_.Stats(), batches_, commands_, faults_, bytes_written_};
}

}  // namespace emu::devices::gpu
