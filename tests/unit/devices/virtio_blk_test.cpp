// virtio-blk (virtio 1.2 section 5.2) over a raw image file: requests built in a small guest RAM, executed, and
// checked against the image on the host; read-only drives, bad requests, the image lock, the worker thread.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "devices/backends/block_backend.h"
#include "devices/virtio/blk/regs.h"
#include "devices/virtio/blk/virtio_blk.h"
#include "virtio_test_env.h"

using namespace emu;
using namespace emu::devices;
using namespace emu::devices::virtio;
using namespace emu::devices::virtio::test;

namespace {

constexpr u64 kImageBytes = 1 << 20;
constexpr u64 kHeader = 0x20000, kData = 0x30000, kStatus = 0x40000;

std::string TempImage(const char* name, u8 fill = 0) {
    const char* dir = std::getenv("EMU64_TMPDIR");
    const std::string path = std::string(dir ? dir : "/tmp") + "/" + name + "." + std::to_string(getpid()) + ".img";
    std::ofstream(path, std::ios::binary) << std::string(kImageBytes, static_cast<char>(fill));
    return path;
}

std::string ReadImage(const std::string& path, u64 offset, u64 size) {
    std::ifstream file(path, std::ios::binary);
    file.seekg(static_cast<std::streamoff>(offset));
    std::string bytes(size, '\0');
    file.read(bytes.data(), static_cast<std::streamsize>(size));
    return bytes;
}

struct BlkEnv {
    explicit BlkEnv(bool read_only = false, const char* name = "blk") : path(TempImage(name, 0xEE)) {
        auto opened = RawImage::Open(path, read_only, CacheMode::Writeback);
        REQUIRE(opened.ok());
        image = std::move(*opened);
        blk = std::make_unique<VirtioBlk>(*image, "emu64-test-serial-number-0123");
        REQUIRE(queue.Enable(driver.Layout(), 256, false, true).ok());
    }
    ~BlkEnv() {
        blk.reset();
        image.reset();
        std::filesystem::remove(path);
    }
    // Makes header (type, sector) + data buffer (`data_len` bytes, writable for reads) + status available.
    void Make(u32 type, u64 sector, u32 data_len, bool data_writable) {
        guest.Put<u32>(kHeader, type);
        guest.Put<u32>(kHeader + 4, 0);
        guest.Put<u64>(kHeader + 8, sector);
        guest.Put<u8>(kStatus, 0xFF);
        u16 next = 1;
        driver.SetDesc(0, kHeader, blk::kHeaderSize, desc::kNext, next);
        if (data_len) {
            driver.SetDesc(next, kData, data_len, static_cast<u16>(desc::kNext | (data_writable ? desc::kWrite : 0)),
                           next + 1);
            ++next;
        }
        driver.SetDesc(next, kStatus, 1, desc::kWrite);
        driver.MakeAvailable(0);
    }
    // Pops and executes the request; returns the status byte.
    u8 Run(u32* written = nullptr) {
        auto popped = queue.Pop();
        REQUIRE(popped.ok());
        REQUIRE(popped->has_value());
        const u32 n = blk->Execute(guest.memory, **popped);
        if (written) *written = n;
        return guest.Get<u8>(kStatus);
    }

    std::string path;
    FakeGuest guest;
    QueueDriver driver{guest, 8};
    SplitQueue queue{guest.memory};
    std::unique_ptr<RawImage> image;
    std::unique_ptr<VirtioBlk> blk;
};

}  // namespace

TEST_CASE("virtio-blk writes reach the image and reads bring them back", "[virtio][blk]") {
    BlkEnv env;
    for (u32 i = 0; i < 4096; ++i) env.guest.Put<u8>(kData + i, static_cast<u8>(i * 7));
    env.Make(blk::kTypeOut, 3, 4096, false);
    u32 written = 0;
    CHECK(env.Run(&written) == blk::kStatusOk);
    CHECK(written == 1);
    const std::string on_disk = ReadImage(env.path, 3 * 512, 4096);
    CHECK(std::memcmp(on_disk.data(), env.guest.At(kData), 4096) == 0);
    CHECK(ReadImage(env.path, 3 * 512 - 1, 1) == "\xEE");

    std::memset(env.guest.At(kData), 0, 4096);
    env.Make(blk::kTypeIn, 3, 4096, true);
    CHECK(env.Run(&written) == blk::kStatusOk);
    CHECK(written == 4097);
    CHECK(std::memcmp(on_disk.data(), env.guest.At(kData), 4096) == 0);

    env.Make(blk::kTypeFlush, 0, 0, false);
    CHECK(env.Run() == blk::kStatusOk);
}

TEST_CASE("a read-only drive refuses writes, discards and write-zeroes with IOERR and keeps the image",
          "[virtio][blk]") {
    BlkEnv env(true, "blk-ro");
    CHECK((env.blk->Features() & blk::feature::kReadOnly) != 0);
    std::memset(env.guest.At(kData), 0x11, 512);
    env.Make(blk::kTypeOut, 0, 512, false);
    CHECK(env.Run() == blk::kStatusIoErr);
    env.guest.Put<u64>(kData, 0);
    env.guest.Put<u32>(kData + 8, 1);
    env.guest.Put<u32>(kData + 12, 0);
    env.Make(blk::kTypeDiscard, 0, 16, false);
    CHECK(env.Run() == blk::kStatusIoErr);
    env.Make(blk::kTypeWriteZeroes, 0, 16, false);
    CHECK(env.Run() == blk::kStatusIoErr);
    CHECK(ReadImage(env.path, 0, kImageBytes) == std::string(kImageBytes, '\xEE'));
    env.Make(blk::kTypeIn, 0, 512, true);
    CHECK(env.Run() == blk::kStatusOk);  // reads still work
}

