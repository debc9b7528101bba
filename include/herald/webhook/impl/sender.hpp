// herald: Sender definitions (included by herald/webhook/sender.hpp).
#pragma once

namespace herald::webhook {

namespace detail {
/// `ep_` and 16 base64url characters (96 random bits).
HERALD_DECL std::string random_endpoint_id() {
  unsigned char b[12];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("herald: OpenSSL RAND_bytes failed");
  std::string id = "ep_";
  base64url_append(id, b, sizeof b);
  return id;
}

/// The keys of `secret` and `keys` as one space-separated list (how the
/// outbox stores them, in EndpointRecord::secret).
HERALD_DECL std::string join_keys(std::string_view secret, const std::vector<std::string>& keys) {
  std::string out(secret);
  for (const auto& k : keys) {
    if (k.empty()) continue;
    if (!out.empty()) out.push_back(' ');
    out.append(k);
  }
  return out;
}
}  // namespace detail

HERALD_DECL Sender::Sender(asio::any_io_executor ex, Hub& hub, std::unique_ptr<Outbox> outbox, SenderOptions o)
    : ex_(ex), hub_(hub), outbox_(std::move(outbox)), opt_(std::move(o)), client_(ex, opt_.client), timer_(ex) {
  if (!outbox_) outbox_ = std::make_unique<MemoryOutbox>();
  if (!opt_.resolver) opt_.resolver = std::make_shared<AsioResolver>();
  if (opt_.schedule.empty()) throw std::invalid_argument("herald::webhook::Sender: empty retry schedule");
  rng_.seed(opt_.seed ? opt_.seed : std::random_device{}());
  const std::uint64_t e = outbox_->epoch();
  if (e) epoch_ = "." + std::to_string(e);
  anchor_ = opt_.time->now();
  anchor_wall_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
}

HERALD_DECL Sender::~Sender() {
  // The executor's thread has stopped (see the class notes), so nothing
  // delivers on this shard any more: leaving the topics from here is safe.
  for (auto& [id, ep] : endpoints_)
    for (auto& s : ep->subs) hub_.unsubscribe(*s);
}

HERALD_DECL std::int64_t Sender::now_ms() const {
  return anchor_wall_ms_ +
         std::chrono::duration_cast<std::chrono::milliseconds>(opt_.time->now() - anchor_).count();
}

HERALD_DECL Sender::Endpoint& Sender::attach(EndpointRecord rec, Url url, SigningKeys keys) {
  auto ep = std::make_unique<Endpoint>(*this, std::move(rec), std::move(url), std::move(keys));
  Endpoint& ref = *ep;
  for (const auto& t : ref.rec.topics) {
    auto sub = std::make_unique<Subscription>();
    hub_.subscribe(t, ref, *sub, ex_, {});
    ref.subs.push_back(std::move(sub));
  }
  endpoints_[ref.rec.id] = std::move(ep);
  return ref;
}

HERALD_DECL void Sender::start_on_loop() {
  std::lock_guard lk(mu_);
  for (auto& rec : outbox_->endpoints()) {
    std::error_code ec1, ec2;
    Url u = parse_url(rec.url, ec1);
    SigningKeys s = SigningKeys::parse(rec.secret, ec2);  // one whsec_ as stored by older versions, or a list
    if (ec1 || ec2) continue;  // stored by a version that accepted it; skip rather than refuse to start
    Endpoint& ep = attach(std::move(rec), std::move(u), std::move(s));
    ep.dead = outbox_->counts(ep.rec.id).dead;
  }
  for (auto& m : outbox_->owed()) {
    auto it = endpoints_.find(m.endpoint_id);
    if (it == endpoints_.end()) continue;
    Endpoint& ep = *it->second;
    (m.state == MessageState::pending ? ep.pending : ep.retrying)++;
    ep.due.emplace(m.next_attempt_ms, m.seq);
    ep.owed.emplace(m.seq, std::move(m));
  }
  run_due_locked();
}

HERALD_DECL void Sender::stop_on_loop() {
  std::lock_guard lk(mu_);
  stopped_ = true;
  timer_.cancel();
  for (auto& [id, ep] : endpoints_) {
    for (auto& s : ep->subs) hub_.unsubscribe(*s);
  }
  commit_batch_locked();
  outbox_->flush();
  client_.close_idle();
}

HERALD_DECL void Sender::add_endpoint_impl(EndpointConfig c, Done done) {
  auto fail = [&](error e) { asio::post(ex_, [done, e] { done(make_error_code(e), {}); }); };
  std::error_code ec;
  Url url = parse_url(c.url, ec);
  if (ec) return fail(error::webhook_bad_url);
  std::string key_list = detail::join_keys(c.secret, c.keys);
  SigningKeys keys = SigningKeys::parse(key_list, ec);
  if (ec) return fail(error::webhook_bad_secret);
  if (c.topics.empty()) return fail(error::invalid_topic);
  for (const auto& t : c.topics)
    if (!valid_topic(t)) return fail(error::invalid_topic);
  EndpointRecord rec;
  rec.id = c.id.empty() ? detail::random_endpoint_id() : c.id;
  rec.url = c.url;
  rec.secret = std::move(key_list);
  rec.topics = std::move(c.topics);
  rec.max_in_flight = c.options.max_in_flight;
  rec.ordered = c.options.ordered;
  // Checked at registration too, so a forbidden target is refused up front
  // (400 in the demo) instead of failing every attempt later.
  auto register_it = [this, done, rec = std::move(rec), url, keys](std::error_code ec, Resolved r) mutable {
    if (ec) return done(ec, {});
    if (auto bad = check(r, opt_.ssrf)) return done(bad, {});
    std::string id = rec.id;
    {
      std::lock_guard lk(mu_);
      if (endpoints_.count(id)) return done(make_error_code(error::invalid_argument), {});
      outbox_->put_endpoint(rec);
      attach(std::move(rec), std::move(url), std::move(keys));
    }
    done({}, std::move(id));
  };
  if (url.literal) {
    asio::post(ex_, [f = std::move(register_it), a = *url.literal]() mutable { f({}, Resolved{{a}}); });
  } else {
    opt_.resolver->resolve(ex_, url.host, std::move(register_it));
  }
}

HERALD_DECL void Sender::on_event(Endpoint& ep, const EventPtr& ev) {
  std::lock_guard lk(mu_);
  if (stopped_ || ep.rec.disabled) return;  // 410 Gone: events while disabled are not queued
  Message m;
  m.endpoint_id = ep.rec.id;
  m.topic = ev->topic();
  m.event_id = ev->id();
  m.msg_id = message_id(ep.rec.id + epoch_, m.topic, m.event_id);
  m.body = delivery_body(m.topic, m.event_id, ev->data(), std::chrono::system_clock::now());
  m.next_attempt_ms = now_ms() + delay_before(opt_.schedule, 0, rng_).value_or(std::chrono::milliseconds(0)).count();
  batch_.push_back(std::move(m));
  batch_eps_.push_back(&ep);
  schedule_commit_locked();
}

HERALD_DECL void Sender::schedule_commit_locked() {
  // One transaction per loop pass: what arrives or completes together commits together.
  if (batch_posted_) return;
  batch_posted_ = true;
  asio::post(ex_, [this] {
    std::lock_guard lk(mu_);
    batch_posted_ = false;
    commit_batch_locked();
    run_due_locked();
  });
}

HERALD_DECL void Sender::commit_batch_locked() {
  if (!delivered_.empty()) {
    outbox_->delivered(delivered_);
    delivered_.clear();
  }
  if (batch_.empty()) return;
  outbox_->enqueue(batch_);
  for (std::size_t i = 0; i < batch_.size(); ++i) {
    Endpoint& ep = *batch_eps_[i];
    ++ep.pending;
    ep.due.emplace(batch_[i].next_attempt_ms, batch_[i].seq);
    ep.owed.emplace(batch_[i].seq, std::move(batch_[i]));
  }
  batch_.clear();
  batch_eps_.clear();
}

HERALD_DECL std::size_t Sender::run_due_locked() {
  if (stopped_) return 0;
  const std::int64_t now = now_ms();
  std::size_t started = 0;
  for (auto& [id, p] : endpoints_) {
    Endpoint& ep = *p;
    if (ep.rec.disabled) continue;
    while (ep.in_flight < ep.limit()) {
      std::int64_t seq;
      if (ep.rec.ordered) {
        if (ep.owed.empty()) break;
        const Message& head = ep.owed.begin()->second;
        if (head.next_attempt_ms > now || !ep.due.count({head.next_attempt_ms, head.seq})) break;
        seq = head.seq;
        ep.due.erase({head.next_attempt_ms, head.seq});
      } else {
        if (ep.due.empty() || ep.due.begin()->first > now) break;
        seq = ep.due.begin()->second;
        ep.due.erase(ep.due.begin());
      }
      start_attempt_locked(ep, seq);
      ++started;
    }
  }
  arm_locked();
  return started;
}

HERALD_DECL void Sender::arm_locked() {
  if (opt_.manual || stopped_) return;
  std::optional<std::int64_t> next;
  for (auto& [id, p] : endpoints_) {
    Endpoint& ep = *p;
    if (ep.rec.disabled || ep.in_flight >= ep.limit()) continue;
    std::optional<std::int64_t> t;
    if (ep.rec.ordered) {
      if (!ep.owed.empty() && ep.due.count({ep.owed.begin()->second.next_attempt_ms, ep.owed.begin()->first}))
        t = ep.owed.begin()->second.next_attempt_ms;
    } else if (!ep.due.empty()) {
      t = ep.due.begin()->first;
    }
    if (t && (!next || *t < *next)) next = t;
  }
  if (!next) return void(timer_.cancel());
  timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, *next - now_ms())));
  timer_.async_wait([this](std::error_code ec) {
    if (ec) return;
    std::lock_guard lk(mu_);
    run_due_locked();
  });
}

