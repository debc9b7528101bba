// custom_event_loop: herald's sans-I/O cores in a server with no Asio at all.
//
// What it shows
//   A plain poll(2) loop over non-blocking sockets (stand-in for libuv, Qt,
//   epoll or your engine's loop) that speaks HTTP, SSE and WebSocket using only
//   herald's byte-level cores, which never touch a socket:
//     herald::http::RequestParser        bytes -> requests (llhttp, with limits)
//     herald::sse::encode_frame          event -> the bytes of one SSE event (chunked)
//     herald::websocket::check_request   upgrade request -> accept / refuse
//     herald::websocket::Reader          bytes -> messages (masking, fragments, UTF-8, close)
//     herald::websocket::encode_message  message -> frame bytes
//   A message sent over the WebSocket (or POSTed to /publish) goes to every SSE
//   and WebSocket client; SSE clients resume with Last-Event-ID.
//   One thread, no locks, no Asio; ~200 lines you would adapt to your loop.
//
// Run
//   build/ex/examples/custom_event_loop --port 8080       then open http://127.0.0.1:8080/
//   curl -N http://127.0.0.1:8080/sse -H 'Last-Event-ID: 0'
//   curl -d hello http://127.0.0.1:8080/publish
#include <herald/http/parser.hpp>
#include <herald/sse/encoder.hpp>
#include <herald/websocket/frame.hpp>
#include <herald/websocket/handshake.hpp>

#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <list>
#include <string>
#include <vector>

namespace {

const char* page = R"html(<!doctype html><html lang="en"><head><meta charset="utf-8"><title>herald cores in a poll(2) loop</title>
<style>body{font:15px/1.45 system-ui,sans-serif;max-width:720px;margin:32px auto;color:#1d2330}
.cols{display:flex;gap:16px}.cols>div{flex:1}ol{border:1px solid #e3e6ea;border-radius:10px;min-height:80px;padding:8px 32px}
input{padding:6px;width:60%}button{padding:6px 12px}</style></head><body>
<h1>herald's sans-I/O cores, no Asio</h1>
<p>A <code>poll(2)</code> loop speaks WebSocket and SSE with herald's parsers and encoders.</p>
<form id="f"><input name="text" value="hello over WebSocket"><button>Send</button></form>
<div class="cols"><div><h3>over WebSocket</h3><ol id="ws"></ol></div><div><h3>over SSE</h3><ol id="sse"></ol></div></div>
<script>
  const add = (list, id, text) => { const li = document.createElement('li'); li.dataset.id = id; li.textContent = text; list.append(li); };
  let wsCount = 0;
  const sock = new WebSocket(`ws://${location.host}/ws`);
  sock.onmessage = (e) => add(ws, ++wsCount, e.data);
  const es = new EventSource('/sse');
  es.onmessage = (e) => add(sse, e.lastEventId, e.data);
  f.onsubmit = (e) => { e.preventDefault(); sock.send(f.text.value); };
</script></body></html>)html";

volatile std::sig_atomic_t stopping = 0;

struct Client {
  int fd = -1;
  enum class Mode { http, sse, websocket } mode = Mode::http;
  herald::http::RequestParser parser;
  herald::websocket::Reader reader{{.role = herald::websocket::Role::server, .max_message_size = 1 << 20}};
  std::string out;             // bytes waiting for the socket to take them
  bool close_when_sent = false;
  bool dead = false;
};

std::list<Client> clients;
std::vector<std::string> history;  // event id N is history[N-1]; a real server bounds this

std::string http_response(int status, std::string_view reason, std::string_view type, std::string_view body) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\nContent-Type: " +
                  std::string(type) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  return r.append(body);
}

// One event to everyone: encoded once per transport, appended to each queue.
void publish(std::string data) {
  history.push_back(std::move(data));
  const std::uint64_t id = history.size();
  const std::string sse = herald::sse::encode_frame(id, history.back(), herald::sse::Framing::chunked);
  const std::string ws = herald::websocket::encode_message(herald::websocket::Opcode::text, history.back());
  for (auto& c : clients) {
    if (c.mode == Client::Mode::sse) c.out += sse;
    if (c.mode == Client::Mode::websocket) c.out += ws;
  }
}

std::uint64_t number(std::optional<std::string_view> s) {
  std::uint64_t n = 0;
  if (s) std::from_chars(s->data(), s->data() + s->size(), n);
  return n;
}

// WebSocket bytes (after the handshake) through herald's Reader.
void on_websocket_bytes(Client& c, std::span<std::uint8_t> in) {
  using herald::websocket::EventKind;
  using herald::websocket::Opcode;
  for (herald::websocket::Event ev; (ev = c.reader.next(in)).kind != EventKind::need_more;) {
    switch (ev.kind) {
      case EventKind::text: publish(std::string(ev.payload)); break;
      case EventKind::binary: break;  // this example ignores binary messages
      case EventKind::ping: c.out += herald::websocket::encode_message(Opcode::pong, ev.payload); break;
      case EventKind::pong: break;
      case EventKind::close:  // answer the close, then hang up once it is sent
      case EventKind::error:  // the peer broke the protocol: close with the code the reader chose
        c.out += herald::websocket::encode_message(Opcode::close, herald::websocket::close_payload(ev.close_code));
        c.close_when_sent = true;
        return;
      default: break;
    }
  }
}

// HTTP bytes: parse requests one by one and route them.
void on_http_bytes(Client& c, std::string_view in) {
  using Status = herald::http::RequestParser::Status;
  while (!in.empty() && c.mode == Client::Mode::http) {
    auto r = c.parser.feed(in);
    in.remove_prefix(r.consumed);
    if (r.status == Status::need_more) return;
    if (r.status == Status::error) {
      c.out += http_response(r.http_status, "Bad Request", "text/plain", "bad request\n");
      c.close_when_sent = true;
      return;
    }
    const auto& req = c.parser.request();
    std::string_view path = req.target().substr(0, req.target().find('?'));
    if (req.method() == "GET" && path == "/") {
      c.out += http_response(200, "OK", "text/html; charset=utf-8", page);
    } else if (req.method() == "POST" && path == "/publish") {
      publish(req.body());
      c.out += http_response(202, "Accepted", "application/json", "{\"id\":" + std::to_string(history.size()) + "}");
    } else if (req.method() == "GET" && path == "/sse") {
      c.out += "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
               "Transfer-Encoding: chunked\r\n\r\n";
      // Resume: everything after the client's Last-Event-ID.
      for (auto id = number(req.header("Last-Event-ID")); id < history.size(); ++id)
        c.out += herald::sse::encode_frame(id + 1, history[id], herald::sse::Framing::chunked);
      c.mode = Client::Mode::sse;
    } else if (path == "/ws") {
      // No permessage-deflate here, to keep the example short (it is on by
      // default: a real server hands hs.deflate to the Reader and a Deflater).
      auto hs = herald::websocket::check_request(req, {.deflate = {.enabled = false}});
      if (!hs) {
        herald::websocket::write_reject_response(c.out, hs);
        c.close_when_sent = true;
        return;
      }
      herald::websocket::write_accept_response(c.out, hs);
      c.mode = Client::Mode::websocket;
      std::string rest(in);  // frames that came with the handshake
      if (!rest.empty()) on_websocket_bytes(c, {reinterpret_cast<std::uint8_t*>(rest.data()), rest.size()});
      return;
    } else {
      c.out += http_response(404, "Not Found", "text/plain", "not found\n");
    }
    c.parser.reset();
  }
}

}  // namespace

