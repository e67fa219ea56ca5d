// The device models on their queues (virtio 1.2 sections 5.1, 5.2, 5.3, 5.4) against a small guest RAM, with
// stand-ins for the host side: virtio-net frames in and out (the 12-byte header, frames waiting for receive
// buffers, a buffer too small), virtio-console bytes in and out, virtio-rng, and a virtio-blk reset while a request
// is in the middle of its host I/O.
#include <catch2/catch.hpp>

#include <chrono>
#include <condition_variable>
#include <future>
#include <thread>

#include "devices/backends/block_backend.h"
#include "devices/virtio/blk/regs.h"
#include "devices/virtio/blk/virtio_blk.h"
#include "devices/virtio/console/virtio_console.h"
#include "devices/virtio/net/regs.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/virtio/rng/virtio_rng.h"
#include "virtio_test_env.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::virtio;
using namespace emu::devices::virtio::test;

namespace {

using Completions = std::vector<std::pair<unsigned, u32>>;

// Receive queue 0 at the default addresses, transmit queue 1 shifted by 0x4000; buffers at 0x10000 and 0x20000.
struct TwoQueueEnv {
    TwoQueueEnv() {
        REQUIRE(rx.Enable(rx_driver.Layout(), 256, false, true).ok());
        REQUIRE(tx.Enable(tx_driver.Layout(), 256, false, true).ok());
    }
    static constexpr u64 kRxBuffer = 0x10000, kTxBuffer = 0x20000;

    FakeGuest guest;
    QueueDriver rx_driver{guest, 8}, tx_driver{guest, 8, 0x4000};
    SplitQueue rx{guest.memory}, tx{guest.memory};
    DirectQueues queues{guest, {&rx, &tx}};
};

class FakeNet final : public NetBackend {
public:
    void Send(std::span<const u8> frame) override { sent.emplace_back(frame.begin(), frame.end()); }
    void Inject(std::span<const u8> frame) { Deliver(frame); }
    std::vector<std::vector<u8>> sent;
};

std::vector<u8> Frame(size_t size, u8 seed) {
    std::vector<u8> frame(size);
    for (size_t i = 0; i < size; ++i) frame[i] = static_cast<u8>(seed + i);
    return frame;
}

}  // namespace

TEST_CASE("virtio-net sends each transmitted frame without its header", "[virtio][net]") {
    TwoQueueEnv env;
    FakeNet backend;
    VirtioNet net(backend, {0x52, 0x54, 0, 0x12, 0x34, 0x56});
    net.Activate(env.queues, 0);
    const std::vector<u8> frame = Frame(60, 7);
    std::memcpy(env.guest.At(TwoQueueEnv::kTxBuffer + 12), frame.data(), frame.size());
    // Header and frame split across two descriptors, the split inside the frame.
    env.tx_driver.SetDesc(0, TwoQueueEnv::kTxBuffer, 20, desc::kNext, 1);
    env.tx_driver.SetDesc(1, TwoQueueEnv::kTxBuffer + 20, 52, 0);
    env.tx_driver.MakeAvailable(0);
    net.QueueNotify(net::kTransmitQueue);
    REQUIRE(backend.sent.size() == 1);
    CHECK(backend.sent[0] == frame);
    CHECK(env.queues.Completed() == Completions{{net::kTransmitQueue, 0}});
    u8 mac[6];
    net.ReadConfig(net::kMacOffset, mac);
    CHECK(mac[5] == 0x56);
}

TEST_CASE("virtio-net drops a transmitted chain larger than any frame without copying it", "[virtio][net]") {
    TwoQueueEnv env;
    FakeNet backend;
    VirtioNet net(backend, {});
    net.Activate(env.queues, 0);
    // 1.5 MiB of readable buffers: three descriptors of 512 KiB, all in RAM.
    for (u16 i = 0; i < 3; ++i) {
        env.tx_driver.SetDesc(i, 0x40000 + (u64{i} << 19), 1 << 19, static_cast<u16>(i < 2 ? desc::kNext : 0), i + 1);
    }
    env.tx_driver.MakeAvailable(0);
    net.QueueNotify(net::kTransmitQueue);
    CHECK(backend.sent.empty());
    CHECK(env.queues.Completed() == Completions{{net::kTransmitQueue, 0}});
}

TEST_CASE("virtio-net frames wait for receive buffers and arrive behind a 12-byte header", "[virtio][net]") {
    TwoQueueEnv env;
    FakeNet backend;
    VirtioNet net(backend, {});
    backend.Inject(Frame(64, 1));  // no driver yet: the wire is down, the frame is lost
    net.Activate(env.queues, 0);
    const std::vector<u8> frame = Frame(100, 3);
    backend.Inject(frame);  // no receive buffer yet: it waits
    CHECK(env.queues.Completed().empty());
    env.rx_driver.SetDesc(0, TwoQueueEnv::kRxBuffer, 1526, desc::kWrite);
    env.rx_driver.MakeAvailable(0);
    net.QueueNotify(net::kReceiveQueue);
    CHECK(env.queues.Completed() == Completions{{net::kReceiveQueue, 112}});
    CHECK(env.guest.Get<u16>(TwoQueueEnv::kRxBuffer + net::kNumBuffersOffset) == 1);
    CHECK(std::memcmp(env.guest.At(TwoQueueEnv::kRxBuffer + 12), frame.data(), frame.size()) == 0);

    // A buffer too small for the frame: returned empty, nothing written past it.
    env.rx_driver.SetDesc(1, TwoQueueEnv::kRxBuffer + 0x1000, 40, desc::kWrite);
    env.rx_driver.MakeAvailable(1);
    env.guest.Put<u8>(TwoQueueEnv::kRxBuffer + 0x1000 + 40, 0xEE);
    backend.Inject(frame);
    CHECK(env.queues.Completed().back() == std::pair<unsigned, u32>{net::kReceiveQueue, 0});
    CHECK(env.guest.Get<u8>(TwoQueueEnv::kRxBuffer + 0x1000 + 40) == 0xEE);
}

