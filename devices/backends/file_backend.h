#pragma once
// Guest output appended to a host file (QEMU's -serial file:PATH); no input.
#include <memory>
#include <span>
#include <string>

#include "devices/backends/char_backend.h"
#include "emu/common/result.h"

namespace emu::devices {

enum class BackendError {
    OpenFailed, /*!< cannot open the backend's host file */
};

const char* BackendErrorMessage(BackendError error);

class FileBackend final : public CharBackend {
public:
    // Creates or truncates path.
    static Result<std::unique_ptr<FileBackend>, BackendError> Open(const std::string& path);
    ~FileBackend() override;
    FileBackend(const FileBackend&) = delete;
    FileBackend& operator=(const FileBackend&) = delete;

    void Write(std::span<const u8> bytes) override;

private:
    explicit FileBackend(int fd) : fd_(fd) {}
    int fd_;
};

}  // namespace emu::devices
