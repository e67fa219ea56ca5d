#pragma once
// CopyEngine: the GPU's copy/fill engine, the IoDevice behind its engine MMIO BAR (register layout: regs.h,
// page-table format: gpu_pt.h). It runs a batch of FILL / COPY / BLIT commands synchronously at the DOORBELL
// write, reaching guest memory only by gva through its GpuShadow and then through the memslots (DmaMemory), so
// it never touches host memory outside a slot, and its writes reach page-track like a CPU store's (a COPY onto
// a CPU page table or onto translated code is noticed; one onto a GPU table re-enters its own shadow).
//
// The PCI function (devices/gpu/gpu_device.h) owns the engine, maps it as BAR4 and connects it to its INTA#
// (level: INT_STATUS & INT_ENABLE != 0) and to the display's scanout, where BLIT draws (32-bit pixels only).
//
// Threads: register accesses from any vCPU are serialised by run_mutex_; a batch runs with it held (but not the
// shadow's mutex while it writes guest memory, see gpu_shadow.h).
#include <functional>
#include <mutex>
#include <span>
#include <string>

#include "devices/bus/io_device.h"
#include "devices/gpu/engine/gpu_shadow.h"
#include "devices/gpu/engine/regs.h"
#include "devices/gpu/gpu_engine_port.h"
#include "devices/virtio/dma_memory.h"

namespace emu::devices::gpu {

struct GpuEngineStats {
    GpuShadowStats shadow;
    u64 batches = 0;
    u64 commands = 0;
    u64 faults = 0;
    u64 bytes_written = 0;
    std::string ToString() const;
};

class CopyEngine final : public GpuEngine {
public:
    // The shadow registers a page-track client (enabling write tracking); slots and page_track must outlive the
    // engine.
    CopyEngine(mmu::Memslots& slots, mmu::PageTrack& page_track);
    ~CopyEngine() override;  // logs the final statistics (-d gpu)

    u64 BarSize() const override { return regs::kBarSize; }
    void Connect(std::function<void(bool level)> set_irq, Scanout& scanout) override;

    void Read(u64 offset, std::span<u8> data) override;
    void Write(u64 offset, std::span<const u8> data) override;

    GpuEngineStats Stats() const;
    GpuShadow& shadow() { return shadow_; }

private:
    struct Fault {
        regs::FaultReason reason = regs::FaultReason::None;
        u64 gva = 0;
    };

    u32 ReadReg(u64 offset);
    void WriteReg(u64 offset, u32 value);
    void RunBatch();
    Fault RunCommand(const regs::GpuCommand& cmd);
    Fault Fill(u64 gva, u64 len, u32 pattern);
    Fault Copy(u64 src, u64 dst, u64 len);
    Fault Blit(u64 src, u64 pitch, u64 rect);
    // Calls fn(gpa, offset, piece) per page piece of [gva, gva + len) after translating it; stops at a fault.
    template <typename F>
    Fault ForEachPiece(u64 gva, u64 len, bool write, F&& fn);
    void UpdateIrq();

    mmu::PageTrack& page_track_;
    virtio::DmaMemory memory_;
    GpuShadow shadow_;
    std::function<void(bool level)> irq_;
    Scanout* scanout_ = nullptr;

    mutable std::mutex run_mutex_;
    u64 ctx_root_ = 0, batch_ = 0, fence_addr_ = 0, fence_value_ = 0;
    u32 batch_count_ = 0, ctx_status_ = 0;
    u32 int_status_ = 0, int_enable_ = 0;
    Fault last_fault_;
    u32 fault_cmd_ = 0;
    u64 query_gfn_ = 0;
    u32 list_index_ = 0;
    u64 batches_ = 0, commands_ = 0, faults_ = 0, bytes_written_ = 0;
};

}  // namespace emu::devices::gpu