TEST_CASE("write-zeroes and discard zero their range only", "[virtio][blk]") {
    BlkEnv env;
    env.guest.Put<u64>(kData, 8);    // sector
    env.guest.Put<u32>(kData + 8, 8);  // sectors
    env.guest.Put<u32>(kData + 12, 0);
    env.Make(blk::kTypeWriteZeroes, 0, 16, false);
    CHECK(env.Run() == blk::kStatusOk);
    CHECK(ReadImage(env.path, 8 * 512, 4096) == std::string(4096, '\0'));
    CHECK(ReadImage(env.path, 8 * 512 - 1, 1) == "\xEE");
    CHECK(ReadImage(env.path, 16 * 512, 1) == "\xEE");
    env.guest.Put<u64>(kData, 64);
    env.Make(blk::kTypeDiscard, 0, 16, false);
    CHECK(env.Run() == blk::kStatusOk);
    CHECK(ReadImage(env.path, 64 * 512, 4096) == std::string(4096, '\0'));
}

TEST_CASE("GET_ID returns the serial in 20 bytes", "[virtio][blk]") {
    BlkEnv env;
    env.Make(blk::kTypeGetId, 0, blk::kIdBytes, true);
    u32 written = 0;
    CHECK(env.Run(&written) == blk::kStatusOk);
    CHECK(written == 21);
    CHECK(std::string(reinterpret_cast<const char*>(env.guest.At(kData)), 20) == "emu64-test-serial-nu");
}

TEST_CASE("requests past the end fail with IOERR, unknown types with UNSUPP", "[virtio][blk]") {
    BlkEnv env;
    env.Make(blk::kTypeIn, kImageBytes / 512 - 1, 1024, true);
    CHECK(env.Run() == blk::kStatusIoErr);
    env.Make(blk::kTypeOut, ~u64{0} / 512, 512, false);  // sector * 512 would wrap
    CHECK(env.Run() == blk::kStatusIoErr);
    env.Make(99, 0, 0, false);
    CHECK(env.Run() == blk::kStatusUnsupported);
    CHECK(ReadImage(env.path, 0, kImageBytes) == std::string(kImageBytes, '\xEE'));
}

TEST_CASE("a request without a status byte or with a short header is answered without a crash", "[virtio][blk]") {
    BlkEnv env;
    env.driver.SetDesc(0, kHeader, blk::kHeaderSize, 0);  // no writable descriptor at all
    env.driver.MakeAvailable(0);
    u32 written = 7;
    env.Run(&written);
    CHECK(written == 0);
    env.driver.SetDesc(0, kHeader, 8, desc::kNext, 1);  // half a header
    env.driver.SetDesc(1, kStatus, 1, desc::kWrite);
    env.driver.MakeAvailable(0);
    CHECK(env.Run() == blk::kStatusIoErr);
}

TEST_CASE("an image is locked against a second writer", "[virtio][blk]") {
    const std::string path = TempImage("blk-lock");
    {
        auto first = RawImage::Open(path, false, CacheMode::Writeback);
        REQUIRE(first.ok());
        auto second = RawImage::Open(path, false, CacheMode::Writeback);
        REQUIRE_FALSE(second.ok());
        CHECK(second.error() == DiskError::Locked);
        CHECK(RawImage::Open(path, true, CacheMode::Writeback).error() == DiskError::Locked);
    }
    {
        auto reader1 = RawImage::Open(path, true, CacheMode::Writeback);
        auto reader2 = RawImage::Open(path, true, CacheMode::Writeback);
        CHECK(reader1.ok());
        CHECK(reader2.ok());  // readers share
        CHECK(RawImage::Open(path, false, CacheMode::Writeback).error() == DiskError::Locked);
    }
    CHECK(RawImage::Open(path, false, CacheMode::Writeback).ok());  // locks went with the descriptors
    CHECK(RawImage::Open(path + ".missing", false, CacheMode::Writeback).error() == DiskError::OpenFailed);
    std::filesystem::remove(path);
}

TEST_CASE("notified requests run on the worker thread and complete through the transport", "[virtio][blk]") {
    BlkEnv env;
    DirectQueues queues(env.guest, {&env.queue});
    env.blk->Activate(queues, 0);
    std::memset(env.guest.At(kData), 0x42, 512);
    env.Make(blk::kTypeOut, 1, 512, false);
    env.blk->QueueNotify(0);
    for (int i = 0; i < 500 && queues.Completed().empty(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    CHECK(queues.Completed() == std::vector<std::pair<unsigned, u32>>{{0, 1}});
    CHECK(env.guest.Get<u8>(kStatus) == blk::kStatusOk);
    CHECK(ReadImage(env.path, 512, 512) == std::string(512, '\x42'));
    env.blk->Reset();  // returns with the worker idle
}
