#include "emu/machine/host_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace emu::machine {

namespace {

std::string Failure(const std::string& path, int error) {
    return "cannot read " + path + ": " + std::strerror(error);
}

}  // namespace

// POSIX calls rather than iostreams: a failing read() inside std::filebuf throws from a stream iterator, and the
// errno we want to report is lost there.
Result<std::vector<u8>, std::string> ReadHostFile(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Err(Failure(path, errno));
    struct stat st {};
    if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        const int error = S_ISDIR(st.st_mode) ? EISDIR : errno;
        close(fd);
        return Err(Failure(path, error));
    }
    std::vector<u8> bytes;
    // st_size is a hint only (0 for /proc files, stale if the file grows): read until end of file.
    bytes.reserve(S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) : 0);
    u8 chunk[1 << 16];
    for (;;) {
        const ssize_t n = read(fd, chunk, sizeof chunk);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const int error = errno;
            close(fd);
            return Err(Failure(path, error));
        }
        bytes.insert(bytes.end(), chunk, chunk + n);
    }
    close(fd);
    return bytes;
}

}  // namespace emu::machine
