// herald: a small JSON utility: string escaping for the encoders, and a strict
// RFC 8259 DOM parser for the few documents herald reads (webhook endpoint
// registrations, JWT headers and claims). Not a general-purpose JSON library:
// it favours strictness and a bounded cost over speed and features.
#pragma once
#include <herald/config.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace herald::json {

/// Appends `utf8` to `out` as the body of a JSON string (no surrounding
/// quotes): `"` and `\` are escaped, control characters U+0000..U+001F become
/// `\n`, `\t`... or `\u00XX`. Every other byte (DEL, non-ASCII) is copied as is,
/// so valid UTF-8 stays valid UTF-8; the input is not validated.
namespace detail {
/// Bytes that need an escape in a JSON string: one table look-up per byte.
inline constexpr auto needs_escape = [] {
  struct Table { bool v[256] = {}; } t;
  for (int c = 0; c < 0x20; ++c) t.v[c] = true;
  t.v[static_cast<unsigned char>('"')] = true;
  t.v[static_cast<unsigned char>('\\')] = true;
  return t;
}();
}  // namespace detail

HERALD_DECL void append_escaped(std::string& out, std::string_view utf8) {
  static constexpr char hex[] = "0123456789abcdef";
  const char* p = utf8.data();
  const char* end = p + utf8.size();
  while (p != end) {
    // Fast path: copy the longest run that needs no escape in one append.
    const char* run = p;
    while (p != end && !detail::needs_escape.v[static_cast<unsigned char>(*p)]) ++p;
    if (p != run) out.append(run, static_cast<std::size_t>(p - run));
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p++);
    switch (c) {
      case '"': out.append("\\\"", 2); break;
      case '\\': out.append("\\\\", 2); break;
      case '\n': out.append("\\n", 2); break;
      case '\r': out.append("\\r", 2); break;
      case '\t': out.append("\\t", 2); break;
      case '\b': out.append("\\b", 2); break;
      case '\f': out.append("\\f", 2); break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
        out.append(esc, 6);
      }
    }
  }
}

