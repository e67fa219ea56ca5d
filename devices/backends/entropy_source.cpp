#include "devices/backends/entropy_source.h"

#include <sys/random.h>

#include <cerrno>

namespace emu::devices {

bool HostEntropy::Fill(std::span<u8> bytes) {
    for (size_t done = 0; done < bytes.size();) {
        const ssize_t n = getrandom(bytes.data() + done, bytes.size() - done, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

}  // namespace emu::devices
