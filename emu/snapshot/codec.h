#pragma once
// Byte encoding of snapshot sections: little-endian integers, length-prefixed strings and byte runs, and plain
// state structs copied whole with their size in front (a struct whose size changed is refused, not misread).
//
// Field() picks the encoding from the type (integers and bool, sequences as a count and their elements, other plain
// structs whole), so a state's field list can be written once for both directions:
//     template <typename Codec, typename State> bool Fields(Codec& c, State& s) { return c.Field(s.a) && c.Field(s.b); }
// serves Encoder (State const) and Decoder alike.
//
// Decoder never reads past its input: every getter returns false once the input is short or malformed, and stays
// false (so a caller may check once after a run of reads).
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "emu/common/types.h"

namespace emu::snapshot {

class Encoder {
public:
    void U8(u8 v) { bytes_.push_back(v); }
    void U16(u16 v) { Fixed(v); }
    void U32(u32 v) { Fixed(v); }
    void U64(u64 v) { Fixed(v); }
    void Bool(bool v) { U8(v ? 1 : 0); }
    void Bytes(std::span<const u8> data) { bytes_.insert(bytes_.end(), data.begin(), data.end()); }
    void String(std::string_view s);
    // A state struct that is plain data (the devices' *_state.h structs, CpuState).
    template <typename T>
    void Pod(const T& value) {
        static_assert(std::is_trivially_copyable_v<T>);
        U32(sizeof(T));
        Bytes(std::span<const u8>(reinterpret_cast<const u8*>(&value), sizeof(T)));
    }

    template <typename T>
    bool Field(const T& value) {
        if constexpr (std::is_same_v<T, bool>) {
            Bool(value);
        } else if constexpr (std::is_integral_v<T>) {
            Fixed(value);
        } else if constexpr (requires { value.begin(); value.size(); }) {
            U32(static_cast<u32>(value.size()));
            for (const auto& element : value) Field(element);
        } else {
            Pod(value);
        }
        return true;
    }

    std::vector<u8>& bytes() { return bytes_; }

private:
    template <typename T>
    void Fixed(T v) {
        for (unsigned i = 0; i < sizeof(T); ++i) bytes_.push_back(static_cast<u8>(v >> (8 * i)));
    }

    std::vector<u8> bytes_;
};

class Decoder {
public:
    explicit Decoder(std::span<const u8> data) : data_(data) {}

    bool U8(u8& v) { return Fixed(v); }
    bool U16(u16& v) { return Fixed(v); }
    bool U32(u32& v) { return Fixed(v); }
    bool U64(u64& v) { return Fixed(v); }
    bool Bool(bool& v);
    // The next `size` bytes, without copying.
    bool Bytes(u64 size, std::span<const u8>& out);
    bool String(std::string& s);
    // A struct with bool members names them with `BoolMembers(const T&)` (found by argument-dependent lookup, an
    // array of their addresses): a corrupt file must not leave a byte other than 0 or 1 in a bool, which would be
    // undefined behaviour to read.
    template <typename T>
    bool Pod(T& value) {
        static_assert(std::is_trivially_copyable_v<T>);
        u32 size = 0;
        std::span<const u8> raw;
        if (!U32(size) || size != sizeof(T) || !Bytes(size, raw)) return Fail();
        if constexpr (requires { BoolMembers(value); }) {
            for (const bool* member : BoolMembers(value)) {  // (addresses only: the old values are not read)
                const size_t offset = reinterpret_cast<const u8*>(member) - reinterpret_cast<const u8*>(&value);
                if (raw[offset] > 1) return Fail();
            }
        }
        std::memcpy(static_cast<void*>(&value), raw.data(), sizeof(T));
        return true;
    }

    template <typename T>
    bool Field(T& value) {
        if constexpr (std::is_same_v<T, bool>) {
            return Bool(value);
        } else if constexpr (std::is_integral_v<T>) {
            return Fixed(value);
        } else if constexpr (requires { value.clear(); value.push_back(typename T::value_type{}); }) {
            // Each element takes at least a byte: a corrupt count cannot ask for more elements than bytes are left.
            u32 count = 0;
            if (!U32(count) || count > remaining()) return Fail();
            value.clear();
            for (u32 i = 0; i < count; ++i) {
                typename T::value_type element{};
                if (!Field(element)) return false;
                value.push_back(element);
            }
            return true;
        } else {
            return Pod(value);
        }
    }

    bool ok() const { return ok_; }
    bool AtEnd() const { return ok_ && pos_ == data_.size(); }
    u64 remaining() const { return data_.size() - pos_; }

private:
    bool Fail() {
        ok_ = false;
        return false;
    }
    template <typename T>
    bool Fixed(T& v) {
        if (!ok_ || remaining() < sizeof(T)) return Fail();
        T out = 0;
        for (unsigned i = 0; i < sizeof(T); ++i) out = static_cast<T>(out | static_cast<T>(T{data_[pos_ + i]} << (8 * i)));
        pos_ += sizeof(T);
        v = out;
        return true;
    }

    std::span<const u8> data_;
    u64 pos_ = 0;
    bool ok_ = true;
};

}  // namespace emu::snapshot
