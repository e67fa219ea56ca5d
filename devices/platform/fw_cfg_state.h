#pragma once
// Snapshot of fw_cfg: where the guest is in the item it reads (the items themselves are the machine's configuration).
#include "emu/common/types.h"

namespace emu::devices {

struct FwCfgState {
    u16 selector = 0;
    u64 position = 0;
};

}  // namespace emu::devices
