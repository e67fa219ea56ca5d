#include "emu/common/guest_ram.h"

namespace emu::guest_ram {

void CopyBytes(void* dst, const void* src, size_t size) { std::memmove(dst, src, size); }

void FillBytes(u8* dst, u8 value, size_t size) { std::memset(dst, value, size); }

}  // namespace emu::guest_ram
