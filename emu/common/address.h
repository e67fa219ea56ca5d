#pragma once
// Strong address types: a guest-physical, a guest-virtual (linear) address and a host pointer never
// convert into one another implicitly, so a missing translation is a compile error, not a bug.
#include <compare>

#include "emu/common/types.h"

namespace emu {

template <typename Tag>
class Address {
public:
    constexpr Address() = default;
    constexpr explicit Address(u64 value) : value_(value) {}
    constexpr u64 value() const { return value_; }
    constexpr u64 page() const { return value_ >> kPageShift; }
    constexpr u64 page_offset() const { return value_ & kPageMask; }
    constexpr Address operator+(u64 delta) const { return Address(value_ + delta); }
    constexpr Address operator-(u64 delta) const { return Address(value_ - delta); }
    constexpr u64 operator-(Address other) const { return value_ - other.value_; }
    constexpr auto operator<=>(const Address&) const = default;

private:
    u64 value_ = 0;
};

struct GpaTag {};
struct GvaTag {};
using Gpa = Address<GpaTag>;  // guest physical address
using Gva = Address<GvaTag>;  // guest linear (virtual) address

// Guest frame number: a guest-physical page index.
using Gfn = u64;
constexpr Gfn GfnOf(Gpa gpa) { return gpa.page(); }
constexpr Gpa GpaOf(Gfn gfn) { return Gpa(gfn << kPageShift); }

// A host pointer into guest-backing memory.
class HostPtr {
public:
    constexpr HostPtr() = default;
    constexpr explicit HostPtr(u8* ptr) : ptr_(ptr) {}
    constexpr u8* get() const { return ptr_; }
    constexpr HostPtr operator+(u64 delta) const { return HostPtr(ptr_ + delta); }
    constexpr explicit operator bool() const { return ptr_ != nullptr; }
    constexpr auto operator<=>(const HostPtr&) const = default;

private:
    u8* ptr_ = nullptr;
};

}  // namespace emu