/// Bytes `append_escaped(out, utf8)` would append; lets callers reserve once.
HERALD_DECL std::size_t escaped_size(std::string_view utf8) noexcept {
  std::size_t n = utf8.size();
  for (unsigned char c : utf8) {
    if (HERALD_LIKELY(!detail::needs_escape.v[c])) continue;
    n += (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' || c == '\b' || c == '\f') ? 1 : 5;
  }
  return n;
}

class Value;
using Array = std::vector<Value>;
/// Members in document order; duplicates are kept and `find` returns the first.
using Object = std::vector<std::pair<std::string, Value>>;

/// A JSON number: the double value, and the exact integer when the literal was
/// an integer that fits in int64 (so ids and timestamps past 2^53 stay exact).
struct Number {
  double value = 0;
  std::int64_t integer = 0;
  bool exact = false;  ///< `integer` holds the literal exactly
};

/// One parsed JSON value. Accessors return nullptr / nullopt on a kind
/// mismatch, so untrusted documents are read without exceptions.
class Value {
 public:
  Value() = default;  ///< null
  explicit Value(bool b) : v_(b) {}
  explicit Value(Number n) : v_(n) {}
  explicit Value(std::string s) : v_(std::move(s)) {}
  explicit Value(Array a) : v_(std::move(a)) {}
  explicit Value(Object o) : v_(std::move(o)) {}

  bool is_null() const noexcept { return v_.index() == 0; }
  bool is_bool() const noexcept { return v_.index() == 1; }
  bool is_number() const noexcept { return v_.index() == 2; }
  bool is_string() const noexcept { return v_.index() == 3; }
  bool is_array() const noexcept { return v_.index() == 4; }
  bool is_object() const noexcept { return v_.index() == 5; }

  std::optional<bool> as_bool() const noexcept {
    if (auto* b = std::get_if<bool>(&v_)) return *b;
    return std::nullopt;
  }
  std::optional<double> as_double() const noexcept {
    if (auto* n = std::get_if<Number>(&v_)) return n->value;
    return std::nullopt;
  }
  /// The number as int64 when it is integral and in range (`1`, `1.0`, `1e3`);
  /// nullopt otherwise (`1.5`, `1e300`, a string).
  std::optional<std::int64_t> as_int64() const noexcept {
    auto* n = std::get_if<Number>(&v_);
    if (!n) return std::nullopt;
    if (n->exact) return n->integer;
    // 2^63 is exactly representable; anything below it in magnitude converts.
    if (n->value >= -9223372036854775808.0 && n->value < 9223372036854775808.0 &&
        n->value == static_cast<double>(static_cast<std::int64_t>(n->value)))
      return static_cast<std::int64_t>(n->value);
    return std::nullopt;
  }
  const Number* as_number() const noexcept { return std::get_if<Number>(&v_); }
  const std::string* as_string() const noexcept { return std::get_if<std::string>(&v_); }
  const Array* as_array() const noexcept { return std::get_if<Array>(&v_); }
  const Object* as_object() const noexcept { return std::get_if<Object>(&v_); }

  /// The first member named `key`, or nullptr (also when not an object).
  const Value* find(std::string_view key) const noexcept {
    if (auto* o = std::get_if<Object>(&v_))
      for (auto& [k, v] : *o)
        if (k == key) return &v;
    return nullptr;
  }

 private:
  std::variant<std::nullptr_t, bool, Number, std::string, Array, Object> v_{nullptr};
};

namespace detail {

/// Recursive-descent parser; depth bounds recursion, so stack use is bounded.
class Parser {
 public:
  Parser(std::string_view s, std::size_t max_depth) : p_(s.data()), end_(s.data() + s.size()), max_depth_(max_depth) {}

  std::optional<Value> document() {
    std::optional<Value> v = value(0);
    skip_ws();
    if (!v || p_ != end_) return std::nullopt;  // trailing garbage
    return v;
  }

 private:
  void skip_ws() noexcept {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool literal(std::string_view word) noexcept {
    if (static_cast<std::size_t>(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  std::optional<Value> value(std::size_t depth) {
    skip_ws();
    if (p_ == end_) return std::nullopt;
    switch (*p_) {
      case 'n': if (literal("null")) return Value(); return std::nullopt;
      case 't': if (literal("true")) return Value(true); return std::nullopt;
      case 'f': if (literal("false")) return Value(false); return std::nullopt;
      case '"': { std::string s; if (!string(s)) return std::nullopt; return Value(std::move(s)); }
      case '[': return array(depth + 1);
      case '{': return object(depth + 1);
      default: return number();
    }
  }

  std::optional<Value> array(std::size_t depth) {
    if (depth > max_depth_) return std::nullopt;
    ++p_;  // '['
    Array a;
    skip_ws();
    if (p_ != end_ && *p_ == ']') { ++p_; return Value(std::move(a)); }
    for (;;) {
      auto v = value(depth);
      if (!v) return std::nullopt;
      a.push_back(std::move(*v));
      skip_ws();
      if (p_ == end_) return std::nullopt;
      if (*p_ == ']') { ++p_; return Value(std::move(a)); }
      if (*p_++ != ',') return std::nullopt;  // a ',' then ']' fails in value()
    }
  }

  std::optional<Value> object(std::size_t depth) {
    if (depth > max_depth_) return std::nullopt;
    ++p_;  // '{'
    Object o;
    skip_ws();
    if (p_ != end_ && *p_ == '}') { ++p_; return Value(std::move(o)); }
    for (;;) {
      skip_ws();
      std::string key;
      if (p_ == end_ || *p_ != '"' || !string(key)) return std::nullopt;
      skip_ws();
      if (p_ == end_ || *p_++ != ':') return std::nullopt;
      auto v = value(depth);
      if (!v) return std::nullopt;
      o.emplace_back(std::move(key), std::move(*v));
      skip_ws();
      if (p_ == end_) return std::nullopt;
      if (*p_ == '}') { ++p_; return Value(std::move(o)); }
      if (*p_++ != ',') return std::nullopt;
    }
  }

  std::optional<Value> number() {
    const char* start = p_;
    bool integral = true;
    if (p_ != end_ && *p_ == '-') ++p_;
    if (p_ == end_) return std::nullopt;
    if (*p_ == '0') ++p_;  // no leading zeros
    else if (*p_ >= '1' && *p_ <= '9') while (p_ != end_ && is_digit(*p_)) ++p_;
    else return std::nullopt;
    if (p_ != end_ && *p_ == '.') {
      integral = false;
      if (++p_ == end_ || !is_digit(*p_)) return std::nullopt;
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      integral = false;
      if (++p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !is_digit(*p_)) return std::nullopt;
      while (p_ != end_ && is_digit(*p_)) ++p_;
    }
    Number n;
    auto r = std::from_chars(start, p_, n.value);
    if (r.ec == std::errc::result_out_of_range) {
      // Underflow is a valid tiny number (rounds to zero); overflow has no
      // double and no JSON output form, so it is refused.
      if (!underflows(start, p_)) return std::nullopt;
      n.value = *start == '-' ? -0.0 : 0.0;
    } else if (r.ec != std::errc() || r.ptr != p_) {
      return std::nullopt;
    }
    // "-0" stays a double so that it prints back as "-0".
    if (integral && n.value != 0.0) n.exact = std::from_chars(start, p_, n.integer).ec == std::errc();
    else if (integral && *start != '-') n.exact = true;
    return Value(n);
  }

  /// Whether a validated number literal out of double range is below it
  /// (decimal magnitude negative) rather than above it.
  static bool underflows(const char* p, const char* end) noexcept {
    if (*p == '-') ++p;
    long mag = 0;
    if (*p == '0') {
      ++p;
      if (p != end && *p == '.') {
        ++p;
        mag = -1;
        while (p != end && *p == '0') { --mag; ++p; }
      }
    } else {
      while (p != end && is_digit(*p)) { ++mag; ++p; }
      --mag;
    }
    while (p != end && *p != 'e' && *p != 'E') ++p;
    long exp = 0;
    bool neg = false;
    if (p != end) {
      ++p;
      if (*p == '+' || *p == '-') neg = *p++ == '-';
      while (p != end) { if (exp < 100000) exp = exp * 10 + (*p - '0'); ++p; }
    }
    return mag + (neg ? -exp : exp) < 0;
  }

  static bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
  static int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool hex4(std::uint32_t& cp) noexcept {
    if (end_ - p_ < 4) return false;
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      int h = hex_value(*p_++);
      if (h < 0) return false;
      cp = cp << 4 | static_cast<std::uint32_t>(h);
    }
    return true;
  }
  static void put_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | cp >> 18);
      out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  /// Length of the valid UTF-8 sequence at p_ (RFC 3629: no overlongs, no
  /// surrogates, nothing past U+10FFFF), or 0.
  std::size_t utf8_len() const noexcept {
    auto b = [&](std::ptrdiff_t i) { return static_cast<unsigned char>(p_[i]); };
    const std::ptrdiff_t left = end_ - p_;
    const unsigned c = b(0);
    auto cont = [&](std::ptrdiff_t i) { return i < left && (b(i) & 0xC0) == 0x80; };
    if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
      if (!cont(1) || !cont(2)) return 0;
      if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) > 0x9F)) return 0;
      return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
      if (!cont(1) || !cont(2) || !cont(3)) return 0;
      if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) > 0x8F)) return 0;
      return 4;
    }
    return 0;
  }

  bool string(std::string& out) {
    ++p_;  // opening quote
    for (;;) {
      const char* run = p_;
      while (p_ != end_ && static_cast<unsigned char>(*p_) >= 0x20 && static_cast<unsigned char>(*p_) < 0x80 &&
             *p_ != '"' && *p_ != '\\')
        ++p_;
      out.append(run, static_cast<std::size_t>(p_ - run));
      if (p_ == end_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') { ++p_; return true; }
      if (c < 0x20) return false;  // raw control characters must be escaped
      if (c >= 0x80) {
        std::size_t n = utf8_len();
        if (n == 0) return false;
        out.append(p_, n);
        p_ += n;
        continue;
      }
      // backslash
      if (++p_ == end_) return false;
      switch (*p_++) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // lone low surrogate
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            std::uint32_t lo;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default: return false;
      }
    }
  }

  const char* p_;
  const char* end_;
  std::size_t max_depth_;
};

}  // namespace detail

