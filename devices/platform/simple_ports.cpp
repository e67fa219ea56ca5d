#include "devices/platform/simple_ports.h"

#include <algorithm>
#include <string_view>

#include "devices/platform/regs.h"

namespace emu::devices {

void DebugExit::Read(u64, std::span<u8> data) { std::fill(data.begin(), data.end(), u8{0}); }

void DebugExit::Write(u64, std::span<const u8> data) {
    const u64 value = LoadLe(data);
    if (on_exit_) on_exit_(static_cast<int>((value << 1) | 1));
}

PcTestdev::PcTestdev(std::function<void(u32)> on_flush_page)
    : on_flush_page_(std::move(on_flush_page)),
      latch_(
          [this](u64 offset, std::span<u8> data) {
              std::lock_guard lock(mutex_);
              std::copy_n(latch_bytes_ + offset, data.size(), data.begin());
          },
          [this](u64 offset, std::span<const u8> data) {
              std::lock_guard lock(mutex_);
              std::copy(data.begin(), data.end(), latch_bytes_ + offset);
          }),
      flush_(
          [this](u64 offset, std::span<u8> data) {
              std::lock_guard lock(mutex_);
              std::copy_n(flush_bytes_ + offset, data.size(), data.begin());
          },
          [this](u64 offset, std::span<const u8> data) {
              u32 address;
              {
                  std::lock_guard lock(mutex_);
                  std::copy(data.begin(), data.end(), flush_bytes_ + offset);
                  address = static_cast<u32>(LoadLe(flush_bytes_));
              }
              if (on_flush_page_) on_flush_page_(address);
          }),
      // The bus hands out accesses inside the window only, so offset + size never passes its end.
      iomem_(
          [this](u64 offset, std::span<u8> data) {
              std::lock_guard lock(mutex_);
              std::copy_n(iomem_bytes_.begin() + static_cast<std::ptrdiff_t>(offset), data.size(), data.begin());
          },
          [this](u64 offset, std::span<const u8> data) {
              std::lock_guard lock(mutex_);
              std::copy(data.begin(), data.end(), iomem_bytes_.begin() + static_cast<std::ptrdiff_t>(offset));
          }) {
    iomem_bytes_.resize(platform::kTestdevIomemSize);
}

void BochsShutdownPort::Read(u64, std::span<u8> data) { std::fill(data.begin(), data.end(), u8{0xFF}); }

void BochsShutdownPort::Write(u64, std::span<const u8> data) {
    static constexpr std::string_view kMagic = "Shutdown";
    bool fire = false;
    {
        std::lock_guard lock(mutex_);
        for (const u8 byte : data) {
            if (byte == static_cast<u8>(kMagic[matched_])) {
                if (++matched_ == kMagic.size()) {
                    fire = true;
                    matched_ = 0;
                }
            } else {
                matched_ = byte == static_cast<u8>(kMagic[0]) ? 1 : 0;
            }
        }
    }
    if (fire && on_shutdown_) on_shutdown_();
}

void PostPort::Read(u64, std::span<u8> data) { std::fill(data.begin(), data.end(), u8{0xFF}); }

void FpuErrorLatch::Read(u64, std::span<u8> data) { std::fill(data.begin(), data.end(), u8{0xFF}); }

void SystemControlPortA::Read(u64, std::span<u8> data) {
    std::lock_guard lock(mutex_);
    std::fill(data.begin(), data.end(), value_);
}

void SystemControlPortA::Write(u64, std::span<const u8> data) {
    if (data.empty()) return;
    const u8 value = data[0];
    bool a20_changed;
    {
        std::lock_guard lock(mutex_);
        a20_changed = (value_ ^ value) & platform::kPortAA20;
        value_ = value & platform::kPortAA20;  // the reset bit is a strobe and reads back 0
    }
    if (a20_changed && on_a20_) on_a20_(value & platform::kPortAA20);
    if ((value & platform::kPortAReset) && on_reset_) on_reset_();
}

bool SystemControlPortA::A20Enabled() const {
    std::lock_guard lock(mutex_);
    return value_ & platform::kPortAA20;
}

}  // namespace emu::devices
