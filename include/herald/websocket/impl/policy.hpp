// herald: definitions for websocket/policy.hpp. Included at its end.
#pragma once
#include <herald/websocket/policy.hpp>

#include <openssl/rand.h>

namespace herald {

namespace detail {

/// A client's frame: masked with a fresh key (RFC 6455 5.3: unpredictable,
/// hence OpenSSL's generator).
inline void ws_append_masked(std::string& out, websocket::Opcode op, std::string_view payload, bool fin, bool rsv1) {
  websocket::MaskKey key{};
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1) {
    // Still a valid frame; only its unpredictability against proxy cache
    // poisoning suffers, and RAND_bytes failing means the process is in trouble.
    key = {0x5a, 0xa5, 0x3c, 0xc3};
  }
  websocket::encode_frame(out, op, payload, fin, rsv1, &key);
}

/// A whole message in `role`'s framing, split past `fragment_size`.
inline void ws_encode(std::string& out, websocket::Role role, websocket::Opcode op, std::string_view payload,
                      std::size_t fragment_size, bool compressed) {
  if (role == websocket::Role::server) return websocket::encode_message(out, op, payload, fragment_size, compressed);
  if (fragment_size == 0 || payload.size() <= fragment_size || websocket::is_control(op))
    return ws_append_masked(out, op, payload, true, compressed);
  bool first = true;
  while (true) {
    const std::size_t n = std::min(payload.size(), fragment_size);
    const bool fin = n == payload.size();
    ws_append_masked(out, first ? op : websocket::Opcode::continuation, payload.substr(0, n), fin, first && compressed);
    payload.remove_prefix(n);
    first = false;
    if (fin) break;
  }
}

}  // namespace detail

HERALD_DECL WebSocketPolicy::WebSocketPolicy(Setup s)
    : opt_(s.options ? std::move(s.options) : std::make_shared<const WebSocketOptions>()),
      metrics_(s.metrics),
      hub_(s.hub),
      reader_({.role = s.role, .max_message_size = opt_->max_message_size, .deflate = s.deflate}),
      expires_(std::min(opt_->expires, s.expires)),
      deflate_(s.deflate),
      role_(s.role) {
  if (!s.subprotocol.empty()) {
    for (const std::string& p : opt_->subprotocols)
      if (p == s.subprotocol) { subprotocol_ = &p; break; }
    if (!subprotocol_) subprotocol_ = &(cold().subprotocol = std::move(s.subprotocol));
  }
  if (!s.topic.empty()) topic_ = s.topic == opt_->topic ? &opt_->topic : &(cold().topic = std::move(s.topic));
  if (!s.response.empty()) cold().response = std::move(s.response);
  if (s.after) cold().after = s.after;
  if (s.publish) {
    cold().publish = std::move(s.publish);
    cold_->publish_expires = s.publish_expires;
  }
  v1_ = subprotocol() == herald_v1;
  if (role_ == websocket::Role::server && s.limit_messages && opt_->message_rate.enabled()) {
    // Made on the first message (a bucket not yet taken from is full either
    // way); constructed here only so that bad options throw where they did.
    (void)auth::TokenBucket(opt_->message_rate.per_second, opt_->message_rate.burst);
    limit_ = true;
  }
  if (deflate_) {
    // The Deflater is made on the first compressed send (it holds no zlib
    // state before). The cached compressed frame is made by a fresh stream
    // with a 15-bit window: valid for a peer that expects no takeover and
    // allows 15 bits.
    cache_deflate_ = role_ == websocket::Role::server && deflate_->server_no_context_takeover &&
                     deflate_->server_max_window_bits == 15;
  }
}

HERALD_DECL std::string WebSocketPolicy::encode_event(const Event& e, bool v1, bool deflate, std::size_t fragment_size) {
  std::string body;
  std::string_view payload = e.data();
  if (v1) {
    body.reserve(e.data().size() + 32);
    body.append("{\"id\":").append(std::to_string(e.id())).append(",\"data\":\"");
    json::append_escaped(body, e.data());
    body.append("\"}");
    payload = body;
  }
  std::string z;
  if (deflate && !websocket::Deflater(15, false).compress(payload, z)) payload = z;
  else deflate = false;
  return websocket::encode_message(websocket::Opcode::text, payload, fragment_size, deflate);
}

