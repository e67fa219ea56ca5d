#pragma once
// The one-register platform ports: isa-debug-exit, pc-testdev, the Bochs power-off port, the POST port and
// system control port A. Each reports guest requests through a callback the machine installs; callbacks run
// on the vCPU thread that did the access, with no device lock held.
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "devices/bus/io_device.h"
#include "devices/irq/irq_line.h"
#include "emu/common/types.h"

namespace emu::devices {

// QEMU's isa-debug-exit (port 0xF4): writing v asks the emulator to exit with status (v << 1) | 1, so a test
// guest can report pass/fail through the exit code and never collide with a clean exit(0).
class DebugExit final : public IoDevice {
public:
    explicit DebugExit(std::function<void(int status)> on_exit) : on_exit_(std::move(on_exit)) {}
    void Read(u64, std::span<u8> data) override;
    void Write(u64, std::span<const u8> data) override;

private:
    std::function<void(int)> on_exit_;
};

// QEMU's pc-testdev ports used by kvm-unit-tests: a 4-byte read-back latch at 0xE0-0xE3 (each byte lane is
// kept, so byte, word and dword accesses all read back what was written), the page-flush port at 0xE4, and a 64 KiB
// MMIO window (platform::kTestdevIomemBase) that reads back what was written, at any width.
class PcTestdev {
public:
    explicit PcTestdev(std::function<void(u32 address)> on_flush_page = {});
    IoDevice& LatchPorts() { return latch_; }  // insert at platform::kTestdevLatchPort, 4 ports
    IoDevice& FlushPort() { return flush_; }   // insert at platform::kTestdevFlushPort, 4 ports
    IoDevice& Iomem() { return iomem_; }       // insert at platform::kTestdevIomemBase, kTestdevIomemSize bytes

private:
    std::mutex mutex_;
    u8 latch_bytes_[4] = {};
    u8 flush_bytes_[4] = {};
    std::vector<u8> iomem_bytes_;
    std::function<void(u32)> on_flush_page_;
    IoDeviceThunk latch_;
    IoDeviceThunk flush_;
    IoDeviceThunk iomem_;
};

// The Bochs/QEMU BIOS power-off port (0x8900): writing the characters of "Shutdown" in order powers off.
class BochsShutdownPort final : public IoDevice {
public:
    explicit BochsShutdownPort(std::function<void()> on_shutdown) : on_shutdown_(std::move(on_shutdown)) {}
    void Read(u64, std::span<u8> data) override;
    void Write(u64, std::span<const u8> data) override;

private:
    std::mutex mutex_;
    size_t matched_ = 0;  // characters of "Shutdown" seen in sequence
    std::function<void()> on_shutdown_;
};

// Port 0x80: POST codes, written by BIOSes and used by Linux as an I/O delay. Writes are ignored; claiming the
// port keeps it out of the unclaimed-port log.
class PostPort final : public IoDevice {
public:
    void Read(u64, std::span<u8> data) override;
    void Write(u64, std::span<const u8>) override {}
};

// The PC's FERR# path: with CR0.NE = 0 the CPU reports an unmasked x87 error on FERR#, which the chipset turns
// into ISA IRQ13 and holds until software writes to port 0xF0 (the "clear coprocessor busy" port). Raise() is
// the CPU side; the port is the clear side.
class FpuErrorLatch final : public IoDevice {
public:
    explicit FpuErrorLatch(IrqLine& irq13) : irq13_(irq13) {}
    void Raise() { irq13_.Raise(); }
    void Read(u64, std::span<u8> data) override;
    void Write(u64, std::span<const u8>) override { irq13_.Lower(); }

private:
    IrqLine& irq13_;
};

// System control port A (0x92): bit 1 gates A20, writing bit 0 = 1 resets the CPU ("fast reset").
class SystemControlPortA final : public IoDevice {
public:
    SystemControlPortA(std::function<void()> on_reset, std::function<void(bool enabled)> on_a20 = {})
        : on_reset_(std::move(on_reset)), on_a20_(std::move(on_a20)) {}
    void Read(u64, std::span<u8> data) override;
    void Write(u64, std::span<const u8> data) override;
    bool A20Enabled() const;

private:
    mutable std::mutex mutex_;
    u8 value_ = 0;
    std::function<void()> on_reset_;
    std::function<void(bool)> on_a20_;
};

}  // namespace emu::devices