HERALD_DECL void Sender::start_attempt_locked(Endpoint& ep, std::int64_t seq) {
  ++ep.in_flight;
  const std::string id = ep.rec.id;
  // Endpoints are never removed, so `ep` outlives every attempt.
  if (ep.url.literal) {
    Resolved r{{*ep.url.literal}};
    asio::post(ex_, [this, &ep, seq, r] { send(ep, seq, r); });
    return;
  }
  opt_.resolver->resolve(ex_, ep.url.host, [this, &ep, seq](std::error_code ec, Resolved r) {
    if (ec) return finish(ep, seq, 0, std::nullopt, ec);
    send(ep, seq, r);
  });
}

HERALD_DECL void Sender::send(Endpoint& ep, std::int64_t seq, const Resolved& r) {
  if (auto bad = check(r, opt_.ssrf)) return finish(ep, seq, 0, std::nullopt, bad);
  http::ClientTarget t;
  http::ClientRequest req;
  {
    std::lock_guard lk(mu_);
    auto it = ep.owed.find(seq);
    if (it == ep.owed.end()) {  // replayed or gone meanwhile: nothing to send
      --ep.in_flight;
      return;
    }
    const Message& m = it->second;
    t.https = ep.url.scheme == "https";
    t.host = ep.url.host;
    t.port = ep.url.port;
    for (const Address& a : r.addrs) t.addresses.emplace_back(to_asio(a), ep.url.port);  // exactly what was checked
    req.target = ep.url.target;
    const std::int64_t ts = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch()).count();
    req.headers = {{"Content-Type", "application/json"},
                   {"webhook-id", m.msg_id},
                   {"webhook-timestamp", std::to_string(ts)},
                   {"webhook-signature", ep.keys.sign(m.msg_id, ts, m.body)}};
    req.body = m.body;
  }
  client_.async_request(std::move(t), std::move(req), [this, &ep, seq](std::error_code ec, http::Response res) {
    std::optional<std::string> ra;
    if (auto h = res.header("retry-after")) ra = std::string(*h);
    finish(ep, seq, ec ? 0 : res.status, std::move(ra), ec);
  });
}

