// herald-demo: the reference server of CONTRACT.md. Every transport, through
// herald's public API, on one port. Start: herald-demo --port 8080
#include "demo.hpp"
#include "page_routes.hpp"
#include "websocket_routes.hpp"
#include "webhook_routes.hpp"

#include <herald/auth/authorizer.hpp>
#include <herald/core/topic.hpp>
#include <herald/polling/policy.hpp>
#include <herald/sse/policy.hpp>
#include <herald/websocket/utf8.hpp>

#include <asio/signal_set.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace {

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "herald-demo: %s\n"
               "usage: herald-demo --port PORT [--bind ADDR] [--threads N] [--data-dir DIR]\n"
               "  [--cors-origin ORIGIN]... [--webhook-secret whsec_...] [--allow-private-webhook-targets]\n"
               "  [--webhook-retry-schedule LIST] [--auth-secret SECRET] [--auth-audience AUD]\n"
               "  [--ws-origin ORIGIN]... [--max-body BYTES] [--max-message BYTES] [--max-connections N]\n"
               "  [--history N] [--heartbeat-ms MS] [--long-poll-max-ms MS]\n"
               "  [--header-timeout-ms MS] [--idle-timeout-ms MS] [--write-timeout-ms MS]\n",
               why);
  std::exit(2);
}

std::size_t number(const char* flag, const char* v) {
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v, &end, 10);
  if (!*v || *end || errno || v[0] == '-') usage((std::string("bad number for ") + flag).c_str());
  return static_cast<std::size_t>(n);
}

demo::Config parse(int argc, char** argv) {
  demo::Config c;
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto val = [&]() -> const char* {
      if (i + 1 >= argc) usage((f + " needs a value").c_str());
      return argv[++i];
    };
    if (f == "--port") c.port = static_cast<int>(number("--port", val()));
    else if (f == "--bind") c.bind = val();
    else if (f == "--threads") c.threads = static_cast<unsigned>(number("--threads", val()));
    else if (f == "--data-dir") c.data_dir = val();
    else if (f == "--cors-origin") c.cors_origins.emplace_back(val());
    else if (f == "--webhook-secret") c.webhook_secret = val();
    else if (f == "--allow-private-webhook-targets") c.allow_private_webhook_targets = true;
    else if (f == "--webhook-retry-schedule") c.webhook_retry_schedule = val();
    else if (f == "--auth-secret") c.auth_secret = val();
    else if (f == "--auth-audience") c.auth_audience = val();
    else if (f == "--ws-origin") c.ws_origins.emplace_back(val());
    else if (f == "--max-body") c.max_body = number("--max-body", val());
    else if (f == "--max-message") c.max_message = number("--max-message", val());
    else if (f == "--max-connections") c.max_connections = number("--max-connections", val());
    else if (f == "--history") c.history = number("--history", val());
    else if (f == "--heartbeat-ms") c.heartbeat = std::chrono::milliseconds(number("--heartbeat-ms", val()));
    else if (f == "--long-poll-max-ms") c.long_poll_max = std::chrono::milliseconds(number("--long-poll-max-ms", val()));
    else if (f == "--header-timeout-ms") c.header_timeout = std::chrono::milliseconds(number("--header-timeout-ms", val()));
    else if (f == "--idle-timeout-ms") c.idle_timeout = std::chrono::milliseconds(number("--idle-timeout-ms", val()));
    else if (f == "--write-timeout-ms") c.write_timeout = std::chrono::milliseconds(number("--write-timeout-ms", val()));
    else if (f == "--help" || f == "-h") usage("help");
    else usage(("unknown flag " + f).c_str());
  }
  if (c.port < 0 || c.port > 65535) usage("--port is required (0 picks a free port)");
  if (c.history == 0) usage("--history must be at least 1");
  return c;
}

