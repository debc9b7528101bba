// Micro-benchmarks of the SSE encoder and the polling batch body (sans-I/O).
// Figures: benchmarks/RESULTS.md, sections "SSE core" and "Polling core".
#include <herald/polling/batch.hpp>
#include <herald/sse/encoder.hpp>
#include <herald/sse/parser.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

std::string single_line(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>('a' + i % 26));
  return s;
}

// 1 KiB of text in lines of about 64 bytes (16 lines), like pretty JSON.
std::string multi_line(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(i % 64 == 63 ? '\n' : static_cast<char>('a' + i % 26));
  return s;
}

// The per-event work of SSE fan-out: one cached frame per event and framing.
void encode_frame(benchmark::State& state, const std::string& data, herald::sse::Framing framing) {
  std::uint64_t id = 1'000'000;
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string f = herald::sse::encode_frame(id++, data, framing);
    bytes += f.size();
    benchmark::DoNotOptimize(f.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));  // bytes of frames produced
}

void BM_sse_frame_64B_chunked(benchmark::State& s) { encode_frame(s, single_line(64), herald::sse::Framing::chunked); }
void BM_sse_frame_64B_raw(benchmark::State& s) { encode_frame(s, single_line(64), herald::sse::Framing::close_delimited); }
void BM_sse_frame_1KiB_multiline_chunked(benchmark::State& s) { encode_frame(s, multi_line(1024), herald::sse::Framing::chunked); }
void BM_sse_frame_1KiB_single_chunked(benchmark::State& s) { encode_frame(s, single_line(1024), herald::sse::Framing::chunked); }

// Appending into a reused buffer: no allocation at all in steady state.
void append_event(benchmark::State& state, const std::string& data) {
  std::string out;
  std::uint64_t id = 1'000'000;
  for (auto _ : state) {
    out.clear();
    herald::sse::append_event(out, id++, data);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
void BM_sse_append_64B(benchmark::State& s) { append_event(s, single_line(64)); }
void BM_sse_append_1KiB_multiline(benchmark::State& s) { append_event(s, multi_line(1024)); }

// Client side: parsing a stream of 1 KiB multi-line events.
void BM_sse_parse_1KiB_multiline(benchmark::State& state) {
  std::string stream;
  const std::string data = multi_line(1024);
  for (int i = 0; i < 100; ++i) herald::sse::append_event(stream, static_cast<std::uint64_t>(i + 1), data);
  herald::sse::Parser p;
  std::size_t events = 0;
  for (auto _ : state) {
    (void)p.feed(stream, [&](const herald::sse::Event& e) { events += e.data.size() != 0; });
  }
  benchmark::DoNotOptimize(events);
  state.SetItemsProcessed(state.iterations() * 100);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}

// Polling: the per-event fragment (once per event) ...
void BM_polling_fragment_64B(benchmark::State& state) {
  const std::string data = single_line(64);
  std::uint64_t id = 1'000'000;
  for (auto _ : state) {
    std::string f = herald::polling::event_json(id++, data);
    benchmark::DoNotOptimize(f.data());
  }
  state.SetItemsProcessed(state.iterations());
}

// ... and the body of one answer with 100 cached fragments (per request).
void BM_polling_body_100(benchmark::State& state) {
  const std::string data = single_line(static_cast<std::size_t>(state.range(0)));
  std::vector<std::string> frags;
  for (std::uint64_t i = 1; i <= 100; ++i) frags.push_back(herald::polling::event_json(i, data));
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string body = herald::polling::build_body(frags, 100, false);
    bytes += body.size();
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * 100);  // events
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

}  // namespace

BENCHMARK(BM_sse_frame_64B_chunked);
BENCHMARK(BM_sse_frame_64B_raw);
BENCHMARK(BM_sse_frame_1KiB_multiline_chunked);
BENCHMARK(BM_sse_frame_1KiB_single_chunked);
BENCHMARK(BM_sse_append_64B);
BENCHMARK(BM_sse_append_1KiB_multiline);
BENCHMARK(BM_sse_parse_1KiB_multiline);
BENCHMARK(BM_polling_fragment_64B);
BENCHMARK(BM_polling_body_100)->Arg(64)->Arg(1024);

BENCHMARK_MAIN();
