// Webhook signatures per second: Standard Webhooks v1 (HMAC-SHA256) and v1a
// (ed25519), signing and verifying, over a 1 KiB body.
//
//   cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DHERALD_BUILD_BENCHMARKS=ON
//   cmake --build build/bench --target bench_webhook && build/bench/benchmarks/bench_webhook
#include <herald/webhook/signature.hpp>
#include <herald/webhook/verifier.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <string>
#include <vector>

namespace wh = herald::webhook;

namespace {

const std::string body(1024, 'x');
constexpr std::string_view id = "msg_2Lp3mR0bTq9cWZ4xY6vHnK";
constexpr std::int64_t ts = 1'700'000'000;
const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(ts));

wh::Secret secret() {
  std::error_code ec;
  return wh::Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ec);
}

void v1_sign(benchmark::State& state) {
  const wh::Secret s = secret();
  for (auto _ : state) benchmark::DoNotOptimize(wh::sign(id, ts, body, s));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}

void v1_verify(benchmark::State& state) {
  const std::vector<wh::Secret> s{secret()};
  const std::string sig = wh::sign(id, ts, body, s[0]);
  const wh::StandardHeaders h{.id = id, .timestamp = "1700000000", .signature = sig};
  for (auto _ : state) {
    const auto ec = wh::verify_standard(h, body, s, now);
    if (ec) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(ec);
  }
  state.SetItemsProcessed(state.iterations());
}

void v1a_sign(benchmark::State& state) {
  const wh::SigningKey k = wh::SigningKey::generate();
  for (auto _ : state) benchmark::DoNotOptimize(wh::sign(id, ts, body, k));
  state.SetItemsProcessed(state.iterations());
}

void v1a_verify(benchmark::State& state) {
  const wh::SigningKey k = wh::SigningKey::generate();
  const std::vector<wh::VerifyingKey> pk{k.public_key()};
  const std::string sig = wh::sign(id, ts, body, k);
  const wh::StandardHeaders h{.id = id, .timestamp = "1700000000", .signature = sig};
  for (auto _ : state) {
    const auto ec = wh::verify_standard(h, body, {}, pk, now);
    if (ec) state.SkipWithError("verification failed");
    benchmark::DoNotOptimize(ec);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK(v1_sign);
BENCHMARK(v1_verify);
BENCHMARK(v1a_sign);
BENCHMARK(v1a_verify);
BENCHMARK_MAIN();