void add_core_routes(demo::Demo& d) {
  auto& s = d.server;
  s.route("GET", "/healthz", [](herald::Exchange& ex) { ex.respond(200, "text/plain", "ok\n"); });
  s.route("GET", "/metrics", [&d](herald::Exchange& ex) {
    ex.respond(200, "text/plain; version=0.0.4", d.server.metrics().prometheus());
  });
  s.route("POST", "/publish/{topic}", [&d](herald::Exchange& ex) {
    const auto& req = ex.request();
    // CORS on every answer, refusals included: a page can tell 401 from 429.
    std::string cors;
    if (auto origin = req.header("Origin")) cors = d.cors.cors_headers(*origin, req.method(), false);
    auto answer = [&](int status, std::string_view body, std::string_view type = "text/plain; charset=utf-8") {
      const unsigned minor = req.version_minor();
      std::string out = status == 202 ? herald::http::make_response(202, type, body, ex.keep_alive(), {}, minor)
                                      : herald::http::make_error_response(status, body, ex.keep_alive(), {}, minor);
      out.insert(out.find("\r\n\r\n") + 2, cors);
      ex.respond_raw(std::move(out), ex.keep_alive());
    };
    std::string_view topic = ex.param("topic");
    if (!herald::valid_topic(topic)) return answer(400, "topic must be 1-128 of A-Za-z0-9_.-");
    // The rate limit first: refusing a flood costs no signature check.
    if (!ex.limit_publish(cors)) return;
    if (!ex.authorize(topic, herald::auth::Action::publish, nullptr, cors)) return;
    const std::string& body = req.body();
    if (!herald::websocket::is_valid_utf8(body)) return answer(400, "event data must be UTF-8");
    // The webhook outbox cannot write (disk full...): refuse rather than
    // accept what its endpoints could not be promised.
    if (auto ec = d.admit ? d.admit(topic) : std::error_code{})
      return answer(503, "webhook outbox unavailable (" + ec.message() + "): event not published, try again later");
    std::uint64_t id = d.hub.publish(topic, body);
    if (id == 0) return answer(503, "too many topics");
    answer(202, "{\"id\":" + std::to_string(id) + "}", "application/json");
  });
  // Preflight of a cross-origin publish (it carries Authorization or a JSON type).
  s.route("OPTIONS", "/publish/{topic}", [&d](herald::Exchange& ex) {
    const auto& req = ex.request();
    std::string h = d.cors.cors_headers(req.header("Origin").value_or(""),
                                        req.header("Access-Control-Request-Method").value_or(""), true,
                                        req.header("Access-Control-Request-Headers").value_or(""));
    ex.respond_raw("HTTP/1.1 204 No Content\r\n" + h + (ex.keep_alive() ? "" : "Connection: close\r\n") + "\r\n",
                   ex.keep_alive());
  });
}

}  // namespace

int main(int argc, char** argv) {
  demo::Config cfg = parse(argc, argv);
  herald::HubOptions hub_opt;
  hub_opt.history.max_events = cfg.history;
  herald::Broadcaster<std::string> hub(hub_opt);

  herald::ServerOptions so;
  so.bind = cfg.bind;
  so.port = static_cast<unsigned short>(cfg.port);
  so.threads = cfg.threads;
  so.max_connections = cfg.max_connections;
  so.limits.max_body = cfg.max_body;
  so.header_timeout = cfg.header_timeout;
  so.idle_timeout = cfg.idle_timeout;
  so.write_timeout = cfg.write_timeout;
  if (!cfg.auth_secret.empty()) {
    // HS256 tokens signed with --auth-secret; the "herald" claim names topics.
    herald::auth::VerifyOptions vo;
    vo.audience = cfg.auth_audience;
    so.authorize = herald::auth::JwtAuthorizer(
        herald::auth::JwtVerifier({{herald::auth::Algorithm::hs256, cfg.auth_secret}}, vo));
  }
  std::unique_ptr<herald::Server> server;
  try {
    server = std::make_unique<herald::Server>(so);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herald-demo: %s\n", e.what());
    return 1;
  }
  demo::Demo d{cfg, hub, *server, demo::cors_policy(cfg)};
  add_core_routes(d);
  server->sse("/sse/{topic}", hub, herald::SSEOptions{.heartbeat = cfg.heartbeat, .cors = d.cors});
  server->poll("/poll/{topic}", hub, herald::PollingOptions{.cors = d.cors});
  server->long_poll("/longpoll/{topic}", hub, herald::PollingOptions{.long_poll_max = cfg.long_poll_max, .cors = d.cors});
  demo::add_websocket_routes(d);
  demo::add_page_routes(d);
  auto webhooks = demo::add_webhook_routes(d);  // owns the sender; destroyed (outbox flushed) after join

  try {
    server->start();
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "herald-demo: cannot listen on %s:%d: %s\n", cfg.bind.c_str(), cfg.port, e.what());
    return 1;
  }

  // SIGTERM/SIGINT: drain and exit 0. The signal set lives on its own loop so
  // it never competes with the server's threads.
  asio::io_context signals_ctx;
  asio::signal_set signals(signals_ctx, SIGTERM, SIGINT);
  signals.async_wait([&](std::error_code, int) { server->stop(); });
  std::string host = cfg.bind.find(':') != std::string::npos ? "[" + cfg.bind + "]" : cfg.bind;
  std::cout << "herald-demo listening on http://" << host << ":" << server->port() << std::endl;
  std::thread sig([&] { signals_ctx.run(); });
  server->join();
  signals_ctx.stop();
  sig.join();
  return 0;
}
