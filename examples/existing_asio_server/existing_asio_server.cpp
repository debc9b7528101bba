// existing_asio_server: herald added to an Asio server you already have.
//
// What it shows
//   Your server accepts, reads and parses requests the way it always has (here
//   a small coroutine per connection). For the one path that should stream,
//   it hands the socket, the parsed request and any bytes read past it to
//       herald::accept<herald::SSEPolicy>(std::move(socket), request, leftover, hub);
//   and forgets about it: herald owns the stream from then on (heartbeats,
//   resume with Last-Event-ID, backpressure, orderly close). Publishing is one
//   call from any thread. Everything else stays yours.
//
// Run
//   build/ex/examples/existing_asio_server --port 8080     then open http://127.0.0.1:8080/
//   curl -N http://127.0.0.1:8080/events                    (the stream)
//   curl -d 'hello' http://127.0.0.1:8080/say               (publish)
#include <herald/http/parser.hpp>
#include <herald/sse/policy.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/signal_set.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

using asio::ip::tcp;
constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

namespace {

const char* page = R"html(<!doctype html><html lang="en"><head><meta charset="utf-8"><title>herald in your Asio server</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:640px;margin:32px auto;color:#1d2330}
ol{border:1px solid #e3e6ea;border-radius:10px;min-height:80px;padding:8px 32px}
input{padding:6px;width:60%}button{padding:6px 12px}</style></head><body>
<h1>Your server, plus herald</h1>
<p>This page and <code>POST /say</code> are served by the application's own code; <code>/events</code> is herald's.</p>
<ol id="list"></ol>
<form id="f"><input name="text" value="hello from the page"><button>Say</button></form>
<script>
  const es = new EventSource('/events');
  es.onmessage = (e) => { const li = document.createElement('li'); li.dataset.id = e.lastEventId; li.textContent = e.data; list.append(li); };
  f.onsubmit = (e) => { e.preventDefault(); fetch('/say', { method: 'POST', body: f.text.value }); };
</script></body></html>)html";

std::string response(int status, const char* reason, std::string_view type, std::string_view body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\nContent-Type: " + std::string(type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

// The application's own connection handler: read, parse, answer, repeat.
asio::awaitable<void> session(tcp::socket socket, herald::Broadcaster<std::string>& hub) {
  herald::http::RequestParser parser;  // any parser works: herald needs method(), target(), header(name)
  std::string buf(16 * 1024, '\0');
  std::string_view pending;
  for (;;) {
    if (pending.empty()) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_nothrow);
      if (ec) co_return;
      pending = std::string_view(buf.data(), n);
    }
    auto r = parser.feed(pending);
    pending.remove_prefix(r.consumed);
    if (r.status == herald::http::RequestParser::Status::need_more) continue;
    if (r.status == herald::http::RequestParser::Status::error) {
      co_await asio::async_write(socket, asio::buffer(response(r.http_status, "Bad Request", "text/plain", "bad request\n")), use_nothrow);
      co_return;
    }
    const auto& req = parser.request();
    std::string_view path = req.target().substr(0, req.target().find('?'));

    if (req.method() == "GET" && path == "/events") {
      // The hand-over: herald takes the socket and streams topic "chat" on
      // this socket's io_context. `pending` holds bytes read past the request.
      herald::accept<herald::SSEPolicy>(std::move(socket), req, pending, hub, {.topic = "chat"});
      co_return;
    }
    std::string out;
    if (req.method() == "GET" && path == "/") {
      out = response(200, "OK", "text/html; charset=utf-8", page);
    } else if (req.method() == "POST" && path == "/say") {
      auto id = hub.publish("chat", req.body());  // any thread; every subscriber, one encode
      out = response(202, "Accepted", "application/json", "{\"id\":" + std::to_string(id) + "}");
    } else {
      out = response(404, "Not Found", "text/plain", "not found\n");
    }
    auto [ec, n] = co_await asio::async_write(socket, asio::buffer(out), use_nothrow);
    if (ec) co_return;
    parser.reset();
  }
}

asio::awaitable<void> listen(tcp::acceptor& acceptor, herald::Broadcaster<std::string>& hub) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
    if (ec) co_return;  // closed: shutting down
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket), hub), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 8080;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--port")) port = static_cast<unsigned short>(std::atoi(argv[i + 1]));

  asio::io_context io;                     // your program's loop; herald runs on it too
  herald::Broadcaster<std::string> hub;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), port});
  asio::co_spawn(io, listen(acceptor, hub), asio::detached);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    acceptor.close();
    io.stop();  // a real server would drain first; herald::Server does
  });
  std::cout << "existing_asio_server listening on http://127.0.0.1:" << acceptor.local_endpoint().port() << std::endl;
  io.run();
}
