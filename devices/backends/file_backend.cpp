#include "devices/backends/file_backend.h"

#include <cerrno>

#include <fcntl.h>
#include <unistd.h>

namespace emu::devices {

const char* BackendErrorMessage(BackendError error) {
    switch (error) {
    case BackendError::OpenFailed: return "cannot open the backend's host file";
    }
    return "unknown backend error";
}

Result<std::unique_ptr<FileBackend>, BackendError> FileBackend::Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Err(BackendError::OpenFailed);
    return std::unique_ptr<FileBackend>(new FileBackend(fd));
}

FileBackend::~FileBackend() { ::close(fd_); }

void FileBackend::Write(std::span<const u8> bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // disk full or similar: drop output rather than stall the guest
        bytes = bytes.subspan(static_cast<size_t>(n));
    }
}

}  // namespace emu::devices