/// Parses one JSON text (RFC 8259, strict: no comments, trailing commas, lone
/// surrogates, invalid UTF-8, numbers out of double range, trailing bytes).
/// Arrays and objects nest at most `max_depth` deep, which bounds recursion
/// on hostile input. Returns nullopt when the text is not accepted.
HERALD_DECL std::optional<Value> parse(std::string_view text, std::size_t max_depth = 32) {
  return detail::Parser(text, max_depth).document();
}

/// Appends the compact JSON form of `v` to `out`. Integers that parsed
/// exactly print as integers; other numbers print in the shortest form that
/// reads back to the same double, so parse(serialize(v)) equals v.
HERALD_DECL void serialize(std::string& out, const Value& v) {
  if (v.is_null()) {
    out += "null";
  } else if (auto b = v.as_bool()) {
    out += *b ? "true" : "false";
  } else if (auto* n = v.as_number()) {
    char buf[32];
    auto r = n->exact ? std::to_chars(buf, buf + sizeof buf, n->integer) : std::to_chars(buf, buf + sizeof buf, n->value);
    out.append(buf, r.ptr);
  } else if (auto* s = v.as_string()) {
    out += '"';
    append_escaped(out, *s);
    out += '"';
  } else if (auto* a = v.as_array()) {
    out += '[';
    for (std::size_t i = 0; i < a->size(); ++i) {
      if (i) out += ',';
      serialize(out, (*a)[i]);
    }
    out += ']';
  } else if (auto* o = v.as_object()) {
    out += '{';
    bool first = true;
    for (auto& [k, m] : *o) {
      if (!first) out += ',';
      first = false;
      out += '"';
      append_escaped(out, k);
      out += "\":";
      serialize(out, m);
    }
    out += '}';
  }
}

}  // namespace herald::json
