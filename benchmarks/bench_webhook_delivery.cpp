// Webhook deliveries per second to a local receiver (herald::Server on
// 127.0.0.1, one loop thread, answering 200 at once), with 1 and 100
// endpoints, in-memory and SQLite outboxes. End to end: publish -> outbox
// commit -> sign -> POST over herald's client -> response -> record. A plain
// program printing one JSON object per run (Google Benchmark's fixed-time
// loop does not fit a pipeline measured to its drain).
//
//   cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DHERALD_BUILD_BENCHMARKS=ON
//   cmake --build build/bench --target bench_webhook_delivery
//   build/bench/benchmarks/bench_webhook_delivery [deliveries per run = 20000] [repetitions = 3]
#include <herald/webhook/policy.hpp>

#include <asio/io_context.hpp>
#include <asio/use_future.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <unistd.h>

namespace wh = herald::webhook;
using namespace std::chrono_literals;

namespace {

struct Run {
  int endpoints;
  int events;
  bool sqlite;
};

void run(const Run& r, unsigned short port) {
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub({}, metrics);
  asio::io_context io(1);
  auto guard = asio::make_work_guard(io);
  const auto dir = std::filesystem::temp_directory_path() / ("herald-bench-wh-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::unique_ptr<wh::Outbox> outbox;
  if (r.sqlite) outbox = std::make_unique<wh::SqliteOutbox>((dir / "webhooks.sqlite3").string());
  else outbox = std::make_unique<wh::MemoryOutbox>();
  wh::SenderOptions so;
  so.schedule = {0ms, 1s, 1s, 1s};
  so.ssrf = wh::SsrfPolicy::allow_local();
  so.metrics = &metrics;
  so.client.max_idle_per_endpoint = 512;  // 100 endpoints x 4 in flight share one receiver
  auto sender = std::make_unique<wh::Sender>(io.get_executor(), hub, std::move(outbox), std::move(so));
  std::thread t([&] { io.run(); });
  sender->async_start(asio::use_future).get();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  for (int i = 0; i < r.endpoints; ++i)
    sender->async_add_endpoint({.url = url, .secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", .topics = {"bench"}},
                               asio::use_future).get();

  const std::uint64_t total = static_cast<std::uint64_t>(r.endpoints) * static_cast<std::uint64_t>(r.events);
  const std::string payload(256, 'p');
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < r.events; ++i) hub.publish("bench", payload);
  const auto deadline = t0 + 300s;
  while (metrics.webhook_attempts_ok.load() + metrics.webhook_attempts_retry.load() +
             metrics.webhook_attempts_failed.load() < total &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);  // polling a counter; the measured path never waits on this
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto ok = metrics.webhook_attempts_ok.load();
  std::printf("{\"endpoints\":%d,\"outbox\":\"%s\",\"events\":%d,\"deliveries\":%llu,\"failed_attempts\":%llu,"
              "\"seconds\":%.3f,\"deliveries_per_second\":%.0f,\"connections_opened\":%llu}\n",
              r.endpoints, r.sqlite ? "sqlite" : "memory", r.events, static_cast<unsigned long long>(ok),
              static_cast<unsigned long long>(metrics.webhook_attempts_retry.load() + metrics.webhook_attempts_failed.load()),
              s, static_cast<double>(ok) / s, static_cast<unsigned long long>(sender->client().connections_opened()));
  std::fflush(stdout);
  sender->async_stop(asio::use_future).get();
  guard.reset();
  io.stop();
  t.join();
  sender.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace

int main(int argc, char** argv) {
  const int scale = argc > 1 ? std::atoi(argv[1]) : 20000;  // deliveries per run
  const int reps = argc > 2 ? std::atoi(argv[2]) : 3;       // runs of each configuration
  herald::Metrics rx_metrics;
  herald::Server receiver({.threads = 1, .metrics = &rx_metrics});
  receiver.route("POST", "/hook", [](herald::Exchange& ex) { ex.respond(200, "", ""); });
  receiver.start();
  for (int i = 0; i < reps; ++i)
    for (bool sqlite : {false, true}) {
      run({1, scale, sqlite}, receiver.port());
      run({100, scale / 100, sqlite}, receiver.port());
    }
  receiver.stop();
  receiver.join();
}
