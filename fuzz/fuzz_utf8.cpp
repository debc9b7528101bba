// libFuzzer target for the incremental UTF-8 validator.
// Property: it agrees with a plain reference decoder written here from RFC
// 3629's definition (code point ranges, no table), on the verdict, on the
// offset of the first invalid byte, and whatever the split of the input.
#include <herald/websocket/utf8.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

using herald::websocket::Utf8Validator;

namespace {

// Says which property failed before aborting, so a crash report is readable.
#define check(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      std::fprintf(stderr, "property failed: %s (line %d)\n", #cond, __LINE__); \
      std::abort();                                                          \
    }                                                                        \
  } while (0)

struct Reference {
  std::size_t first_invalid;  // size if none
  bool complete;              // no truncated sequence at the end
};

/// Can a sequence of total length `len` that starts with bits `value` (with
/// `missing` continuation bytes still to come) still become a valid scalar?
bool extendable(std::uint32_t value, int missing, int len) {
  static constexpr std::uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
  const std::uint32_t lo = value << (6 * missing);
  const std::uint32_t hi = lo + ((1u << (6 * missing)) - 1);
  const std::uint32_t a = lo > min_for_len[len] ? lo : min_for_len[len];
  const std::uint32_t b = hi < 0x10FFFF ? hi : 0x10FFFF;
  if (a > b) return false;
  if (a >= 0xD800 && b <= 0xDFFF) return false;  // only surrogates left
  return true;
}

Reference reference(const std::uint8_t* p, std::size_t n) {
  int len = 0, missing = 0;
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint8_t c = p[i];
    if (missing == 0) {
      if (c < 0x80) continue;
      if ((c & 0xE0) == 0xC0) len = 2, value = c & 0x1F;
      else if ((c & 0xF0) == 0xE0) len = 3, value = c & 0x0F;
      else if ((c & 0xF8) == 0xF0) len = 4, value = c & 0x07;
      else return {i, false};
      missing = len - 1;
    } else {
      if ((c & 0xC0) != 0x80) return {i, false};
      value = (value << 6) | (c & 0x3F);
      --missing;
    }
    if (!extendable(value, missing, len)) return {i, false};
  }
  return {n, missing == 0};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Reference ref = reference(data, size);
  const bool ref_valid = ref.first_invalid == size && ref.complete;
  check(herald::websocket::is_valid_utf8(std::string_view(reinterpret_cast<const char*>(data), size)) ==
        ref_valid);

  // Whole, and in two or three pieces at splits taken from the data.
  const std::size_t cuts[] = {size ? data[0] % (size + 1) : 0, size ? data[size - 1] % (size + 1) : 0};
  for (int mode = 0; mode < 3; ++mode) {
    std::size_t a = 0, b = 0;
    if (mode == 1) a = b = cuts[0];
    if (mode == 2) a = cuts[0] < cuts[1] ? cuts[0] : cuts[1], b = cuts[0] < cuts[1] ? cuts[1] : cuts[0];
    const std::size_t bounds[4] = {0, a, b, size};
    Utf8Validator v;
    std::size_t failed_at = size;
    for (int k = 0; k < 3; ++k) {
      if (!v.feed(data + bounds[k], bounds[k + 1] - bounds[k])) {
        failed_at = bounds[k] + v.error_offset();
        break;
      }
    }
    check(failed_at == ref.first_invalid);
    check(v.failed() == (ref.first_invalid != size));
    check(v.finish() == ref_valid);
  }
  // One byte at a time.
  Utf8Validator v;
  std::size_t failed_at = size;
  for (std::size_t i = 0; i < size; ++i)
    if (!v.feed(data + i, 1)) {
      failed_at = i;
      break;
    }
  check(failed_at == ref.first_invalid);
  return 0;
}
