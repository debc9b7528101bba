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
    : ex_(ex), hub_(hub), outbox_(std::move(outbox)), opt_(std::move(o)), client_(ex, opt_.client), timer_(ex),
      retry_timer_(ex) {
  if (!outbox_) outbox_ = std::make_unique<MemoryOutbox>();
  if (!opt_.resolver) opt_.resolver = std::make_shared<AsioResolver>();
  if (opt_.schedule.empty()) throw std::invalid_argument("herald::webhook::Sender: empty retry schedule");
  rng_.seed(opt_.seed ? opt_.seed : std::random_device{}());
  const std::uint64_t e = outbox_->epoch();  // read at open: no I/O here
  if (e) epoch_ = "." + std::to_string(e);
  anchor_ = opt_.time->now();
  anchor_wall_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
}

HERALD_DECL Sender::~Sender() {
  // async_stop has completed (see the class notes): nothing of ours is
  // queued on the executor, and stop left the topics already (idempotent).
  for (auto& [id, ep] : endpoints_)
    for (auto& s : ep->subs) hub_.unsubscribe(*s);
  // The outbox closes on the store thread too (a checkpoint: storage work).
  asio::post(store_, [o = std::move(outbox_)]() mutable { o.reset(); });
  store_.join();
  Metrics::add(opt_.metrics->webhook_unwritten, -unwritten_reported_);
  if (outbox_ec_) Metrics::add(opt_.metrics->webhook_outbox_failing, -1);
}

