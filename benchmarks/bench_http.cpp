// HTTP/1.1 core: request parsing rate and response head serialization.
// Requests are parsed the way a server does it: feed, read the request, reset
// (buffers keep their capacity, so the steady state does not allocate).
#include <herald/http/parser.hpp>
#include <herald/http/response.hpp>

#include <benchmark/benchmark.h>

#include <string>

namespace {

using herald::http::RequestParser;

// A typical browser-ish GET: ~300 bytes, 8 headers.
const std::string get_300 =
    "GET /sse/prices?after=1234 HTTP/1.1\r\n"
    "Host: push.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/event-stream\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Cache-Control: no-cache\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=abcdef0123456789abcdef\r\n"
    "\r\n";

void BM_parse_get(benchmark::State& state) {
  RequestParser p;
  for (auto _ : state) {
    auto r = p.feed(get_300);
    if (r.status != RequestParser::Status::complete) state.SkipWithError("not complete");
    benchmark::DoNotOptimize(p.request().header("cookie"));
    p.reset();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(get_300.size()));
  state.counters["bytes/req"] = static_cast<double>(get_300.size());
}
BENCHMARK(BM_parse_get);

void BM_parse_pipelined_16(benchmark::State& state) {
  std::string batch;
  for (int i = 0; i < 16; ++i) batch += get_300;
  RequestParser p;
  for (auto _ : state) {
    std::string_view in = batch;
    int n = 0;
    while (!in.empty()) {
      auto r = p.feed(in);
      if (r.status != RequestParser::Status::complete) {
        state.SkipWithError("not complete");
        break;
      }
      benchmark::DoNotOptimize(p.request().target());
      in.remove_prefix(r.consumed);
      p.reset();
      ++n;
    }
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * 16);
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(batch.size()));
}
BENCHMARK(BM_parse_pipelined_16);

void BM_parse_post_1k(benchmark::State& state) {
  const std::string req =
      "POST /publish/prices HTTP/1.1\r\n"
      "Host: push.example.com\r\n"
      "User-Agent: curl/7.88.1\r\n"
      "Accept: */*\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: 1024\r\n"
      "\r\n" +
      std::string(1024, 'x');
  RequestParser p;
  for (auto _ : state) {
    auto r = p.feed(req);
    if (r.status != RequestParser::Status::complete) state.SkipWithError("not complete");
    benchmark::DoNotOptimize(p.request().body().data());
    p.reset();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(req.size()));
}
BENCHMARK(BM_parse_post_1k);

void BM_write_head(benchmark::State& state) {
  herald::http::ResponseHead h;
  h.status = 200;
  h.headers = {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}};
  h.chunked = false;
  h.content_length = 1234;
  std::string out;
  out.reserve(256);
  for (auto _ : state) {
    out.clear();
    herald::http::write_head(out, h);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes/head"] = static_cast<double>(out.size());
}
BENCHMARK(BM_write_head);

void BM_make_response_small(benchmark::State& state) {
  for (auto _ : state) {
    auto s = herald::http::make_response(202, "application/json", "{\"id\":42}");
    benchmark::DoNotOptimize(s.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_make_response_small);

}  // namespace

BENCHMARK_MAIN();
