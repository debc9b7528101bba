// websocketpp_server: the transport benchmark's WebSocket endpoints written the
// way a websocketpp 0.8.2 (Debian libwebsocketpp-dev) user would: one
// server<config::asio> on one thread, logging off, no permessage-deflate.
//   GET /ws/echo, GET /ws/topic/{t}, POST /publish/{t} (websocketpp's HTTP handler)
// websocketpp answers one HTTP request per connection and cannot stream a
// response, so it has no SSE or long polling here. Built with -std=c++17
// (0.8.2 does not compile with g++ 12 in C++20).
//
//   websocketpp_server --port P [--bind 127.0.0.1]   prints "listening on http://ADDR:PORT"
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>

using Server = websocketpp::server<websocketpp::config::asio>;
using websocketpp::connection_hdl;

namespace {

Server srv;
std::map<std::string, std::set<connection_hdl, std::owner_less<connection_hdl>>> subs;
std::map<std::string, std::uint64_t> heads;

std::string topic_of(const std::string& resource, const char* prefix) {
  std::string path = resource.substr(0, resource.find('?'));
  size_t n = std::strlen(prefix);
  return path.compare(0, n, prefix) == 0 ? path.substr(n) : std::string();
}

void publish(const std::string& topic, const std::string& data) {
  ++heads[topic];
  auto it = subs.find(topic);
  if (it == subs.end()) return;
  for (auto& h : it->second) {
    websocketpp::lib::error_code ec;
    srv.send(h, data, websocketpp::frame::opcode::text, ec);
  }
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 0;
  std::string bind = "127.0.0.1";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") port = static_cast<unsigned short>(std::atoi(argv[i + 1]));
    else if (a == "--bind") bind = argv[i + 1];
  }
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  std::signal(SIGPIPE, SIG_IGN);

  srv.clear_access_channels(websocketpp::log::alevel::all);
  srv.clear_error_channels(websocketpp::log::elevel::all);
  srv.init_asio();
  srv.set_reuse_addr(true);
  srv.set_listen_backlog(4096);

  srv.set_open_handler([](connection_hdl h) {
    auto con = srv.get_con_from_hdl(h);
    std::string t = topic_of(con->get_resource(), "/ws/topic/");
    if (!t.empty()) subs[t].insert(h);
  });
  srv.set_close_handler([](connection_hdl h) {
    auto con = srv.get_con_from_hdl(h);
    std::string t = topic_of(con->get_resource(), "/ws/topic/");
    if (!t.empty()) subs[t].erase(h);
  });
  srv.set_fail_handler([](connection_hdl) {});
  srv.set_validate_handler([](connection_hdl h) {
    auto con = srv.get_con_from_hdl(h);
    std::string r = con->get_resource();
    return r == "/ws/echo" || !topic_of(r, "/ws/topic/").empty();
  });
  srv.set_message_handler([](connection_hdl h, Server::message_ptr msg) {
    auto con = srv.get_con_from_hdl(h);
    if (con->get_resource() == "/ws/echo") {
      websocketpp::lib::error_code ec;
      srv.send(h, msg->get_payload(), msg->get_opcode(), ec);
    } else {
      publish(topic_of(con->get_resource(), "/ws/topic/"), msg->get_payload());
    }
  });
  srv.set_http_handler([](connection_hdl h) {
    auto con = srv.get_con_from_hdl(h);
    std::string t = topic_of(con->get_resource(), "/publish/");
    if (con->get_request().get_method() == "POST" && !t.empty()) {
      publish(t, con->get_request_body());
      con->set_status(websocketpp::http::status_code::accepted);
      con->replace_header("Content-Type", "application/json");
      con->set_body("{\"id\":" + std::to_string(heads[t]) + "}");
    } else if (con->get_resource() == "/healthz") {
      con->set_status(websocketpp::http::status_code::ok);
      con->set_body("ok\n");
    } else {
      con->set_status(websocketpp::http::status_code::not_found);
      con->set_body("not found\n");
    }
  });

  websocketpp::lib::asio::ip::tcp::endpoint ep(websocketpp::lib::asio::ip::make_address(bind), port);
  srv.listen(ep);
  websocketpp::lib::asio::error_code ec;
  auto local = srv.get_local_endpoint(ec);
  std::cout << "websocketpp_server listening on http://" << bind << ":" << local.port() << std::endl;
  srv.start_accept();
  std::signal(SIGTERM, [](int) { std::_Exit(0); });
  std::signal(SIGINT, [](int) { std::_Exit(0); });
  srv.run();
}
