// herald: how a published value becomes the bytes of an event.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace herald {

/// Turns a value into event bytes, once per publish.
///
/// Specialise `herald::codec<T>` with `static std::string encode(const T&)`, or
/// give your type an ADL-visible `std::string herald_encode(const T&)`:
/// @code
/// namespace shop { struct Order { int id; std::string state; };
///   std::string herald_encode(const Order& o) {
///     return "{\"id\":" + std::to_string(o.id) + ",\"state\":\"" + o.state + "\"}"; } }
/// herald::Broadcaster<shop::Order> hub;   // publish(topic, order) now works
/// @endcode
template <class T>
struct codec {
  static std::string encode(const T& v)
    requires requires { { herald_encode(v) } -> std::convertible_to<std::string>; }
  {
    return herald_encode(v);
  }
};

template <>
struct codec<std::string> {
  static std::string encode(const std::string& v) { return v; }
  static std::string encode(std::string&& v) { return std::move(v); }
  static std::string encode(std::string_view v) { return std::string(v); }
};

namespace detail {
template <class Byte>
struct byte_vector_codec {
  static std::string encode(const std::vector<Byte>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size());
  }
};
}  // namespace detail

template <> struct codec<std::vector<std::byte>> : detail::byte_vector_codec<std::byte> {};
template <> struct codec<std::vector<std::uint8_t>> : detail::byte_vector_codec<std::uint8_t> {};
template <> struct codec<std::vector<char>> : detail::byte_vector_codec<char> {};

/// A codec type for `T`: `Codec::encode(value)` yields the event bytes.
template <class C, class T>
concept CodecFor = requires(const T& v) {
  { C::encode(v) } -> std::convertible_to<std::string>;
};

}  // namespace herald
