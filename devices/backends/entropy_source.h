#pragma once
// Random bytes for an entropy device (virtio-rng), from the host.
#include <span>

#include "emu/common/types.h"

namespace emu::devices {

class EntropySource {
public:
    virtual ~EntropySource() = default;
    // Fills bytes completely; false if the host could not.
    virtual bool Fill(std::span<u8> bytes) = 0;
};

// The host kernel's CSPRNG (getrandom(2), blocking only until the host pool is initialised at boot).
class HostEntropy final : public EntropySource {
public:
    bool Fill(std::span<u8> bytes) override;
};

}  // namespace emu::devices