HERALD_DECL void Sender::mark_failing_locked(Endpoint& ep, std::int64_t now) {
  if (ep.rec.failing_since_ms == 0) ep.rec.failing_since_ms = now;
  else if (now - ep.rec.failing_since_ms >= opt_.disable_after.count()) ep.rec.disabled = true;
  outbox_->set_endpoint_status(ep.rec.id, ep.rec.disabled, ep.rec.failing_since_ms);
}

HERALD_DECL void Sender::finish(Endpoint& ep, std::int64_t seq, int status, std::optional<std::string> retry_after,
                                std::error_code ec) {
  AttemptReport rep;
  {
    std::lock_guard lk(mu_);
    --ep.in_flight;
    auto it = ep.owed.find(seq);
    if (it == ep.owed.end()) return;
    Message& m = it->second;
    Metrics& met = *opt_.metrics;
    const std::int64_t now = now_ms();
    const MessageState before = m.state;
    ++m.attempts;
    Outcome out = (ec || status == 0) ? Outcome::retry : classify(status, opt_.classify);
    rep = {ep.rec.id, m.msg_id, m.topic, m.event_id, m.attempts, status, ec, out, m.state, 0};
    auto leave = [&] { (before == MessageState::pending ? ep.pending : ep.retrying)--; };
    switch (out) {
      case Outcome::delivered:
        Metrics::add(met.webhook_attempts_ok);
        ++ep.rec.delivered;
        if (ep.rec.failing_since_ms) {
          ep.rec.failing_since_ms = 0;
          outbox_->set_endpoint_status(ep.rec.id, ep.rec.disabled, 0);
        }
        leave();
        rep.state = MessageState::delivered;
        delivered_.push_back(std::move(m));
        ep.owed.erase(it);
        schedule_commit_locked();
        break;
      case Outcome::disable:
        // 410 Gone: the receiver says the endpoint is no more. Stop sending,
        // keep what is owed (an operator may re-enable it).
        Metrics::add(met.webhook_attempts_failed);
        ep.rec.disabled = true;
        outbox_->set_endpoint_status(ep.rec.id, true, ep.rec.failing_since_ms);
        [[fallthrough]];
      case Outcome::retry: {
        std::optional<std::chrono::milliseconds> ra;
        if (retry_after && honours_retry_after(status))
          if (auto s = parse_retry_after(*retry_after, std::chrono::system_clock::now())) ra = *s;
        const auto d = delay_before(opt_.schedule, m.attempts, rng_, ra);
        if (d || out == Outcome::disable) {
          if (out == Outcome::retry) {
            Metrics::add(met.webhook_attempts_retry);
            mark_failing_locked(ep, now);
          }
          m.state = MessageState::retrying;
          m.next_attempt_ms = now + (d ? d->count() : 0);
          outbox_->update(m);
          leave();
          ++ep.retrying;
          ep.due.emplace(m.next_attempt_ms, m.seq);
          rep.state = m.state;
          rep.next_attempt_ms = m.next_attempt_ms;
          break;
        }
        mark_failing_locked(ep, now);
        [[fallthrough]];  // the schedule ended
      }
      case Outcome::dead_letter:
        Metrics::add(met.webhook_attempts_failed);
        Metrics::add(met.webhook_dead_letters);
        m.state = MessageState::dead;
        outbox_->update(m);
        leave();
        ++ep.dead;
        rep.state = MessageState::dead;
        ep.owed.erase(it);
        break;
    }
    run_due_locked();
  }
  if (opt_.on_attempt) opt_.on_attempt(rep);
}

