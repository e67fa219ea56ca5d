#pragma once
// Block storage as a disk device model sees it: byte-addressed reads and writes, a flush that makes every completed
// write durable, and cheap discard / write-zeroes when the host can do them.
#include <memory>
#include <span>
#include <string>

#include "emu/common/result.h"
#include "emu/common/types.h"

namespace emu::devices {

class BlockBackend {
public:
    virtual ~BlockBackend() = default;
    virtual u64 SizeBytes() const = 0;
    virtual bool ReadOnly() const = 0;
    // False on a host I/O error (or a range past the end). Any thread; calls may run concurrently.
    virtual bool Read(u64 offset, std::span<u8> bytes) = 0;
    virtual bool Write(u64 offset, std::span<const u8> bytes) = 0;
    // Every write that returned before this call is on stable storage when it returns true.
    virtual bool Flush() = 0;
    // The range reads as zeroes afterwards; Discard may also give the space back to the host.
    virtual bool WriteZeroes(u64 offset, u64 size) = 0;
    virtual bool Discard(u64 offset, u64 size) = 0;
};

// -drive cache=: what a completed write means (QEMU's modes).
enum class CacheMode {
    Writeback,     /*!< in the host page cache; durable after FLUSH (fdatasync). The default */
    Writethrough,  /*!< durable when the write completes (O_DSYNC) */
    Unsafe,        /*!< FLUSH does nothing: fast, and a host crash may lose data */
};

enum class DiskError {
    OpenFailed,   /*!< cannot open the disk image */
    NotRegular,   /*!< the disk image is not a regular file or block device */
    Locked,       /*!< the disk image is in use by another process (it holds a lock on it) */
    SizeUnknown,  /*!< cannot determine the disk image's size */
};

const char* DiskErrorMessage(DiskError error);

// A raw image file. Opening takes an open-file-description lock on the whole file: a write lock for a read-write
// image, a read lock for a read-only one, so that two emulators never write one image (or one reads while another
// writes). The lock goes with the file descriptor at close.
class RawImage final : public BlockBackend {
public:
    static Result<std::unique_ptr<RawImage>, DiskError> Open(const std::string& path, bool read_only, CacheMode cache);
    ~RawImage() override;
    RawImage(const RawImage&) = delete;
    RawImage& operator=(const RawImage&) = delete;

    u64 SizeBytes() const override { return size_; }
    bool ReadOnly() const override { return read_only_; }
    bool Read(u64 offset, std::span<u8> bytes) override;
    bool Write(u64 offset, std::span<const u8> bytes) override;
    bool Flush() override;
    bool WriteZeroes(u64 offset, u64 size) override;
    bool Discard(u64 offset, u64 size) override;

private:
    RawImage(int fd, u64 size, bool read_only, CacheMode cache)
        : fd_(fd), size_(size), read_only_(read_only), cache_(cache) {}
    bool InRange(u64 offset, u64 size) const { return offset <= size_ && size <= size_ - offset; }

    int fd_;
    u64 size_;
    bool read_only_;
    CacheMode cache_;
};

}  // namespace emu::devices