HERALD_DECL const std::string& WebSocketPolicy::frame_for(const EventPtr& ev) const {
  const bool v1 = v1_;
  const bool z = cache_deflate_ && ev->data().size() + (v1 ? 24 : 0) >= opt_->compress_min_size;
  const FrameKind k = v1 ? (z ? FrameKind::ws_v1_deflate : FrameKind::ws_v1)
                         : (z ? FrameKind::ws_text_deflate : FrameKind::ws_text);
  const std::size_t frag = opt_->fragment_size;
  return ev->frame(k, [v1, z, frag](const Event& e) { return encode_event(e, v1, z, frag); });
}

HERALD_DECL void WebSocketPolicy::start() {
  last_heard_ = ops_->now(conn_);
  std::optional<std::uint64_t> after;
  if (cold_) {
    if (!cold_->response.empty()) {
      ops_->send(conn_, std::move(cold_->response));
      std::string().swap(cold_->response);
    }
    after = std::exchange(cold_->after, std::nullopt);
  }
  if (hub_ && topic_) {
    auto r = ops_->subscribe(conn_, *hub_, *topic_, sub_, {.after = after, .last = 0});
    if (r.ec) return start_close(1013, "cannot subscribe to this topic now", r.ec);
    // From now on the hub's copy of the name (its topics live as long as it does).
    if (sub_.active() && sub_.topic() == *topic_) {
      topic_ = &sub_.topic();
      if (cold_) std::string().swap(cold_->topic);
    }
    if (r.reset && v1_) send_text("{\"reset\":true,\"next\":" + std::to_string(r.next) + "}");
    // The replay is bounded by the history: queued as protocol bytes, so a
    // long gap is never mistaken for a slow consumer before the first write.
    for (const auto& ev : r.replay) ops_->send_ref(conn_, ev, frame_for(ev));
    Metrics::add(metrics_->replayed[Metrics::idx(kind)], r.replay.size());
  }
  trim_cold();
  if (opt_->on_open && !closing_) opt_->on_open(*this);
  if (!closing_) schedule();
}

HERALD_DECL void WebSocketPolicy::read(std::span<char> bytes) {
  if (!conn_) return;
  last_heard_ = ops_->now(conn_);
  awaiting_pong_ = false;  // liveness is any byte
  std::span<std::uint8_t> in(reinterpret_cast<std::uint8_t*>(bytes.data()), bytes.size());
  if (closing_) {
    // Lingering after our close frame: only the peer's close code matters.
    while (!reader_.failed() && !reader_.closed()) {
      websocket::Event ev = reader_.next(in);
      if (ev.kind == websocket::EventKind::need_more) break;
      if (ev.kind == websocket::EventKind::close) {
        peer_code_ = ev.close_code;
        if (!ev.payload.empty()) cold().peer_reason.assign(ev.payload);
        // Handshake complete: the server closes TCP first (RFC 6455 7.1.1);
        // a client keeps lingering until the server does.
        if (role_ == websocket::Role::server) ops_->close(conn_, {}, false, {}, false);
      }
    }
    return;
  }
  while (!closing_) {
    websocket::Event ev = reader_.next(in);
    switch (ev.kind) {
      case websocket::EventKind::need_more: return;
      case websocket::EventKind::text: deliver(websocket::Opcode::text, ev.payload); break;
      case websocket::EventKind::binary: deliver(websocket::Opcode::binary, ev.payload); break;
      // Control frames count against the message rate too: a ping flood
      // costs a pong each, and closes at the same limit as a message flood.
      case websocket::EventKind::ping:
        if (!within_rate()) return;
        send_control(websocket::Opcode::pong, ev.payload);
        break;
      case websocket::EventKind::pong:  // liveness is any byte: last_heard_ above
        if (!within_rate()) return;
        break;
      case websocket::EventKind::close:
        if (!within_rate()) return;
        return peer_closed(ev.close_code, ev.payload);
      case websocket::EventKind::error:
        Metrics::add(metrics_->ws_protocol_errors);
        return start_close(ev.close_code, ev.error.message(), ev.error);
    }
  }
}

