// The virtio PCI transport (virtio 1.2 section 4.1) driven like Linux's virtio_pci_modern: capabilities, feature
// negotiation, queue set-up, notification, interrupts (INTx with the ISR, MSI-X), reset and DEVICE_NEEDS_RESET on
// malformed input.
#include <catch2/catch.hpp>

#include <map>

#include "device_test_util.h"
#include "devices/bus/bus.h"
#include "devices/pci/pci_host.h"
#include "devices/virtio/virtio_pci.h"
#include "virtio_test_env.h"

using namespace emu;

using namespace emu::devices::virtio;
using emu::devices::Bus;
using emu::devices::PciHost;
using emu::devices::LoadLe;
using emu::devices::StoreLe;
using namespace emu::devices::virtio::test;
namespace vpci = emu::devices::virtio::pci;

namespace {

constexpr u64 kBarBase = 0xFE000000;

// A device model that keeps what it pops, so that a test decides when requests complete.
class HoldingDevice final : public VirtioDevice {
public:
    DeviceType Type() const override { return DeviceType::Entropy; }
    u32 PciClass() const override { return 0x00FF00; }
    u64 Features() const override { return feature::kEventIdx | feature::kIndirectDesc | 1; }
    unsigned NumQueues() const override { return 2; }
    u16 MaxQueueSize(unsigned) const override { return 64; }
    u32 ConfigSize() const override { return 4; }
    void ReadConfig(u64 offset, std::span<u8> data) override {
        for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<u8>(0xC0 + offset + i);
    }
    void Activate(VirtioQueues& q, u64 features) override {
        queues = &q;
        negotiated = features;
    }
    void QueueNotify(unsigned index) override {
        ++notifications;
        while (auto r = queues->PopChain(index)) held.push_back(*r);
    }
    void Reset() override {
        ++resets;
        queues = nullptr;
    }

