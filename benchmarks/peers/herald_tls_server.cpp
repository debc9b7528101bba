// herald_tls_server: the transport benchmark's fan-out endpoints served over
// TLS through herald's bring-your-own accept, the way a user who terminates
// TLS in their own Asio server would write it: accept, TLS handshake, parse
// the request with herald::http::RequestParser, hand the stream to
// herald::accept<WebSocketPolicy | SSEPolicy>.
//   GET /ws/topic/{t}, GET /sse/{t}, POST /publish/{t}, GET /healthz
// With --plain the same code runs over the plain TCP socket, so "herald over
// TLS" and "herald over TCP" differ in TLS alone (herald-demo goes through
// herald::Server instead, a different accept path).
//
//   herald_tls_server --port P [--bind 127.0.0.1] [--plain] [--cert FILE --key FILE]
//                     prints "... listening on http://ADDR:PORT" (the line run_matrix.sh
//                     waits for; the scheme is https unless --plain)
//
// TLS 1.3 only. Without --cert/--key a self-signed P-256 certificate is made
// at startup (the benchmark client does not verify it). One thread.
#include <herald/http/parser.hpp>
#include <herald/http/response.hpp>
#include <herald/sse/policy.hpp>
#include <herald/websocket/policy.hpp>
#include <herald/websocket/utf8.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

namespace {

constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);
// The accepted socket type a user has; herald adopts it on the plain path.
using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

struct Endpoints {
  herald::Broadcaster<std::string>& hub;
  herald::WebSocketOptions ws;
  herald::SSEOptions sse;
};

// A self-signed certificate for "localhost" and 127.0.0.1, made in memory.
std::pair<std::string, std::string> make_self_signed() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  if (!key || !x) throw std::runtime_error("cannot make a key");
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x.get(), x.get(), nullptr, nullptr, 0);
  if (X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1")) {
    X509_add_ext(x.get(), ext, -1);
    X509_EXTENSION_free(ext);
  }
  if (!X509_sign(x.get(), key.get(), EVP_sha256())) throw std::runtime_error("cannot sign the certificate");
  auto to_pem = [](auto write) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    write(bio.get());
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  };
  return {to_pem([&](BIO* b) { PEM_write_bio_X509(b, x.get()); }),
          to_pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr); })};
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

