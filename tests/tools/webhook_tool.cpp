// webhook_tool: herald's webhook signatures on the command line, so the
// integration test tests/integration/webhook_signatures.test.mjs can check them
// against the `standardwebhooks` npm package and Node's ed25519.
//
//   webhook_tool sign   <id> <ts> <body-file> <key>...   whsec_ / whsk_ keys; prints the webhook-signature value
//   webhook_tool verify <id> <ts> <signature> <body-file> [--now UNIX] <key>...
//                                                        whsec_ / whpk_ keys; exit 0 valid, 1 refused (reason on stdout)
//   webhook_tool keygen                                  prints "whsk_... whpk_..."
//   webhook_tool pubkey <whsk>                           prints the whpk_ of a secret key
//   webhook_tool deliver <url> <payload> <key>...        one event through a real Sender (MemoryOutbox,
//                                                        loopback allowed) to <url>, signed with every key;
//                                                        exit 0 once it was delivered (2xx), 1 otherwise
//
// Exit 2 on bad usage or a malformed key.
#include <herald/core/broadcaster.hpp>
#include <herald/webhook/sender.hpp>
#include <herald/webhook/signature.hpp>
#include <herald/webhook/verifier.hpp>

#include <asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace wh = herald::webhook;

namespace {

int usage() {
  std::cerr << "usage: webhook_tool sign <id> <ts> <body-file> <key>...\n"
               "       webhook_tool verify <id> <ts> <signature> <body-file> [--now UNIX] <key>...\n"
               "       webhook_tool keygen | pubkey <whsk>\n"
               "       webhook_tool deliver <url> <payload> <key>...\n";
  return 2;
}

bool read_file(const char* path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

bool parse_ts(const char* s, std::int64_t& out) {
  char* end = nullptr;
  out = std::strtoll(s, &end, 10);
  return end != s && *end == '\0';
}

int bad_key(const std::string& k) {
  std::cerr << "webhook_tool: malformed key " << k << "\n";
  return 2;
}

// Runs a Sender until the endpoint's first attempt reports: the delivery a
// receiver sees is the Sender's own, headers and all.
int deliver(const std::string& url, const std::string& payload, std::vector<std::string> keys) {
  asio::io_context io{1};
  // The Sender's storage runs on its own thread: until it answers, nothing is
  // pending on `io` itself, so keep run_for from returning at once.
  auto work = asio::make_work_guard(io);
  herald::Metrics metrics;
  herald::Broadcaster<std::string> hub{{}, metrics};
  int rc = 1;
  wh::SenderOptions o{.schedule = {std::chrono::milliseconds(0)}, .ssrf = wh::SsrfPolicy::allow_local()};
  o.metrics = &metrics;
  wh::Sender* sender_ptr = nullptr;
  o.on_attempt = [&](const wh::AttemptReport& r) {
    rc = r.outcome == wh::Outcome::delivered ? 0 : 1;
    if (rc) std::cerr << "webhook_tool: attempt: status " << r.status << " " << r.ec.message() << "\n";
    sender_ptr->async_stop([&io] { io.stop(); });
  };
  wh::Sender sender(io.get_executor(), hub, nullptr, std::move(o));
  sender_ptr = &sender;
  sender.async_start([&](std::error_code ec) {
    if (ec) return io.stop();
    wh::EndpointConfig c{.url = url, .topics = {"t"}, .keys = std::move(keys)};
    sender.async_add_endpoint(std::move(c), [&](std::error_code ec2, std::string) {
      if (ec2) {
        std::cerr << "webhook_tool: endpoint refused: " << ec2.message() << "\n";
        rc = 2;
        return io.stop();
      }
      hub.publish("t", payload);
    });
  });
  io.run_for(std::chrono::seconds(20));
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  std::error_code ec;

  if (cmd == "keygen" && argc == 2) {
    const wh::SigningKey k = wh::SigningKey::generate();
    std::cout << k.to_string() << ' ' << k.public_key().to_string() << '\n';
    return 0;
  }
  if (cmd == "pubkey" && argc == 3) {
    const wh::SigningKey k = wh::SigningKey::parse(argv[2], ec);
    if (ec) return bad_key(argv[2]);
    std::cout << k.public_key().to_string() << '\n';
    return 0;
  }
  if (cmd == "sign" && argc >= 6) {
    std::int64_t ts = 0;
    std::string body;
    if (!parse_ts(argv[3], ts) || !read_file(argv[4], body)) return usage();
    std::vector<wh::Secret> secrets;
    std::vector<wh::SigningKey> keys;
    for (int i = 5; i < argc; ++i) {
      const std::string k = argv[i];
      if (k.starts_with(wh::SigningKey::prefix)) keys.push_back(wh::SigningKey::parse(k, ec));
      else secrets.push_back(wh::Secret::parse(k, ec));
      if (ec) return bad_key(k);
    }
    std::cout << wh::sign(argv[2], ts, body, secrets, keys) << '\n';
    return 0;
  }
  if (cmd == "verify" && argc >= 7) {
    std::string body;
    if (!read_file(argv[5], body)) return usage();
    auto now = std::chrono::system_clock::now();
    std::vector<wh::Secret> secrets;
    std::vector<wh::VerifyingKey> keys;
    for (int i = 6; i < argc; ++i) {
      const std::string k = argv[i];
      if (k == "--now" && i + 1 < argc) {
        std::int64_t n = 0;
        if (!parse_ts(argv[++i], n)) return usage();
        now = std::chrono::system_clock::time_point(std::chrono::seconds(n));
        continue;
      }
      if (k.starts_with(wh::VerifyingKey::prefix)) keys.push_back(wh::VerifyingKey::parse(k, ec));
      else secrets.push_back(wh::Secret::parse(k, ec));
      if (ec) return bad_key(k);
    }
    const wh::StandardHeaders h{.id = argv[2], .timestamp = argv[3], .signature = argv[4]};
    ec = wh::verify_standard(h, body, secrets, keys, now);
    std::cout << (ec ? ec.message() : "ok") << '\n';
    return ec ? 1 : 0;
  }
  if (cmd == "deliver" && argc >= 5) return deliver(argv[2], argv[3], std::vector<std::string>(argv + 4, argv + argc));
  return usage();
}