int main(int argc, char** argv) {
  int port = 8080;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--port")) port = std::atoi(argv[i + 1]);
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, [](int) { stopping = 1; });
  std::signal(SIGTERM, [](int) { stopping = 1; });

  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(lfd, 128) != 0) {
    std::perror("bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::cout << "custom_event_loop listening on http://127.0.0.1:" << ntohs(addr.sin_port) << std::endl;

  std::vector<char> buf(64 * 1024);
  while (!stopping) {
    std::vector<pollfd> fds{{lfd, POLLIN, 0}};
    for (auto& c : clients) fds.push_back({c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;

    if (fds[0].revents & POLLIN)
      for (int fd; (fd = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) clients.emplace_back().fd = fd;

    std::size_t i = 1;
    for (auto& c : clients) {
      if (i >= fds.size()) break;  // accepted in this pass: polled next time
      const short ev = fds[i++].revents;
      if (ev & POLLIN) {
        ssize_t n = ::read(c.fd, buf.data(), buf.size());
        if (n <= 0) { c.dead = true; continue; }
        if (c.mode == Client::Mode::websocket)
          on_websocket_bytes(c, {reinterpret_cast<std::uint8_t*>(buf.data()), static_cast<std::size_t>(n)});
        else if (c.mode == Client::Mode::http)
          on_http_bytes(c, {buf.data(), static_cast<std::size_t>(n)});
        // an SSE client sends nothing more; its bytes are ignored
      }
      if (ev & (POLLERR | POLLHUP)) c.dead = true;
    }
    // Flush every queue that has bytes (a publish may have filled many).
    for (auto& c : clients) {
      if (!c.out.empty() && !c.dead) {
        ssize_t n = ::write(c.fd, c.out.data(), c.out.size());
        if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
        else if (n < 0 && errno != EAGAIN) c.dead = true;
      }
      if (c.close_when_sent && c.out.empty()) c.dead = true;
    }
    clients.remove_if([](Client& c) {
      if (c.dead) ::close(c.fd);
      return c.dead;
    });
  }
  for (auto& c : clients) ::close(c.fd);
  ::close(lfd);
}