HERALD_DECL bool WebSocketPolicy::within_rate() {
  if (!limit_) return true;
  if (!cold().bucket) cold_->bucket.emplace(opt_->message_rate.per_second, opt_->message_rate.burst);
  if (cold_->bucket->try_take(ops_->now(conn_))) return true;
  Metrics::add(metrics_->rate_limited);
  start_close(1008, "message rate limit exceeded", make_error_code(error::auth_rate_limited));
  return false;
}

HERALD_DECL void WebSocketPolicy::deliver(websocket::Opcode op, std::string_view payload) {
  if (!within_rate()) return;
  // On a topic connection a client message is a publish (CONTRACT.md): the
  // handshake's decision for it was kept, so no token is parsed per message.
  if (cold_ && cold_->publish && hub_ && topic_) {
    const auth::AuthDecision& publish = *cold_->publish;
    if (!publish.allowed || ops_->now(conn_) >= cold_->publish_expires) {
      Metrics::add(metrics_->auth_denied);
      const std::string why = publish.allowed ? "access expired" : publish.reason;
      return start_close(1008, why, publish.allowed ? make_error_code(error::auth_expired) : publish.error);
    }
  }
  if (opt_->on_message) return opt_->on_message(*this, op, payload);
  if (role_ != websocket::Role::client) return;
  inbox().messages.push_back({op, std::string(payload), 0});
  pump_inbox();
}

HERALD_DECL void WebSocketPolicy::pump_inbox() {
  detail::WsInbox* in = cold_ ? cold_->inbox.get() : nullptr;
  if (!in || !in->waiting) return;
  if (!in->messages.empty()) {
    auto op = std::move(in->waiting);
    websocket::Message m = std::move(in->messages.front());
    in->messages.pop_front();
    op->complete({}, std::move(m));
  } else if (in->ended) {
    auto op = std::move(in->waiting);
    op->complete(make_error_code(error::closed), {});
  }
}

HERALD_DECL void WebSocketPolicy::send(websocket::Opcode op, std::string_view payload) {
  if (!conn_ || closing_) return;
  if (op == websocket::Opcode::close) return close(1000, payload);
  if (websocket::is_control(op)) return send_control(op, payload);
  std::string z;
  bool compress = false;
  if (deflate_ && payload.size() >= opt_->compress_min_size) {
    if (!cold().deflater) {
      const bool server = role_ == websocket::Role::server;
      const int bits = server ? deflate_->server_max_window_bits : deflate_->client_max_window_bits;
      const bool takeover = server ? !deflate_->server_no_context_takeover : !deflate_->client_no_context_takeover;
      cold_->deflater.emplace(bits, takeover, opt_->deflate.compression_level, opt_->deflate.mem_level);
    }
  }
  if (deflate_ && payload.size() >= opt_->compress_min_size && !cold_->deflater->compress(payload, z)) {
    payload = z;
    compress = true;
  }
  std::string out;
  detail::ws_encode(out, role_, op, payload, opt_->fragment_size, compress);
  ops_->send(conn_, std::move(out));
}

HERALD_DECL void WebSocketPolicy::send_control(websocket::Opcode op, std::string_view payload) {
  if (!conn_ || closing_) return;
  std::string out;
  detail::ws_encode(out, role_, op, payload.substr(0, std::min<std::size_t>(payload.size(), 125)), 0, false);
  ops_->send(conn_, std::move(out));
}

HERALD_DECL void WebSocketPolicy::ping(std::string_view payload) { send_control(websocket::Opcode::ping, payload); }

HERALD_DECL void WebSocketPolicy::close(std::uint16_t code, std::string_view reason) {
  start_close(code, reason, {});
}

HERALD_DECL void WebSocketPolicy::start_close(std::uint16_t code, std::string_view reason, std::error_code ec) {
  if (!conn_ || closing_) return;
  std::string out;
  detail::ws_encode(out, role_, websocket::Opcode::close, websocket::close_payload(code, reason), 0, false);
  ops_->send(conn_, std::move(out));
  closing_ = true;
  ops_->close(conn_, ec, true, opt_->close_timeout, true);
}