    VirtioQueues* queues = nullptr;
    u64 negotiated = 0;
    int notifications = 0, resets = 0;
    std::vector<Request> held;
};

struct TransportEnv {
    TransportEnv() {
        REQUIRE(host.Attach(3, 0, transport).ok());
        host.ConfigWrite(0, 3, 0, 0x10, 4, static_cast<u32>(kBarBase));
        host.ConfigWrite(0, 3, 0, 0x04, 2, 0x6);  // memory decoding and bus mastering
    }
    u64 Read(u64 offset, unsigned size) {
        u8 bytes[8] = {};
        REQUIRE(mmio.Read(kBarBase + offset, std::span<u8>(bytes, size)));
        return LoadLe(std::span<const u8>(bytes, size));
    }
    void Write(u64 offset, unsigned size, u64 value) {
        u8 bytes[8] = {};
        StoreLe(std::span<u8>(bytes, size), value);
        REQUIRE(mmio.Write(kBarBase + offset, std::span<const u8>(bytes, size)));
    }
    u8 Status() { return static_cast<u8>(Read(vpci::kDeviceStatus, 1)); }
    // Linux's order: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queues, DRIVER_OK.
    void Negotiate(u64 features) {
        Write(vpci::kDeviceStatus, 1, 0);
        Write(vpci::kDeviceStatus, 1, status::kAcknowledge | status::kDriver);
        for (u32 half = 0; half < 2; ++half) {
            Write(vpci::kDriverFeatureSelect, 4, half);
            Write(vpci::kDriverFeature, 4, static_cast<u32>(features >> (32 * half)));
        }
        Write(vpci::kDeviceStatus, 1, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
    }
    void SetUpQueue(u16 index, const QueueLayout& layout) {
        Write(vpci::kQueueSelect, 2, index);
        Write(vpci::kQueueSize, 2, layout.size);
        Write(vpci::kQueueDesc, 4, layout.desc);
        Write(vpci::kQueueDesc + 4, 4, layout.desc >> 32);
        Write(vpci::kQueueDriver, 8, layout.driver);
        Write(vpci::kQueueDevice, 8, layout.device);
        Write(vpci::kQueueEnable, 2, 1);
    }
    void DriverOk() {
        Write(vpci::kDeviceStatus, 1,
              status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
    }
    void Notify(u16 queue) { Write(vpci::kNotifyOffset + vpci::kNotifyOffMultiplier * queue, 2, queue); }
    // The whole driver start-up with queue 0 set up, then one chain (descriptor 0: `len` bytes, `flags`, linking to
    // `next`) made available and notified.
    void StartAndNotify(u32 len = 32, u16 flags = desc::kWrite, u16 next = 0) {
        Negotiate(feature::kVersion1);
        SetUpQueue(0, driver.Layout());
        DriverOk();
        driver.SetDesc(0, QueueDriver::kData, len, flags, next);
        driver.MakeAvailable(0);
        Notify(0);
    }

    FakeGuest guest;
    Bus io, mmio;
    PciHost host{io, mmio};
    HoldingDevice device;
    std::vector<std::pair<u64, u32>> msis;
    VirtioPciTransport transport{device, guest.memory, [this](u64 a, u32 d) { msis.emplace_back(a, d); }};
    QueueDriver driver{guest, 8};
};

// Walks the capability list and returns (cfg_type -> offset in the BAR) of the virtio structures.
std::map<u8, u32> VirtioCaps(PciHost& host) {
    std::map<u8, u32> caps;
    for (u8 at = static_cast<u8>(host.ConfigRead(0, 3, 0, 0x34, 1)); at != 0;
         at = static_cast<u8>(host.ConfigRead(0, 3, 0, at + 1, 1))) {
        if (host.ConfigRead(0, 3, 0, at, 1) != vpci::kCapVendorSpecific) continue;
        caps[static_cast<u8>(host.ConfigRead(0, 3, 0, at + 3, 1))] = host.ConfigRead(0, 3, 0, at + 8, 4);
    }
    return caps;
}

}  // namespace

TEST_CASE("the transport identifies as a modern virtio device with its four structures in BAR 0", "[virtio]") {
    TransportEnv env;
    CHECK(env.host.ConfigRead(0, 3, 0, 0, 2) == 0x1AF4);
    CHECK(env.host.ConfigRead(0, 3, 0, 2, 2) == 0x1044);  // 0x1040 + entropy
    CHECK(env.host.ConfigRead(0, 3, 0, 8, 1) >= 1);
    const auto caps = VirtioCaps(env.host);
    CHECK(caps.at(vpci::kCapCommonCfg) == vpci::kCommonCfgOffset);
    CHECK(caps.at(vpci::kCapIsrCfg) == vpci::kIsrOffset);
    CHECK(caps.at(vpci::kCapDeviceCfg) == vpci::kDeviceCfgOffset);
    CHECK(caps.at(vpci::kCapNotifyCfg) == vpci::kNotifyOffset);
    CHECK(env.Read(vpci::kNumQueues, 2) == 2);
    CHECK(env.Read(vpci::kQueueSize, 2) == 64);  // the maximum until the driver writes a size
    CHECK(env.Read(vpci::kDeviceCfgOffset + 1, 2) == 0xC2C1);
    env.Write(vpci::kDeviceFeatureSelect, 4, 1);
    CHECK(env.Read(vpci::kDeviceFeature, 4) == 1);  // VERSION_1 is bit 32
}

TEST_CASE("FEATURES_OK is refused without VERSION_1 or with features the device did not offer", "[virtio]") {
    TransportEnv env;
    env.Negotiate(feature::kEventIdx);
    CHECK_FALSE(env.Status() & status::kFeaturesOk);
    env.Negotiate(feature::kVersion1 | (u64{1} << 7));
    CHECK_FALSE(env.Status() & status::kFeaturesOk);
    env.Negotiate(feature::kVersion1 | 1);
    CHECK(env.Status() & status::kFeaturesOk);
}

TEST_CASE("a notified chain reaches the device; its completion raises INTx and the ISR", "[virtio]") {
    TransportEnv env;
    env.StartAndNotify();
    CHECK(env.device.queues != nullptr);
    REQUIRE(env.device.held.size() == 1);
    env.device.queues->Complete(0, env.device.held[0], 32);
    CHECK(env.driver.UsedIdx() == 1);
    CHECK(env.Read(vpci::kIsrOffset, 1) == vpci::kIsrQueue);
    CHECK(env.Read(vpci::kIsrOffset, 1) == 0);  // read-to-clear
    CHECK(env.msis.empty());
}

TEST_CASE("with MSI-X enabled a completion sends the queue's vector message", "[virtio]") {
    TransportEnv env;
    const u8 cap = [&] {
        for (u8 at = static_cast<u8>(env.host.ConfigRead(0, 3, 0, 0x34, 1)); at;
             at = static_cast<u8>(env.host.ConfigRead(0, 3, 0, at + 1, 1))) {
            if (env.host.ConfigRead(0, 3, 0, at, 1) == vpci::kCapMsix) return at;
        }
        return u8{0};
    }();
    REQUIRE(cap != 0);
    CHECK((env.host.ConfigRead(0, 3, 0, cap + 2, 2) & 0x7FF) == 2);  // three vectors: config + two queues
    env.host.ConfigWrite(0, 3, 0, cap + 2, 2, msix::kControlEnable);
    env.Write(vpci::kMsixTableOffset + 16 + 0, 4, 0xFEE00000);
    env.Write(vpci::kMsixTableOffset + 16 + 8, 4, 0x41);
    env.Negotiate(feature::kVersion1);
    env.Write(vpci::kQueueSelect, 2, 0);
    env.Write(vpci::kQueueMsixVector, 2, 1);
    CHECK(env.Read(vpci::kQueueMsixVector, 2) == 1);
    env.SetUpQueue(0, env.driver.Layout());
    env.DriverOk();
    env.driver.SetDesc(0, QueueDriver::kData, 32, desc::kWrite);
    env.driver.MakeAvailable(0);
    env.Notify(0);
    REQUIRE(env.device.held.size() == 1);
    env.device.queues->Complete(0, env.device.held[0], 0);
    CHECK(env.msis.empty());  // the entry is still masked: the message is pending
    CHECK(env.Read(vpci::kMsixPbaOffset, 1) == 0x2);
    env.Write(vpci::kMsixTableOffset + 16 + 12, 4, 0);
    REQUIRE(env.msis.size() == 1);
    CHECK(env.msis[0] == std::pair<u64, u32>{0xFEE00000, 0x41});
    CHECK(env.Read(vpci::kIsrOffset, 1) == 0);
}

TEST_CASE("a malformed chain sets DEVICE_NEEDS_RESET and a configuration interrupt; reset recovers", "[virtio]") {
    TransportEnv env;
    env.StartAndNotify(8, desc::kNext, 0);  // loops on itself
    CHECK(env.device.held.empty());
    CHECK(env.Status() & status::kDeviceNeedsReset);
    CHECK(env.Read(vpci::kIsrOffset, 1) == vpci::kIsrConfig);
    const int resets = env.device.resets;
    env.Write(vpci::kDeviceStatus, 1, 0);
    CHECK(env.Status() == 0);
    CHECK(env.device.resets == resets + 1);
    // After the reset the queue works again.
    env.guest.Put<u16>(QueueDriver::kAvail + 2, 0);
    env.driver.avail_idx = 0;
    env.StartAndNotify(8);
    CHECK(env.device.held.size() == 1);
}

TEST_CASE("enabling a queue whose size is not a power of two sets DEVICE_NEEDS_RESET", "[virtio]") {
    TransportEnv env;
    env.Negotiate(feature::kVersion1);
    QueueLayout layout = env.driver.Layout();
    layout.size = 6;
    env.SetUpQueue(0, layout);
    CHECK(env.Status() & status::kDeviceNeedsReset);
    CHECK(env.Read(vpci::kQueueEnable, 2) == 0);
}

TEST_CASE("a request completed after a device reset does not touch the new rings", "[virtio]") {
    TransportEnv env;
    env.StartAndNotify();
    REQUIRE(env.device.held.size() == 1);
    const Request stale = env.device.held[0];
    VirtioQueues* queues = env.device.queues;
    // The driver resets mid-request and sets the queue up again at the same addresses.
    env.Write(vpci::kDeviceStatus, 1, 0);
    env.guest.Put<u16>(QueueDriver::kAvail + 2, 0);
    env.Negotiate(feature::kVersion1);
    env.SetUpQueue(0, env.driver.Layout());
    env.DriverOk();
    queues->Complete(0, stale, 32);
    CHECK(env.driver.UsedIdx() == 0);
    CHECK(env.Read(vpci::kIsrOffset, 1) == 0);
}

TEST_CASE("a notification before DRIVER_OK or for a missing queue is ignored", "[virtio]") {
    TransportEnv env;
    env.Negotiate(feature::kVersion1);
    env.SetUpQueue(0, env.driver.Layout());
    env.Notify(0);
    env.Notify(7);
    CHECK(env.device.notifications == 0);
}

TEST_CASE("registers of a queue beyond num_queues read as zero and ignore writes", "[virtio]") {
    TransportEnv env;
    env.Negotiate(feature::kVersion1);
    env.Write(vpci::kQueueSelect, 2, 9);
    for (const u64 reg : {vpci::kQueueSize, vpci::kQueueMsixVector, vpci::kQueueEnable}) env.Write(reg, 2, 1);
    env.Write(vpci::kQueueDesc, 8, 0x1000);
    env.Write(vpci::kQueueDriver + 4, 4, 1);
    CHECK(env.Read(vpci::kQueueSize, 2) == 0);
    CHECK(env.Read(vpci::kQueueDesc, 8) == 0);
    CHECK_FALSE(env.Status() & status::kDeviceNeedsReset);
}

TEST_CASE("a queue's addresses cannot change while it is enabled", "[virtio]") {
    TransportEnv env;
    env.Negotiate(feature::kVersion1);
    env.SetUpQueue(0, env.driver.Layout());
    env.Write(vpci::kQueueDesc, 8, 0x7000);
    CHECK(env.Read(vpci::kQueueDesc, 8) == QueueDriver::kDesc);
}

TEST_CASE("a transport restored from a snapshot goes on where the saved one stopped", "[virtio]") {
    TransportEnv env;
    env.StartAndNotify();
    REQUIRE(env.device.held.size() == 1);
    env.device.queues->Complete(0, env.device.held[0], 32);
    const VirtioPciState saved = env.transport.SaveState();
    CHECK(saved.status & status::kDriverOk);
    CHECK(saved.queues[0].queue.last_avail == 1);

    // A second transport for the same guest RAM, in slot 4, restored and its device activated again.
    HoldingDevice device;
    VirtioPciTransport restored(device, env.guest.memory, {});
    REQUIRE(env.host.Attach(4, 0, restored).ok());
    restored.RestoreState(saved);
    CHECK(restored.SaveState().queues[0].queue.used_idx == 1);
    device.Activate(restored, saved.driver_features);
    env.driver.SetDesc(1, QueueDriver::kData + 0x100, 16, desc::kWrite);
    env.driver.MakeAvailable(1);
    device.QueueNotify(0);
    REQUIRE(device.held.size() == 1);  // only the new chain: the first one was consumed before the snapshot
    CHECK(device.held[0].chain.head == 1);
    restored.Complete(0, device.held[0], 16);
    CHECK(env.driver.UsedIdx() == 2);
    CHECK(env.driver.UsedId(1) == 1);
}
