// libFuzzer target for the SSE encoder and parser.
// Properties:
//  1. the parser never crashes, and gives the same events whatever the split
//     of its input (whole vs. fed in two parts at a data-chosen point);
//  2. encode(data) parsed back gives exactly data, with CR and CRLF turned
//     into LF (what the format can carry), and the id comes back.
#include <herald/sse/encoder.hpp>
#include <herald/sse/parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {
struct Seen {
  std::string type, data, id;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> parse(std::string_view a, std::string_view b, std::string* last_id) {
  herald::sse::Parser p;
  std::vector<Seen> out;
  auto on = [&](const herald::sse::Event& e) { out.push_back({e.type, e.data, e.last_event_id}); };
  if (p.feed(a, on) || p.feed(b, on)) std::abort();  // default limit is far above libFuzzer's inputs
  if (last_id) *last_id = p.last_event_id();
  return out;
}

std::string normalise(std::string_view d) {
  std::string n;
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (d[i] == '\r') {
      n += '\n';
      if (i + 1 < d.size() && d[i + 1] == '\n') ++i;
    } else {
      n += d[i];
    }
  }
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(bytes), size);

  // 1. Arbitrary input: split-independence.
  std::size_t cut = size ? bytes[0] % (size + 1) : 0;
  std::string id1, id2;
  if (parse(in, {}, &id1) != parse(in.substr(0, cut), in.substr(cut), &id2) || id1 != id2) std::abort();

  // 2. Round trip: the input is the data (and, when it holds no CR/LF/NUL,
  // the event name too).
  std::string stream;
  std::uint64_t id = size * 2654435761u;
  herald::sse::append_event(stream, id, in);
  if (stream.size() != herald::sse::encoded_size(id, in)) std::abort();
  std::string name(in.substr(0, 8));
  auto ec = herald::sse::append_event(stream, {.data = in, .id = "x", .event = name});
  const bool bad = name.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos;
  if (bad != static_cast<bool>(ec)) std::abort();
  std::string last;
  auto events = parse(stream.substr(0, cut), std::string_view(stream).substr(cut), &last);
  const std::string want = normalise(in);
  if (events.size() != (bad ? 1u : 2u)) std::abort();
  if (events[0].data != want || events[0].id != std::to_string(id) || events[0].type != "message") std::abort();
  if (!bad) {
    if (events[1].data != want || events[1].id != "x") std::abort();
    if (events[1].type != (name.empty() ? "message" : name)) std::abort();
  }

  // The chunked frame is the raw event inside one chunk.
  std::string raw = herald::sse::encode_frame(id, in, herald::sse::Framing::close_delimited);
  std::string chunk;
  herald::sse::append_chunk(chunk, raw);
  if (chunk != herald::sse::encode_frame(id, in, herald::sse::Framing::chunked)) std::abort();
  return 0;
}
