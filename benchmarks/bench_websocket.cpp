// WebSocket sans-I/O core micro-benchmarks: frame parse + unmask through the
// Reader (what a server does per received message), raw unmasking, and UTF-8
// validation on ASCII and on mixed text. Figures in benchmarks/RESULTS.md.
#include <herald/websocket/frame.hpp>
#include <herald/websocket/utf8.hpp>

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

using namespace herald::websocket;

namespace {

constexpr MaskKey kKey{0x37, 0xfa, 0x21, 0x3d};

std::vector<std::uint8_t> masked_binary_frame(std::size_t size) {
  std::string payload(size, '\0');
  for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i * 31);
  std::string wire;
  encode_frame(wire, Opcode::binary, payload, true, false, &kKey);
  return {wire.begin(), wire.end()};
}

/// ~30% of the characters multi-byte (2, 3 and 4 bytes), the rest ASCII.
std::string mixed_text(std::size_t size) {
  static const char* wide[] = {"\xC3\xA9", "\xD0\xB6", "\xE2\x82\xAC", "\xE6\x97\xA5", "\xF0\x9F\x98\x80"};
  std::mt19937 rng(42);
  std::string s;
  while (s.size() < size) {
    if (rng() % 10 < 3) s += wide[rng() % 5];
    else s += static_cast<char>('a' + rng() % 26);
  }
  while (!is_valid_utf8(s)) s.pop_back();  // do not end inside a character
  return s;
}

}  // namespace

/// A server Reader fed one masked binary frame per iteration: header parse,
/// rule checks, unmask in place, event out (no copy, no allocation).
static void BM_FrameParseUnmask(benchmark::State& state) {
  auto frame = masked_binary_frame(static_cast<std::size_t>(state.range(0)));
  Reader reader;
  for (auto _ : state) {
    std::span<std::uint8_t> in(frame);
    Event ev = reader.next(in);
    benchmark::DoNotOptimize(ev.payload.data());
    if (ev.kind != EventKind::binary) state.SkipWithError("unexpected event");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(BM_FrameParseUnmask)->Arg(16)->Arg(1024)->Arg(64 * 1024);

/// A text frame: parse, unmask and UTF-8 validate (ASCII payload).
static void BM_FrameParseUnmaskText(benchmark::State& state) {
  std::string payload(static_cast<std::size_t>(state.range(0)), 'a');
  std::string wire;
  // A key below 0x80 keeps ASCII ASCII whether masked or not: unmasking in
  // place toggles the payload, and every pass must still be valid text.
  static constexpr MaskKey ascii_key{0x12, 0x34, 0x56, 0x78};
  encode_frame(wire, Opcode::text, payload, true, false, &ascii_key);
  std::vector<std::uint8_t> frame(wire.begin(), wire.end());
  Reader reader;
  for (auto _ : state) {
    std::span<std::uint8_t> in(frame);
    Event ev = reader.next(in);
    benchmark::DoNotOptimize(ev.payload.data());
    if (ev.kind != EventKind::text) state.SkipWithError("unexpected event");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(frame.size()));
}
BENCHMARK(BM_FrameParseUnmaskText)->Arg(1024)->Arg(64 * 1024);

static void BM_ApplyMask(benchmark::State& state) {
  std::vector<std::uint8_t> data(static_cast<std::size_t>(state.range(0)), 0x55);
  for (auto _ : state) {
    apply_mask(data.data(), data.size(), kKey, 1);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_ApplyMask)->Arg(64 * 1024);

static void BM_Utf8Ascii(benchmark::State& state) {
  std::string s(static_cast<std::size_t>(state.range(0)), 'x');
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(' ' + i % 95);
  for (auto _ : state) benchmark::DoNotOptimize(is_valid_utf8(s));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Utf8Ascii)->Arg(1024)->Arg(64 * 1024);

static void BM_Utf8Mixed(benchmark::State& state) {
  const std::string s = mixed_text(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(is_valid_utf8(s));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(s.size()));
}
BENCHMARK(BM_Utf8Mixed)->Arg(1024)->Arg(64 * 1024);

BENCHMARK_MAIN();