template <class Stream>
asio::awaitable<void> session(Stream stream, Endpoints& ep) {
  if constexpr (std::is_same_v<Stream, TlsStream>) {
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
    if (ec) co_return;
  }
  herald::http::RequestParser parser;
  std::string buf(16 * 1024, '\0');
  std::string_view pending;
  for (;;) {
    if (pending.empty()) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), use_nothrow);
      if (ec) co_return;
      pending = std::string_view(buf.data(), n);
    }
    auto r = parser.feed(pending);
    pending.remove_prefix(r.consumed);
    if (r.status == herald::http::RequestParser::Status::need_more) continue;
    if (r.status == herald::http::RequestParser::Status::error) {
      std::string out = herald::http::make_error_response(r.http_status, "", false);
      co_await asio::async_write(stream, asio::buffer(out), use_nothrow);
      co_return;
    }
    const auto& req = parser.request();
    std::string_view path = req.path();
    auto topic_after = [&](std::string_view prefix) -> std::string_view {
      return path.starts_with(prefix) ? path.substr(prefix.size()) : std::string_view{};
    };
    const bool keep = req.keep_alive();
    std::string out;
    if (std::string_view t = topic_after("/ws/topic/"); req.method() == "GET" && !t.empty()) {
      if (herald::valid_topic(t)) {
        // Hand-over: herald owns the stream from here (a refused handshake is answered by it).
        herald::accept<herald::WebSocketPolicy>(std::move(stream), req, pending, ep.hub, ep.ws);
        co_return;
      }
      out = herald::http::make_error_response(400, "topic must be 1-128 of A-Za-z0-9_.-", keep);
    } else if (std::string_view t = topic_after("/sse/"); req.method() == "GET" && !t.empty()) {
      if (herald::valid_topic(t)) {
        herald::accept<herald::SSEPolicy>(std::move(stream), req, pending, ep.hub, ep.sse);
        co_return;
      }
      out = herald::http::make_error_response(400, "topic must be 1-128 of A-Za-z0-9_.-", keep);
    } else if (std::string_view t = topic_after("/publish/"); req.method() == "POST" && !t.empty()) {
      // As herald-demo's POST /publish/{topic}: topic and UTF-8 checked, 202 {"id":N}.
      if (!herald::valid_topic(t)) out = herald::http::make_error_response(400, "topic must be 1-128 of A-Za-z0-9_.-", keep);
      else if (!herald::websocket::is_valid_utf8(req.body())) out = herald::http::make_error_response(400, "event data must be UTF-8", keep);
      else if (std::uint64_t id = ep.hub.publish(t, req.body()); id == 0) out = herald::http::make_error_response(503, "too many topics", keep);
      else out = herald::http::make_response(202, "application/json", "{\"id\":" + std::to_string(id) + "}", keep, {}, req.version_minor());
    } else if (req.method() == "GET" && path == "/healthz") {
      out = herald::http::make_response(200, "text/plain", "ok\n", keep, {}, req.version_minor());
    } else {
      out = herald::http::make_error_response(404, "", keep);
    }
    auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out), use_nothrow);
    if (ec || !keep) co_return;
    parser.reset();
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  std::string bind = "127.0.0.1", cert_file, key_file;
  bool plain = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "herald_tls_server: %s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--port") port = static_cast<unsigned short>(std::atoi(value().c_str()));
    else if (a == "--bind") bind = value();
    else if (a == "--plain") plain = true;
    else if (a == "--cert") cert_file = value();
    else if (a == "--key") key_file = value();
    else {
      std::fprintf(stderr, "usage: herald_tls_server --port P [--bind ADDR] [--plain] [--cert FILE --key FILE]\n");
      return 2;
    }
  }
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  std::signal(SIGPIPE, SIG_IGN);

  asio::ssl::context ctx(asio::ssl::context::tls_server);
  try {
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
    // OpenSSL gives back its record buffers while a connection is idle
    // (about 34 KiB each): what a server holding many idle streams wants.
    SSL_CTX_set_mode(ctx.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    auto [cert, key] = cert_file.empty() ? make_self_signed() : std::pair{read_file(cert_file), read_file(key_file)};
    ctx.use_certificate_chain(asio::buffer(cert));
    ctx.use_private_key(asio::buffer(key), asio::ssl::context::pem);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "herald_tls_server: %s\n", e.what());
    return 1;
  }

  // As herald-demo's defaults: 10,000 events of history, 15 s heartbeat/ping,
  // herald.v1 offered, text from a WebSocket subscriber published to its topic.
  herald::HubOptions hub_opt;
  hub_opt.history.max_events = 10000;
  herald::Broadcaster<std::string> hub(hub_opt);
  Endpoints ep{hub, {}, {}};
  ep.ws.subprotocols = {std::string(herald::WebSocketPolicy::herald_v1)};
  ep.ws.on_message = [&hub](herald::WebSocketPolicy& ws, herald::websocket::Opcode op, std::string_view payload) {
    if (op != herald::websocket::Opcode::text) return ws.close(1003, "only text messages are published");
    if (hub.publish(ws.topic(), std::string(payload)) == 0) ws.close(1013, "too many topics");
  };

  asio::io_context io(1);
  asio::ip::tcp::acceptor acc(io);
  try {
    asio::ip::tcp::endpoint at(asio::ip::make_address(bind), port);
    acc.open(at.protocol());
    acc.set_option(asio::socket_base::reuse_address(true));
    acc.bind(at);
    acc.listen(asio::socket_base::max_listen_connections);
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "herald_tls_server: cannot listen on %s:%u: %s\n", bind.c_str(), port, e.what());
    return 1;
  }
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (;;) {
      auto [ec, s] = co_await acc.async_accept(use_nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        continue;  // EMFILE and the like: keep serving the others
      }
      // herald sets TCP_NODELAY itself on a plain socket, not under another
      // stream: without it each small TLS record waits for the peer's delayed ACK.
      std::error_code ignored;
      s.set_option(asio::ip::tcp::no_delay(true), ignored);
      if (plain) asio::co_spawn(io, session(std::move(s), ep), asio::detached);
      else asio::co_spawn(io, session(TlsStream(std::move(s), ctx), ep), asio::detached);
    }
  }, asio::detached);

  std::cout << "herald_tls_server (" << (plain ? "plain TCP" : "TLS 1.3") << ") listening on http://" << bind << ":"
            << acc.local_endpoint().port() << std::endl;
  asio::signal_set sig(io, SIGTERM, SIGINT);
  sig.async_wait([](std::error_code, int) { std::_Exit(0); });
  io.run();
}