HERALD_DECL void WebSocketPolicy::peer_closed(std::uint16_t code, std::string_view reason) {
  peer_code_ = code;
  if (!reason.empty()) cold().peer_reason.assign(reason);
  // Echo the code (RFC 6455 5.5.1); "no code" is answered with no code.
  std::string out;
  detail::ws_encode(out, role_, websocket::Opcode::close,
                    code == static_cast<std::uint16_t>(websocket::CloseCode::no_status) ? std::string()
                                                                                         : websocket::close_payload(code),
                    0, false);
  ops_->send(conn_, std::move(out));
  closing_ = true;
  // The server closes TCP first (RFC 6455 7.1.1); a client waits for it.
  ops_->close(conn_, {}, true, opt_->close_timeout, role_ == websocket::Role::client);
}

HERALD_DECL void WebSocketPolicy::tick(Clock::time_point now) {
  if (closing_) return;  // the connection's close deadline governs now
  if (now >= expires_) return start_close(1008, "access expired", make_error_code(error::ws_policy_violation));
  if (opt_->ping_interval.count() > 0) {
    if (awaiting_pong_) {
      if (now >= last_heard_ + opt_->pong_timeout) {
        Metrics::add(metrics_->ws_dead_peers);
        closing_ = true;
        return ops_->close(conn_, make_error_code(error::timeout), false, {}, false);
      }
    } else if (now >= last_heard_ + opt_->ping_interval) {
      send_control(websocket::Opcode::ping, {});
      awaiting_pong_ = true;
      last_heard_ = now;
    }
  }
  schedule();
}

HERALD_DECL void WebSocketPolicy::schedule() {
  Clock::time_point t = expires_;
  if (opt_->ping_interval.count() > 0) {
    const Clock::time_point p =
        awaiting_pong_ ? last_heard_ + opt_->pong_timeout : last_heard_ + opt_->ping_interval;
    if (p < t) t = p;
  }
  ops_->set_deadline(conn_, t);
}

HERALD_DECL void WebSocketPolicy::ended(std::error_code) {
  closing_ = true;
  if (hub_) hub_->unsubscribe(sub_);
  const std::uint16_t code = peer_code_ ? peer_code_ : static_cast<std::uint16_t>(websocket::CloseCode::abnormal);
  if (opt_->on_close) opt_->on_close(*this, code);
  if (role_ == websocket::Role::client && !opt_->on_message) {
    auto& in = inbox();
    in.messages.push_back({websocket::Opcode::close, cold_->peer_reason, code});
    in.ended = true;
    pump_inbox();
  }
}

