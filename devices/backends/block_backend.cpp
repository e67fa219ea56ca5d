#include "devices/backends/block_backend.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace emu::devices {

namespace {

// Repeats a partial pread/pwrite (step(done) transfers from `done` on) until `size` bytes moved; false on an error
// or end of file.
template <typename Step>
bool TransferAll(size_t size, Step&& step) {
    for (size_t done = 0; done < size;) {
        const ssize_t n = step(done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

}  // namespace

const char* DiskErrorMessage(DiskError error) {
    switch (error) {
        case DiskError::OpenFailed: return "cannot open the disk image";
        case DiskError::NotRegular: return "the disk image is not a regular file or block device";
        case DiskError::Locked: return "the disk image is in use by another process (it holds a lock on it)";
        case DiskError::SizeUnknown: return "cannot determine the disk image's size";
    }
    return "disk image error";
}

Result<std::unique_ptr<RawImage>, DiskError> RawImage::Open(const std::string& path, bool read_only, CacheMode cache) {
    int flags = (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (cache == CacheMode::Writethrough && !read_only) flags |= O_DSYNC;
    const int fd = open(path.c_str(), flags);
    if (fd < 0) return Err(DiskError::OpenFailed);
    auto fail = [fd](DiskError error) {
        close(fd);
        return Err(error);
    };
    struct stat st {};
    if (fstat(fd, &st) != 0) return fail(DiskError::SizeUnknown);
    u64 size = 0;
    if (S_ISREG(st.st_mode)) {
        size = static_cast<u64>(st.st_size);
    } else if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &size) != 0) return fail(DiskError::SizeUnknown);
    } else {
        return fail(DiskError::NotRegular);
    }
    // Open file description locks (not process-associated POSIX locks): a second open in this same process is
    // refused too, and closing another descriptor of the file does not drop the lock.
    struct flock lock {};
    lock.l_type = read_only ? F_RDLCK : F_WRLCK;
    lock.l_whence = SEEK_SET;
    if (fcntl(fd, F_OFD_SETLK, &lock) != 0) return fail(DiskError::Locked);
    return std::unique_ptr<RawImage>(new RawImage(fd, size, read_only, cache));
}

RawImage::~RawImage() { close(fd_); }

bool RawImage::Read(u64 offset, std::span<u8> bytes) {
    if (!InRange(offset, bytes.size())) return false;
    return TransferAll(bytes.size(), [&](size_t done) {
        return pread(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    });
}

bool RawImage::Write(u64 offset, std::span<const u8> bytes) {
    if (read_only_ || !InRange(offset, bytes.size())) return false;
    return TransferAll(bytes.size(), [&](size_t done) {
        return pwrite(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    });
}

bool RawImage::Flush() {
    if (read_only_ || cache_ == CacheMode::Unsafe) return true;
    return fdatasync(fd_) == 0;
}

bool RawImage::WriteZeroes(u64 offset, u64 size) {
    if (read_only_ || !InRange(offset, size)) return false;
    if (size == 0) return true;
    if (fallocate(fd_, FALLOC_FL_ZERO_RANGE, static_cast<off_t>(offset), static_cast<off_t>(size)) == 0) return true;
    // Not every file system zeroes ranges: write the zeroes ourselves.
    std::vector<u8> zeroes(std::min<u64>(size, u64{1} << 20));
    for (u64 done = 0; done < size;) {
        const u64 piece = std::min<u64>(zeroes.size(), size - done);
        if (!Write(offset + done, std::span<const u8>(zeroes.data(), piece))) return false;
        done += piece;
    }
    return true;
}

bool RawImage::Discard(u64 offset, u64 size) {
    if (read_only_ || !InRange(offset, size)) return false;
    if (size == 0) return true;
    // Punching a hole keeps the file's size and makes the range read as zeroes; where the host cannot, discarding
    // is only a hint, so zeroing the range is also a correct answer.
    if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(size)) == 0) {
        return true;
    }
    return WriteZeroes(offset, size);
}

}  // namespace emu::devices
