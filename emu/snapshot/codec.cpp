#include "emu/snapshot/codec.h"

namespace emu::snapshot {

void Encoder::String(std::string_view s) {
    U32(static_cast<u32>(s.size()));
    Bytes(std::span<const u8>(reinterpret_cast<const u8*>(s.data()), s.size()));
}

bool Decoder::Bool(bool& v) {
    u8 byte = 0;
    if (!U8(byte) || byte > 1) return Fail();
    v = byte != 0;
    return true;
}

bool Decoder::Bytes(u64 size, std::span<const u8>& out) {
    if (!ok_ || remaining() < size) return Fail();
    out = data_.subspan(pos_, size);
    pos_ += size;
    return true;
}

bool Decoder::String(std::string& s) {
    u32 size = 0;
    std::span<const u8> raw;
    if (!U32(size) || !Bytes(size, raw)) return false;
    s.assign(reinterpret_cast<const char*>(raw.data()), raw.size());
    return true;
}

}  // namespace emu::snapshot