namespace detail {

/// Writes a refusal on a stream that will carry no WebSocket, then closes it.
template <class Stream>
void ws_refuse(Stream stream, std::string response) {
  auto s = std::make_shared<Stream>(std::move(stream));
  auto out = std::make_shared<std::string>(std::move(response));
  asio::async_write(*s, asio::buffer(*out), [s, out](std::error_code, std::size_t) {
    std::error_code ignored;
    s->lowest_layer().shutdown(asio::socket_base::shutdown_both, ignored);
    s->lowest_layer().close(ignored);
  });
}

/// The `?after=N` of a target: nullopt if absent; false in `ok` if malformed.
inline std::optional<std::uint64_t> ws_after(std::string_view target, bool& ok) {
  ok = true;
  auto a = http::query_param(target, "after");
  if (!a) return std::nullopt;
  auto n = http::parse_uint64(*a);
  ok = n.has_value();
  return n;
}

HERALD_DECL void ws_install(Server& server, std::string_view pattern, Hub* hub, WebSocketOptions o) {
  auto opt = std::make_shared<const WebSocketOptions>(std::move(o));
  auto hs = std::make_shared<const websocket::HandshakeOptions>(websocket::HandshakeOptions{
      .subprotocols = opt->subprotocols, .check_origin = opt->check_origin, .deflate = opt->deflate});
  server.route("GET", pattern, [hub, opt, hs](Exchange& ex) {
    const auto& req = ex.request();
    auto r = websocket::check_request(req, *hs);
    if (!r) {
      Metrics::add(ex.metrics().bad_requests);
      std::string out;
      websocket::write_reject_response(out, r);
      return ex.respond_raw(std::move(out), false);
    }
    std::string topic = opt->topic;
    if (std::string_view t = ex.param("topic"); !t.empty()) topic = t;
    if (hub && !topic.empty() && !valid_topic(topic))
      return ex.respond_error(400, "topic must be 1-128 of A-Za-z0-9_.-");
    bool ok = true;
    auto after = ws_after(req.target(), ok);
    if (!ok) return ex.respond_error(400, "after must be a non-negative integer");
    if (ex.shutting_down()) return ex.respond_error(503, "server is shutting down", {{"Retry-After", "1"}});
    // Access: the handshake subscribes (401/403 here); the publish decision
    // for the messages is taken now, against the same request, and kept.
    Clock::time_point expires = Clock::time_point::max(), publish_expires = Clock::time_point::max();
    std::optional<auth::AuthDecision> publish;
    if (hub && !topic.empty() && ex.authorizer()) {
      if (!ex.authorize(topic, auth::Action::subscribe, &expires)) return;
      publish = ex.decide(ex.authorizer(), topic, auth::Action::publish);
      publish_expires = ex.lapse_time(*publish);
    }
    WebSocketPolicy::Setup s{.role = websocket::Role::server,
                             .options = opt,
                             .metrics = &ex.metrics(),
                             .hub = hub,
                             .topic = std::move(topic),
                             .after = after,
                             .subprotocol = r.subprotocol,
                             .deflate = r.deflate,
                             .response = {},
                             .expires = expires,
                             .publish = std::move(publish),
                             .publish_expires = publish_expires,
                             .limit_messages = ex.limited()};
    websocket::write_accept_response(s.response, r);
    std::string leftover;
    auto socket = ex.take_socket(leftover);
    auto conn = Connection<WebSocketPolicy>::create(std::move(socket), std::move(s));
    conn->queue().set_options(opt->queue);
    conn->hold(ex.take_lease());
    conn->start(leftover);
  });
}

}  // namespace detail

inline void WebSocketPolicy::install(Server& server, std::string_view pattern, Hub& hub, WebSocketOptions o) {
  detail::ws_install(server, pattern, &hub, std::move(o));
}
inline void WebSocketPolicy::install(Server& server, std::string_view pattern, WebSocketOptions o) {
  detail::ws_install(server, pattern, nullptr, std::move(o));
}

template <class Policy, class Stream, http::RequestLike Req>
  requires std::same_as<Policy, WebSocketPolicy>
std::shared_ptr<Connection<WebSocketPolicy, detail::adopted_t<Stream>>> accept(Stream stream, const Req& req,
                                                                              std::string_view leftover, Hub* hub,
                                                                              WebSocketOptions o) {
  auto r = WebSocketPolicy::check(req, o);
  std::string out;
  if (!r) {
    websocket::write_reject_response(out, r);
    detail::ws_refuse(std::move(stream), std::move(out));
    return nullptr;
  }
  std::string_view target = req.target();
  std::string topic = o.topic;
  if (hub && topic.empty()) {
    std::string_view path = target.substr(0, target.find('?'));
    topic = std::string(path.substr(path.rfind('/') + 1));
  }
  bool ok = true;
  auto after = detail::ws_after(target, ok);
  if (hub && !valid_topic(topic)) ok = false;
  if (!ok) {
    detail::ws_refuse(std::move(stream), http::make_error_response(400, "bad topic or after", false));
    return nullptr;
  }
  auto opt = std::make_shared<const WebSocketOptions>(std::move(o));
  WebSocketPolicy::Setup s{.role = websocket::Role::server,
                           .options = opt,
                           .metrics = hub ? &hub->metrics() : &default_metrics(),
                           .hub = hub,
                           .topic = std::move(topic),
                           .after = after,
                           .subprotocol = r.subprotocol,
                           .deflate = r.deflate};
  websocket::write_accept_response(s.response, r);
  auto conn = Connection<WebSocketPolicy, detail::adopted_t<Stream>>::create(detail::adopt(std::move(stream)), std::move(s));
  conn->queue().set_options(opt->queue);
  conn->start(leftover);
  return conn;
}

}  // namespace herald