HERALD_DECL std::optional<EndpointStats> Sender::stats(std::string_view id) const {
  std::lock_guard lk(mu_);
  auto it = endpoints_.find(id);
  if (it == endpoints_.end()) return std::nullopt;
  const Endpoint& ep = *it->second;
  return EndpointStats{ep.rec.id, ep.rec.url, ep.rec.topics, ep.rec.delivered, ep.pending, ep.retrying,
                       ep.dead,   ep.in_flight, ep.rec.disabled};
}

HERALD_DECL std::vector<Message> Sender::dead_letters(std::string_view id) {
  std::lock_guard lk(mu_);
  return outbox_->dead_letters(id);
}

HERALD_DECL std::optional<std::size_t> Sender::replay(std::string_view id) {
  std::size_t n;
  {
    std::lock_guard lk(mu_);
    auto it = endpoints_.find(id);
    if (it == endpoints_.end()) return std::nullopt;
    Endpoint& ep = *it->second;
    auto msgs = outbox_->requeue_dead(id, now_ms());
    n = msgs.size();
    for (auto& m : msgs) {
      --ep.dead;
      ++ep.pending;
      ep.due.emplace(m.next_attempt_ms, m.seq);
      ep.owed.emplace(m.seq, std::move(m));
    }
  }
  post_run();
  return n;
}

HERALD_DECL bool Sender::enable(std::string_view id) {
  {
    std::lock_guard lk(mu_);
    auto it = endpoints_.find(id);
    if (it == endpoints_.end()) return false;
    Endpoint& ep = *it->second;
    ep.rec.disabled = false;
    ep.rec.failing_since_ms = 0;
    outbox_->set_endpoint_status(ep.rec.id, false, 0);
  }
  post_run();
  return true;
}

HERALD_DECL std::error_code Sender::set_signing_keys(std::string_view id, const std::vector<std::string>& keys) {
  std::string list = detail::join_keys({}, keys);
  std::error_code ec;
  SigningKeys parsed = SigningKeys::parse(list, ec);
  if (ec) return make_error_code(error::webhook_bad_secret);
  std::lock_guard lk(mu_);
  auto it = endpoints_.find(id);
  if (it == endpoints_.end()) return make_error_code(error::not_found);
  Endpoint& ep = *it->second;
  ep.keys = std::move(parsed);
  ep.rec.secret = std::move(list);
  // put_endpoint writes the whole row, delivered count included: commit the
  // deliveries still batched first, so the row and the count agree.
  commit_batch_locked();
  outbox_->put_endpoint(ep.rec);
  return {};
}

HERALD_DECL void Sender::tick() { post_run(); }

HERALD_DECL void Sender::post_run() {
  asio::post(ex_, [this] {
    std::lock_guard lk(mu_);
    run_due_locked();
  });
}

}  // namespace herald::webhook