TEST_CASE("virtio-console writes guest output to its backend and feeds host input to the guest", "[virtio][console]") {
    TwoQueueEnv env;
    BufferBackend backend;
    VirtioConsole console(backend);
    console.Activate(env.queues, 0);
    std::memcpy(env.guest.At(TwoQueueEnv::kTxBuffer), "hvc0 hello\n", 11);
    env.tx_driver.SetDesc(0, TwoQueueEnv::kTxBuffer, 11, 0);
    env.tx_driver.MakeAvailable(0);
    console.QueueNotify(1);
    const std::vector<u8> out = backend.TakeOutput();
    CHECK(std::string(out.begin(), out.end()) == "hvc0 hello\n");

    const std::string typed = "typed input that is longer than one buffer";
    backend.Inject(std::span<const u8>(reinterpret_cast<const u8*>(typed.data()), typed.size()));
    for (u16 i = 0; i < 2; ++i) {
        env.rx_driver.SetDesc(i, TwoQueueEnv::kRxBuffer + 0x100 * i, 32, desc::kWrite);
        env.rx_driver.MakeAvailable(i);
    }
    console.QueueNotify(0);
    CHECK(env.queues.Completed() == Completions{{1, 0}, {0, 32}, {0, 10}});
    CHECK(std::string(reinterpret_cast<const char*>(env.guest.At(TwoQueueEnv::kRxBuffer)), 32) +
          std::string(reinterpret_cast<const char*>(env.guest.At(TwoQueueEnv::kRxBuffer + 0x100)), 10) == typed);
}

TEST_CASE("virtio-rng fills the writable buffers with host entropy", "[virtio][rng]") {
    struct Constant final : EntropySource {
        bool Fill(std::span<u8> bytes) override {
            std::fill(bytes.begin(), bytes.end(), u8{0xAB});
            return true;
        }
    } source;
    TwoQueueEnv env;
    VirtioRng rng(source);
    rng.Activate(env.queues, 0);
    env.rx_driver.SetDesc(0, TwoQueueEnv::kRxBuffer, 100, desc::kWrite);
    env.rx_driver.MakeAvailable(0);
    env.rx_driver.SetDesc(1, TwoQueueEnv::kRxBuffer + 0x1000, 8, 0);  // nothing writable: nothing written
    env.rx_driver.MakeAvailable(1);
    rng.QueueNotify(0);
    CHECK(env.queues.Completed() == Completions{{0, 100}, {0, 0}});
    CHECK(env.guest.Get<u8>(TwoQueueEnv::kRxBuffer + 99) == 0xAB);
    CHECK(env.guest.Get<u8>(TwoQueueEnv::kRxBuffer + 100) == 0);
}

namespace {

// A disk whose writes wait at a gate, so that a test can reset the device while one is in progress.
class GatedDisk final : public BlockBackend {
public:
    u64 SizeBytes() const override { return 1 << 20; }
    bool ReadOnly() const override { return false; }
    bool Read(u64, std::span<u8> bytes) override {
        std::fill(bytes.begin(), bytes.end(), u8{0});
        return true;
    }
    bool Write(u64, std::span<const u8>) override {
        std::unique_lock lock(mutex_);
        ++writes_started_;
        changed_.notify_all();
        changed_.wait(lock, [&] { return open_; });
        return true;
    }
    bool Flush() override { return true; }
    bool WriteZeroes(u64, u64) override { return true; }
    bool Discard(u64, u64) override { return true; }

    void WaitForWrites(int n) {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, std::chrono::seconds(10), [&] { return writes_started_ >= n; });
    }
    int WritesStarted() {
        std::lock_guard lock(mutex_);
        return writes_started_;
    }
    void Open() {
        std::lock_guard lock(mutex_);
        open_ = true;
        changed_.notify_all();
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    int writes_started_ = 0;
    bool open_ = false;
};

}  // namespace

TEST_CASE("a virtio-blk reset waits for the request in flight, drops its completion and the queued ones",
          "[virtio][blk]") {
    TwoQueueEnv env;
    GatedDisk disk;
    VirtioBlk blk(disk, "gated");
    blk.Activate(env.queues, 0);
    for (u16 i = 0; i < 2; ++i) {  // two writes of one sector: header, data, status
        const u16 d = static_cast<u16>(3 * i);
        const u64 at = TwoQueueEnv::kRxBuffer + 0x1000 * i;
        env.guest.Put<u32>(at, blk::kTypeOut);
        env.rx_driver.SetDesc(d, at, 16, desc::kNext, d + 1);
        env.rx_driver.SetDesc(d + 1, at + 0x100, 512, desc::kNext, d + 2);
        env.rx_driver.SetDesc(d + 2, at + 0x400, 1, desc::kWrite);
        env.rx_driver.MakeAvailable(d);
    }
    blk.QueueNotify(0);
    disk.WaitForWrites(1);
    // The transport moves to a new generation, then resets the model; the reset must wait for the write.
    env.queues.NewGeneration();
    auto reset = std::async(std::launch::async, [&] { blk.Reset(); });
    CHECK(reset.wait_for(std::chrono::milliseconds(100)) == std::future_status::timeout);
    disk.Open();
    CHECK(reset.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(env.queues.Dropped() == 1);      // the request in flight completed into a reset device: dropped
    CHECK(env.queues.Completed().empty());
    CHECK(disk.WritesStarted() == 1);      // the queued request never ran
    CHECK(env.rx_driver.UsedIdx() == 0);
}
