// libFuzzer target for herald::json.
// Properties: parse never crashes; whatever parses serialises to text that
// parses again and serialises to the same text (a fixed point); every
// string value escaped and wrapped in quotes parses back to itself.
#include <herald/core/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(bytes), size);
  auto v = herald::json::parse(in);
  if (v) {
    std::string once;
    herald::json::serialize(once, *v);
    auto again = herald::json::parse(once);
    if (!again) std::abort();
    std::string twice;
    herald::json::serialize(twice, *again);
    if (once != twice) std::abort();
    if (auto* s = v->as_string()) {
      std::string quoted = "\"";
      herald::json::append_escaped(quoted, *s);
      quoted += '"';
      auto back = herald::json::parse(quoted);
      if (!back || !back->as_string() || *back->as_string() != *s) std::abort();
    }
  }
  return 0;
}
