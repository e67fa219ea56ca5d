#pragma once
// Result<T, E>: a value or an error enum. C++20 has no std::expected, so this is the small subset we use.
#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

namespace emu {

template <typename E>
struct Err {
    E error;
};
template <typename E>
Err(E) -> Err<E>;

template <typename T, typename E>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Err<E> err) : v_(std::in_place_index<1>, err.error) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { assert(ok()); return std::get<0>(v_); }
    const T& value() const { assert(ok()); return std::get<0>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    E error() const { assert(!ok()); return std::get<1>(v_); }

private:
    std::variant<T, E> v_;
};

// Result<void, E>: success or an error.
template <typename E>
class [[nodiscard]] Result<void, E> {
public:
    Result() = default;
    Result(Err<E> err) : ok_(false), error_(err.error) {}
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    E error() const { assert(!ok_); return error_; }

private:
    bool ok_ = true;
    E error_{};
};

}  // namespace emu