HERALD_DECL void Sender::release() noexcept {
  if (ops_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  std::vector<std::function<void()>> waiters;
  {
    std::lock_guard lk(stop_mu_);
    if (!stopping_) return;
    waiters.swap(stop_waiters_);
  }
  // Each posts the caller's handler; nothing here touches `this` after that,
  // since the caller may destroy the Sender as soon as it runs.
  for (auto& w : waiters) w();
}

template <class F>
std::error_code Sender::store_call(F&& f, std::string* what) noexcept {
  try {
    f();
    return {};
  } catch (const std::system_error& e) {
    if (what) *what = e.what();
    return e.code().category() == error_category() ? e.code() : make_error_code(error::outbox_io);
  } catch (const std::exception& e) {
    if (what) *what = e.what();
  } catch (...) {
  }
  return make_error_code(error::outbox_io);
}

HERALD_DECL void Sender::log(const std::string& line) {
  if (opt_.log) return opt_.log(line);
  std::fprintf(stderr, "%s\n", line.c_str());
}

HERALD_DECL std::int64_t Sender::now_ms() const {
  return anchor_wall_ms_ +
         std::chrono::duration_cast<std::chrono::milliseconds>(opt_.time->now() - anchor_).count();
}

HERALD_DECL std::error_code Sender::outbox_error() const {
  std::lock_guard lk(mu_);
  return outbox_ec_;
}

HERALD_DECL Sender::Endpoint& Sender::attach(EndpointRecord rec, Url url, SigningKeys keys) {
  auto ep = std::make_unique<Endpoint>(*this, std::move(rec), std::move(url), std::move(keys));
  Endpoint& ref = *ep;
  for (const auto& t : ref.rec.topics) {
    auto sub = std::make_unique<Subscription>();
    hub_.subscribe(t, ref, *sub, ex_, {});
    ref.subs.push_back(std::move(sub));
    ++topic_refs_[t];
  }
  endpoints_[ref.rec.id] = std::move(ep);
  return ref;
}

HERALD_DECL void Sender::start_impl(std::function<void(std::error_code)> done) {
  struct Loaded {
    std::vector<EndpointRecord> eps;
    std::vector<MessageCounts> counts;
    std::vector<Message> owed;
    std::error_code ec;
  };
  auto l = std::make_shared<Loaded>();
  asio::post(store_, [this, l, done = std::move(done), g = hold()]() mutable {
    std::string what;
    l->ec = store_call([&] {
      l->eps = outbox_->endpoints();
      for (const auto& e : l->eps) l->counts.push_back(outbox_->counts(e.id));
      l->owed = outbox_->owed();
    }, &what);
    asio::post(ex_, [this, l, done = std::move(done), what = std::move(what), g = std::move(g)]() mutable {
      if (l->ec) {
        log("herald: webhook outbox: cannot load (" + l->ec.message() + "): " + what);
        return done(l->ec);
      }
      {
        std::lock_guard lk(mu_);
        for (std::size_t i = 0; i < l->eps.size(); ++i) {
          EndpointRecord& rec = l->eps[i];
          std::error_code ec1, ec2;
          Url u = parse_url(rec.url, ec1);
          SigningKeys s = SigningKeys::parse(rec.secret, ec2);  // one whsec_ as stored by older versions, or a list
          if (ec1 || ec2) continue;  // stored by a version that accepted it; skip rather than refuse to start
          if (endpoints_.count(rec.id)) continue;
          Endpoint& ep = attach(std::move(rec), std::move(u), std::move(s));
          ep.dead = l->counts[i].dead;
        }
        for (auto& m : l->owed) {
          auto it = endpoints_.find(m.endpoint_id);
          if (it == endpoints_.end()) continue;
          Endpoint& ep = *it->second;
          (m.state == MessageState::pending ? ep.pending : ep.retrying)++;
          ep.due.emplace(m.next_attempt_ms, m.seq);
          ep.owed.emplace(m.seq, std::move(m));
        }
        run_due_locked();
      }
      done({});
    });
  });
}

HERALD_DECL void Sender::stop_impl(std::function<void()> done) {
  Hold g = hold();  // before stopping_: the count cannot reach zero until stop_on_loop ran
  {
    std::lock_guard lk(stop_mu_);
    stopping_ = true;
    stop_waiters_.push_back(std::move(done));
  }
  asio::post(ex_, [this, g = std::move(g)] { stop_on_loop(); });
}

HERALD_DECL void Sender::stop_on_loop() {
  std::lock_guard lk(mu_);
  stopped_ = true;
  timer_.cancel();
  retry_timer_.cancel();
  retry_armed_ = false;
  for (auto& [id, ep] : endpoints_)
    for (auto& s : ep->subs) hub_.unsubscribe(*s);
  // Attempts in flight end now (operation_aborted): their handlers run soon
  // and leave the messages owed, uncounted.
  client_.cancel();
  client_.close_idle();
  write_locked();  // what is accepted; then the checkpoint (checkpoint_locked)
  checkpoint_locked();
}

HERALD_DECL void Sender::add_endpoint_impl(EndpointConfig c, Done done) {
  auto fail = [&](error e) { asio::post(ex_, [done, e, g = hold()] { done(make_error_code(e), {}); }); };
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
  auto register_it = [this, done, rec = std::move(rec), url, keys, g = hold()](std::error_code ec,
                                                                               Resolved r) mutable {
    if (ec) return done(ec, {});
    if (auto bad = check(r, opt_.ssrf)) return done(bad, {});
    std::lock_guard lk(mu_);
    bool taken = endpoints_.count(rec.id) > 0;
    for (const auto& q : requests_) taken = taken || (q.add && q.rec.id == rec.id);
    if (taken || stopped_) {
      const auto e = make_error_code(stopped_ ? error::shutting_down : error::invalid_argument);
      return asio::post(ex_, [done, e, g = hold()] { done(e, {}); });
    }
    if (outbox_ec_) {  // storage is failing: refuse now rather than wait for the next try
      Metrics::add(opt_.metrics->webhook_refused);
      return asio::post(ex_, [done, e = outbox_ec_, g = hold()] { done(e, {}); });
    }
    Request q;
    q.add = true;
    q.url = std::move(url);
    q.keys = std::move(keys);
    q.done = [done, id = rec.id](std::error_code e) { done(e, e ? std::string() : id); };
    q.rec = std::move(rec);
    requests_.push_back(std::move(q));
    schedule_commit_locked();
  };
  if (url.literal) {
    asio::post(ex_, [f = std::move(register_it), a = *url.literal]() mutable { f({}, Resolved{{a}}); });
  } else {
    opt_.resolver->resolve(ex_, url.host, std::move(register_it));
  }
}

HERALD_DECL std::error_code Sender::admit(std::string_view topic) const {
  if (!refusing_.load(std::memory_order_acquire)) return {};
  std::lock_guard lk(mu_);
  auto it = topic_refs_.find(topic);
  if (it == topic_refs_.end() || it->second == 0) return {};  // no endpoint takes it: nothing to write
  std::error_code ec = outbox_ec_;
  if (!ec) {
    if (batch_.size() + writing_enqueued_ < opt_.max_unwritten) return {};
    ec = make_error_code(error::outbox_busy);  // the store is behind
  }
  Metrics::add(opt_.metrics->webhook_refused);
  return ec;
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
  account_locked();
  schedule_commit_locked();
}

HERALD_DECL void Sender::schedule_commit_locked() {
  // One transaction per loop pass: what arrives or completes together commits together.
  if (batch_posted_) return;
  batch_posted_ = true;
  asio::post(ex_, [this, g = hold()] {
    std::lock_guard lk(mu_);
    batch_posted_ = false;
    write_locked();  // what it writes becomes due in on_written
  });
}

/// A copy of `m` without its body: what an update or a delivery mark needs.
namespace detail {
HERALD_DECL Message without_body(const Message& m) {
  Message c;
  c.seq = m.seq;
  c.endpoint_id = m.endpoint_id;
  c.topic = m.topic;
  c.event_id = m.event_id;
  c.msg_id = m.msg_id;
  c.attempts = m.attempts;
  c.next_attempt_ms = m.next_attempt_ms;
  c.state = m.state;
  return c;
}
}  // namespace detail

HERALD_DECL void Sender::write_locked() {
  // One commit at a time; while a failed one waits for its next try, what
  // comes meanwhile joins it.
  if (writing_ || retry_armed_) return;
  if (batch_.empty() && updates_.empty() && delivered_.empty() && dirty_.empty() && requests_.empty()) return;
  auto job = std::make_shared<WriteJob>();
  OutboxChanges& c = job->changes;
  c.enqueue = std::move(batch_);
  job->eps = std::move(batch_eps_);
  batch_.clear();
  batch_eps_.clear();
  c.update.reserve(updates_.size());
  for (auto& [seq, m] : updates_) c.update.push_back(std::move(m));
  updates_.clear();
  c.delivered = std::move(delivered_);
  delivered_.clear();
  // Rows are written whole, after the delivery marks: the count in memory
  // includes the deliveries of this commit and of every commit before it.
  for (const auto& id : dirty_)
    if (auto it = endpoints_.find(id); it != endpoints_.end()) c.endpoints.push_back(it->second->rec);
  job->dirty = std::move(dirty_);
  dirty_.clear();
  job->requests = std::move(requests_);
  requests_.clear();
  for (const auto& q : job->requests) {
    if (q.add) {
      c.endpoints.push_back(q.rec);
    } else if (auto it = endpoints_.find(q.rec.id); it != endpoints_.end()) {
      EndpointRecord r = it->second->rec;  // after the dirty rows: the new keys win
      r.secret = q.rec.secret;
      c.endpoints.push_back(std::move(r));
    }
  }
  writing_ = true;
  writing_enqueued_ = c.enqueue.size();
  const bool retry = bool(outbox_ec_);
  asio::post(store_, [this, job, retry, g = hold()]() mutable {
    job->ec = store_call([&] {
      // A failed commit may have left the WAL at its size limit: fold it
      // into the database first so the next transaction can reuse it.
      if (retry) outbox_->flush();
      outbox_->apply(job->changes);
    }, &job->what);
    asio::post(ex_, [this, job, g = std::move(g)] { on_written(*job); });
  });
}

HERALD_DECL void Sender::on_written(WriteJob& job) {
  std::vector<std::pair<std::function<void(std::error_code)>, std::error_code>> answers;
  {
    std::lock_guard lk(mu_);
    writing_ = false;
    writing_enqueued_ = 0;
    OutboxChanges& c = job.changes;
    if (!job.ec) {
      for (std::size_t i = 0; i < c.enqueue.size(); ++i) {
        Message& m = c.enqueue[i];
        Endpoint& ep = *job.eps[i];
        ++ep.pending;  // owed from now: committed
        ep.due.emplace(m.next_attempt_ms, m.seq);
        ep.owed.emplace(m.seq, std::move(m));
      }
      for (auto& q : job.requests) {
        if (q.add) {
          if (!stopped_) attach(std::move(q.rec), std::move(q.url), std::move(q.keys));
        } else if (auto it = endpoints_.find(q.rec.id); it != endpoints_.end()) {
          it->second->keys = std::move(q.keys);
          it->second->rec.secret = std::move(q.rec.secret);
        }
        answers.emplace_back(std::move(q.done), std::error_code{});
      }
      if (outbox_ec_) {
        log("herald: webhook outbox: writing again after " + outbox_ec_.message());
        outbox_ec_ = {};
        retry_delay_ = std::chrono::milliseconds(0);
        Metrics::add(opt_.metrics->webhook_outbox_failing, -1);
      }
    } else {
      Metrics::add(opt_.metrics->webhook_outbox_errors);
      // Nothing is lost: the commit goes back in front of what came since,
      // whole, and is tried again. A newer result of the same message wins.
      batch_.insert(batch_.begin(), std::make_move_iterator(c.enqueue.begin()), std::make_move_iterator(c.enqueue.end()));
      batch_eps_.insert(batch_eps_.begin(), job.eps.begin(), job.eps.end());
      for (auto& m : c.update) updates_.emplace(m.seq, std::move(m));
      delivered_.insert(delivered_.end(), std::make_move_iterator(c.delivered.begin()),
                        std::make_move_iterator(c.delivered.end()));
      dirty_.insert(job.dirty.begin(), job.dirty.end());
      // Registrations and key changes are refused: their callers hear it.
      for (auto& q : job.requests) answers.emplace_back(std::move(q.done), job.ec);
      if (!outbox_ec_) Metrics::add(opt_.metrics->webhook_outbox_failing, 1);
      if (job.ec != outbox_ec_)
        log("herald: webhook outbox: commit failed (" + job.ec.message() + "): " + job.what + "; " +
            std::to_string(batch_.size()) + " accepted messages kept in memory, trying again; new ones refused");
      outbox_ec_ = job.ec;
      if (stopped_) {
        if (!batch_.empty() || !delivered_.empty())
          log("herald: webhook outbox: stopping with " + std::to_string(batch_.size()) +
              " accepted messages and " + std::to_string(delivered_.size()) +
              " delivery marks not written (" + job.ec.message() + ")");
      } else {
        arm_retry_locked();
      }
    }
    account_locked();
    if (!stopped_ || !outbox_ec_) write_locked();  // what came meanwhile
    // Only new messages become due here (a ManualClock test ticks the rest).
    if (!job.ec && !c.enqueue.empty()) run_due_locked();
    checkpoint_locked();
  }
  for (auto& [f, ec] : answers) f(ec);
}

HERALD_DECL void Sender::arm_retry_locked() {
  retry_delay_ = retry_delay_.count() == 0 ? std::chrono::milliseconds(50)
                                           : std::min(retry_delay_ * 2, opt_.outbox_retry_max);
  retry_armed_ = true;
  retry_timer_.expires_after(retry_delay_);
  retry_timer_.async_wait([this, g = hold()](std::error_code ec) {
    if (ec) return;  // stop: it writes once more itself
    std::lock_guard lk(mu_);
    retry_armed_ = false;
    write_locked();
  });
}

HERALD_DECL void Sender::checkpoint_locked() {
  // After the last commit of a stop: make it durable as far as the medium allows.
  if (!stopped_ || writing_ || checkpointed_) return;
  checkpointed_ = true;
  asio::post(store_, [this, g = hold()] { store_call([&] { outbox_->flush(); }); });
}

HERALD_DECL void Sender::account_locked() {
  const auto n = static_cast<std::int64_t>(batch_.size() + writing_enqueued_);
  Metrics::add(opt_.metrics->webhook_unwritten, n - unwritten_reported_);
  unwritten_reported_ = n;
  refusing_.store(bool(outbox_ec_) || static_cast<std::size_t>(n) >= opt_.max_unwritten,
                  std::memory_order_release);
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
  timer_.async_wait([this, g = hold()](std::error_code ec) {
    if (ec) return;
    std::lock_guard lk(mu_);
    run_due_locked();
  });
}

HERALD_DECL void Sender::start_attempt_locked(Endpoint& ep, std::int64_t seq) {
  ++ep.in_flight;
  // Endpoints are never removed, so `ep` outlives every attempt; the Hold
  // keeps the Sender (async_stop waits for it).
  if (ep.url.literal) {
    Resolved r{{*ep.url.literal}};
    asio::post(ex_, [this, &ep, seq, r, g = hold()] { send(ep, seq, r, g); });
    return;
  }
  opt_.resolver->resolve(ex_, ep.url.host, [this, &ep, seq, g = hold()](std::error_code ec, Resolved r) {
    if (ec) return finish(ep, seq, 0, std::nullopt, ec);
    send(ep, seq, r, g);
  });
}

HERALD_DECL void Sender::send(Endpoint& ep, std::int64_t seq, const Resolved& r, const Hold& g) {
  if (auto bad = check(r, opt_.ssrf)) return finish(ep, seq, 0, std::nullopt, bad);
  http::ClientTarget t;
  http::ClientRequest req;
  {
    std::lock_guard lk(mu_);
    auto it = ep.owed.find(seq);
    if (stopped_ || it == ep.owed.end()) {  // stopping, or replayed or gone meanwhile: nothing to send
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
  client_.async_request(std::move(t), std::move(req), [this, &ep, seq, g](std::error_code ec, http::Response res) {
    std::optional<std::string> ra;
    if (auto h = res.header("retry-after")) ra = std::string(*h);
    finish(ep, seq, ec ? 0 : res.status, std::move(ra), ec);
  });
}

HERALD_DECL void Sender::mark_failing_locked(Endpoint& ep, std::int64_t now) {
  if (ep.rec.failing_since_ms == 0) ep.rec.failing_since_ms = now;
  else if (now - ep.rec.failing_since_ms >= opt_.disable_after.count()) ep.rec.disabled = true;
  dirty_.insert(ep.rec.id);
}

HERALD_DECL void Sender::finish(Endpoint& ep, std::int64_t seq, int status, std::optional<std::string> retry_after,
                                std::error_code ec) {
  AttemptReport rep;
  {
    std::lock_guard lk(mu_);
    --ep.in_flight;
    // Cancelled by async_stop: not an attempt (the message stays owed as it was).
    if (stopped_ && ec == asio::error::operation_aborted) return;
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
          dirty_.insert(ep.rec.id);
        }
        leave();
        rep.state = MessageState::delivered;
        // Marked delivered by the next commit; until it succeeds the outbox
        // still owes it (a restart meanwhile sends it again, same id).
        delivered_.push_back(detail::without_body(m));
        ep.owed.erase(it);
        break;
      case Outcome::disable:
        // 410 Gone: the receiver says the endpoint is no more. Stop sending,
        // keep what is owed (an operator may re-enable it).
        Metrics::add(met.webhook_attempts_failed);
        ep.rec.disabled = true;
        dirty_.insert(ep.rec.id);
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
          updates_[m.seq] = detail::without_body(m);
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
        updates_[m.seq] = detail::without_body(m);
        leave();
        ++ep.dead;
        rep.state = MessageState::dead;
        ep.owed.erase(it);
        break;
    }
    schedule_commit_locked();
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

HERALD_DECL void Sender::dead_letters_impl(std::string id,
                                           std::function<void(std::error_code, std::vector<Message>)> done) {
  {
    std::lock_guard lk(mu_);
    if (!endpoints_.count(id))
      return asio::post(ex_, [done, g = hold()] { done(make_error_code(error::not_found), {}); });
  }
  asio::post(store_, [this, id = std::move(id), done = std::move(done), g = hold()]() mutable {
    std::vector<Message> v;
    std::string what;
    const auto ec = store_call([&] { v = outbox_->dead_letters(id); }, &what);
    if (ec) Metrics::add(opt_.metrics->webhook_outbox_errors);
    asio::post(ex_, [done = std::move(done), ec, v = std::move(v), g = std::move(g)]() mutable { done(ec, std::move(v)); });
  });
}

HERALD_DECL void Sender::replay_impl(std::string id, std::function<void(std::error_code, std::size_t)> done) {
  {
    std::lock_guard lk(mu_);
    if (!endpoints_.count(id))
      return asio::post(ex_, [done, g = hold()] { done(make_error_code(error::not_found), 0); });
    if (outbox_ec_) {
      Metrics::add(opt_.metrics->webhook_refused);
      return asio::post(ex_, [done, e = outbox_ec_, g = hold()] { done(e, 0); });
    }
  }
  const std::int64_t now = now_ms();
  asio::post(store_, [this, id = std::move(id), done = std::move(done), now, g = hold()]() mutable {
    std::vector<Message> v;
    std::string what;
    const auto ec = store_call([&] { v = outbox_->requeue_dead(id, now); }, &what);
    if (ec) Metrics::add(opt_.metrics->webhook_outbox_errors);
    asio::post(ex_, [this, id = std::move(id), done = std::move(done), ec, v = std::move(v), g = std::move(g)]() mutable {
      if (ec) return done(ec, 0);
      const std::size_t n = v.size();
      {
        std::lock_guard lk(mu_);
        auto it = endpoints_.find(id);
        if (it != endpoints_.end()) {
          Endpoint& ep = *it->second;
          for (auto& m : v) {
            if (ep.dead) --ep.dead;
            ++ep.pending;
            ep.due.emplace(m.next_attempt_ms, m.seq);
            ep.owed.emplace(m.seq, std::move(m));
          }
        }
        run_due_locked();
      }
      done({}, n);
    });
  });
}

HERALD_DECL bool Sender::enable(std::string_view id) {
  {
    std::lock_guard lk(mu_);
    auto it = endpoints_.find(id);
    if (it == endpoints_.end()) return false;
    Endpoint& ep = *it->second;
    ep.rec.disabled = false;
    ep.rec.failing_since_ms = 0;
    dirty_.insert(ep.rec.id);
    schedule_commit_locked();
  }
  post_run();
  return true;
}

HERALD_DECL void Sender::set_keys_impl(std::string id, std::vector<std::string> keys,
                                       std::function<void(std::error_code)> done) {
  auto answer = [&](std::error_code e) { asio::post(ex_, [done, e, g = hold()] { done(e); }); };
  std::string list = detail::join_keys({}, keys);
  std::error_code ec;
  SigningKeys parsed = SigningKeys::parse(list, ec);
  if (ec) return answer(make_error_code(error::webhook_bad_secret));
  std::lock_guard lk(mu_);
  if (!endpoints_.count(id)) return answer(make_error_code(error::not_found));
  if (outbox_ec_) {
    Metrics::add(opt_.metrics->webhook_refused);
    return answer(outbox_ec_);
  }
  Request q;
  q.rec.id = std::move(id);
  q.rec.secret = std::move(list);
  q.keys = std::move(parsed);
  q.done = std::move(done);
  requests_.push_back(std::move(q));
  schedule_commit_locked();
}

HERALD_DECL void Sender::tick() { post_run(); }

HERALD_DECL void Sender::post_run() {
  asio::post(ex_, [this, g = hold()] {
    std::lock_guard lk(mu_);
    run_due_locked();
  });
}

}  // namespace herald::webhook
