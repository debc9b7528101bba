// A herald::Server with the hostile routes herald-demo should not have, for
// the abuse suite: `GET /flaky` throws from its handler on every tenth
// request. Prints "listening on http://127.0.0.1:PORT" like herald-demo.
//   herald_abuse_server --port 0 [--threads N] [--max-connections N]
#include <herald/herald.hpp>

#include <asio/signal_set.hpp>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>

int main(int argc, char** argv) {
  herald::ServerOptions so;
  so.bind = "127.0.0.1";
  so.threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i], v = argv[i + 1];
    if (f == "--port") so.port = static_cast<unsigned short>(std::stoul(v));
    else if (f == "--threads") so.threads = static_cast<unsigned>(std::stoul(v));
    else if (f == "--max-connections") so.max_connections = std::stoul(v);
    else { std::cerr << "unknown flag " << f << "\n"; return 2; }
  }
  herald::Server server(so);
  std::atomic<std::uint64_t> n{0};
  server.route("GET", "/healthz", [](herald::Exchange& ex) { ex.respond(200, "text/plain", "ok\n"); });
  server.route("GET", "/metrics", [&](herald::Exchange& ex) {
    ex.respond(200, "text/plain; version=0.0.4", server.metrics().prometheus());
  });
  server.route("GET", "/flaky", [&](herald::Exchange& ex) {
    if (n.fetch_add(1) % 10 == 9) throw std::runtime_error("the tenth request");
    ex.respond(200, "text/plain", "ok\n");
  });
  server.start();
  asio::io_context signals_ctx;
  asio::signal_set signals(signals_ctx, SIGTERM, SIGINT);
  signals.async_wait([&](std::error_code, int) { server.stop(); });
  std::cout << "herald_abuse_server listening on http://127.0.0.1:" << server.port() << std::endl;
  std::thread sig([&] { signals_ctx.run(); });
  server.join();
  signals_ctx.stop();
  sig.join();
}
