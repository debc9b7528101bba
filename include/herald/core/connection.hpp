// herald: Connection<Transport, Stream>: one stream, a bounded send queue, one
// write in flight gathering everything queued, deadlines swept by the loop.
#pragma once
#include <herald/core/broadcaster.hpp>
#include <herald/core/loop.hpp>
#include <herald/core/send_queue.hpp>
#include <herald/core/socket.hpp>

#include <asio/ip/tcp.hpp>
#include <asio/write.hpp>

#include <concepts>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <type_traits>

namespace herald {

template <class Transport, class Stream>
class Connection;

/// What a transport policy provides. A policy knows its handshake, its wire
/// format, its heartbeat and how to read; the Connection does everything else.
///
/// | expression                   | meaning                                                        |
/// |------------------------------|----------------------------------------------------------------|
/// | `P::kind`                    | a `TransportKind`, for metrics                                 |
/// | `p.on_start(c)`              | the stream is ours: write the handshake, subscribe, set deadline |
/// | `p.on_read(c, bytes)`        | bytes arrived from the peer: a writable span into the loop's buffer, |
/// |                              | valid during the call (WebSocket unmasks in place)             |
/// | `p.on_event(c, ev, sub)`     | an event from the hub: queue its frame with `c.send_event`     |
/// | `p.on_tick(c, now)`          | the deadline set with `c.set_deadline` passed (heartbeat, idle) |
/// | `p.on_shutdown(c)`           | the server drains: say goodbye (e.g. close 1001) and close     |
/// | `p.on_close(c, ec)`          | once, when the connection ends: unsubscribe, count             |
/// | `p.on_drained(c)` (optional) | the send queue was fully written while open: feed it more      |
/// |                              | (SSE paces a long replay this way)                             |
/// | `p.hold_reads()` (optional)  | true: do not read from the socket for now (HTTP: pipelined     |
/// |                              | requests past the limit); checked again after on_drained       |
/// | `p.pause_reads_when_full()`  | (optional) false: keep reading while the queue is full (a      |
/// |                              | client, whose queue holds its own sends)                       |
/// | `p.on_failure(c)` (optional) | a callback above threw: say goodbye (WebSocket: close 1011);   |
/// |                              | without it the connection closes after what is queued          |
///
/// Every callback may throw: the connection catches it, counts it in
/// `Metrics::connection_exceptions`, logs it (core/log.hpp) and ends itself;
/// the loop and the other connections go on.
template <class P, class C>
concept TransportPolicy = requires(P& p, C& c, std::span<char> bytes, const EventPtr& ev,
                                   Subscription& sub, Clock::time_point now, std::error_code ec) {
  { P::kind } -> std::convertible_to<TransportKind>;
  p.on_start(c);
  p.on_read(c, bytes);
  p.on_event(c, ev, sub);
  p.on_tick(c, now);
  p.on_shutdown(c);
  p.on_close(c, ec);
};

namespace detail {
template <class S>
constexpr bool is_plain_tcp = is_tcp_socket<S>::value;
/// A member only some streams need: nothing (no bytes) for the others.
template <int>
struct NoMember {};
template <bool Use, class T, int N>
using MemberIf = std::conditional_t<Use, T, NoMember<N>>;
}

/// A connection carrying one transport over one stream.
///
/// @tparam Transport a TransportPolicy (SSEPolicy, WebSocketPolicy, ...)
/// @tparam Stream `Socket` (default), another TCP socket, or `asio::ssl::stream<...>`
///
/// Over plain TCP it holds no buffer while idle: it waits for readability and
/// reads into its loop's shared buffer, and it writes by trying a non-blocking
/// scatter send first, waiting for writability only when the kernel is full.
/// Over another stream (TLS) it reads with `async_read_some` into a buffer of
/// its own and writes with `async_write`.
///
/// One byte budget (the queue's `QueueOptions`) covers everything queued:
/// past the high watermark it stops reading (TCP then pushes back on the
/// peer) and resumes at the low watermark; a write that waits for the peer
/// longer than the loop's `write_timeout` closes the connection; what the
/// application queues on its own (not in answer to the peer's input) past
/// `max_bytes` closes it too.
///
/// @par Thread Safety
/// A connection lives on one io_context thread; call it there only. That
/// io_context must be run by one thread (see `Loop`): `create`, `start` and
/// every handler check it and throw std::logic_error otherwise.
template <class Transport, class Stream = Socket>
class Connection final : public Subscriber,
                         public detail::LoopNode,
                         public std::enable_shared_from_this<Connection<Transport, Stream>> {
 public:
  using transport_type = Transport;
  using stream_type = Stream;
  using executor_type = typename Stream::executor_type;

  template <class... Args>
  static std::shared_ptr<Connection> create(Stream stream, Args&&... args) {
    // One allocation for the object and its reference counts.
    return std::make_shared<Connection>(Key{}, std::move(stream), std::forward<Args>(args)...);
  }
  /// Over a TCP socket with another executor (`asio::ip::tcp::socket`): adopted into a `Socket`.
  template <class E, class... Args>
    requires(std::is_same_v<Stream, Socket> && !std::is_same_v<E, asio::io_context::executor_type>)
  static std::shared_ptr<Connection> create(asio::basic_stream_socket<asio::ip::tcp, E> socket, Args&&... args) {
    return create(detail::to_socket(std::move(socket)), std::forward<Args>(args)...);
  }

 private:
  struct Key {
    explicit Key() = default;
  };

 public:
  /// Use `create`.
  template <class... Args>
  explicit Connection(Key, Stream stream, Args&&... args)
      : stream_(std::move(stream)),
        loop_(Loop::of_executor(stream_.get_executor())),
        transport_(make_transport(std::forward<Args>(args)...)) {
    loop_.enter();  // std::logic_error on a thread that may not touch this loop (see Loop)
    Metrics::add(metrics().connections[Metrics::idx(Transport::kind)], 1);
    counted_ = true;
    std::error_code ec;
    if constexpr (detail::is_plain_tcp<Stream>) stream_.non_blocking(true, ec);
    // Events are small and latency matters: no Nagle delay, over TLS too.
    if constexpr (requires { stream_.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ec); })
      stream_.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ec);
  }

  ~Connection() override {
    uncount();
    if (read_paused_) Metrics::add(metrics().reads_paused, -1);
    // Still linked only when a handler was refused (wrong thread) and dropped
    // the last owner: no dangling node is left in the loop's list.
    if (linked_) loop_.remove(this);
  }

  /// Starts the transport and reads; `leftover` are bytes already read past
  /// the request by whoever accepted the stream.
  void start(std::string_view leftover = {}) {
    static_assert(TransportPolicy<Transport, Connection>);
    loop_.add(this);  // throws std::logic_error on a thread that may not touch this loop
    read_driven_ = true;  // the handshake and a replay are bounded by the protocol and the history
    guarded([&] {
      transport_.on_start(*this);
      if (!leftover.empty() && state_ == State::open) {
        std::string bytes(leftover);  // on_read gets writable bytes, as from a read
        transport_.on_read(*this, std::span<char>(bytes.data(), bytes.size()));
      }
    });
    read_driven_ = false;
    // Draining too: a lingering close started by on_start or by the leftover
    // (a WebSocket refusing its first frame) waits for the peer's EOF, and
    // only a pending read keeps the connection (and its place in the loop and
    // the hub) until then.
    if (state_ != State::closed) guarded([&] { read(); });
  }

  Transport& transport() noexcept { return transport_; }
  Stream& stream() noexcept { return stream_; }
  executor_type get_executor() noexcept { return stream_.get_executor(); }
  asio::io_context& context() noexcept { return loop_.get_io_context(); }
  Loop& loop() noexcept { return loop_; }
  Metrics& metrics() noexcept { return transport_.metrics(); }
  Clock::time_point now() const noexcept { return loop_.now(); }
  SendQueue& queue() noexcept { return queue_; }
  bool is_open() const noexcept { return state_ == State::open; }
  /// True while reading is paused until the peer reads (queue full, or the transport holds reads).
  bool reading_paused() const noexcept { return read_paused_; }

  /// Keeps `lease` until the connection ends (the per-address connection
  /// count taken at accept: see `Exchange::take_lease`).
  void hold(std::shared_ptr<void> lease) noexcept { lease_ = std::move(lease); }

  /// When the sweep should next call `on_tick` (max(): never).
  void set_deadline(Clock::time_point t) noexcept { deadline_ = t; }

  /// Queues protocol bytes (never dropped) and schedules a write. Sent in
  /// answer to the peer's input (inside the transport's on_read), they are
  /// bounded by the pause in reading; sent by the application on its own
  /// past the queue's `max_bytes`, they close the connection instead (counted).
  void send(std::string bytes) { send(Chunk::owned(std::move(bytes))); }
  void send(Chunk c) {
    if (!read_driven_ && !c.droppable && queue_.over_limit(c.bytes.size())) [[unlikely]] {
      if (state_ == State::closed) return;
      Metrics::add(metrics().queue_limit_closes);
      return finish(make_error_code(error::queue_overflow));
    }
    push(std::move(c));
  }

  /// Queues `frame` (bytes cached on `ev`) by reference: one reference count.
  /// Returns false when the overflow policy closed the connection.
  bool send_event(const EventPtr& ev, const std::string& frame) {
    Chunk c{std::shared_ptr<const void>(ev, &frame), frame, ev->key(), true};
    ++stats_.events;
    return push(std::move(c));
  }

  /// Ends the connection: after what is queued is written (within
  /// `drain_timeout`) when `graceful`, else at once. With `linger`, once the
  /// queue is written only the sending half is shut down and reading goes on
  /// (the transport ignores what arrives) until the peer closes or the
  /// timeout passes: closing a socket with unread input sends a reset, which
  /// can destroy the goodbye just written (a WebSocket close frame after an
  /// error, while the peer is still sending).
  void close(std::error_code reason = {}, bool graceful = true,
             Clock::duration drain_timeout = std::chrono::seconds(5), bool linger = false) {
    if (state_ == State::closed) return;
    if (!graceful) return finish(reason);
    if (state_ == State::draining) return;
    if (queue_.empty() && !linger) return finish(reason);
    state_ = State::draining;
    reason_ = reason;
    linger_ = linger;
    deadline_ = now() + drain_timeout;
    loop_.defer_flush(this);
  }

  /// Subscribes this connection to `topic` on its own shard.
  SubscribeResult subscribe(Hub& hub, std::string_view topic, Subscription& sub, const SubscribeOptions& o) {
    hub_ = &hub;
    return hub.subscribe(topic, *this, sub, asio::any_io_executor(stream_.get_executor()), o);
  }

  /// What this connection carried, for per-connection accounting.
  struct Stats {
    std::uint64_t events = 0;     ///< events queued to it
    std::uint64_t dropped = 0;    ///< events its overflow policy dropped or conflated
    std::uint64_t bytes_out = 0, bytes_in = 0;
  };
  const Stats& stats() const noexcept { return stats_; }

  // Subscriber
  void on_event(const EventPtr& ev, Subscription& sub) override {
    if (state_ != State::open) return;
    Metrics::add(metrics().deliveries[Metrics::idx(Transport::kind)]);
    guarded([&] { transport_.on_event(*this, ev, sub); });  // a codec that throws ends this connection only
  }

  // LoopNode
  std::shared_ptr<detail::LoopNode> keep_alive() override { return this->shared_from_this(); }
  void sweep(Clock::time_point now) override {
    if (write_by_ != 0 && static_cast<std::int32_t>(Loop::ms32(now) - write_by_) >= 0) {
      // The peer read nothing for the write timeout while bytes waited for it.
      Metrics::add(metrics().write_timeouts);
      return finish(make_error_code(error::timeout));
    }
    if (now < deadline_) return;  // only the write deadline was looked at
    if (state_ == State::draining) return finish(make_error_code(error::timeout));
    deadline_ = Clock::time_point::max();
    guarded([&] { transport_.on_tick(*this, now); });
  }
  void shutdown(Clock::time_point deadline) override {
    if (state_ != State::open) return;
    guarded([&] { transport_.on_shutdown(*this); });
    if (state_ == State::draining && deadline < deadline_) deadline_ = deadline;
  }
  void abort() override { finish(make_error_code(error::shutting_down)); }
  void flush() override {
    if (writing_ || state_ == State::closed) return;
    guarded([&] {
      if constexpr (detail::is_plain_tcp<Stream>) flush_plain();
      else flush_stream();
    });
  }

 private:
  enum class State : std::uint8_t { open, draining, closed };

  // Aggregates too (clang 14 lacks parenthesised aggregate init); the
  // prvalue is elided into the member, so a policy need not be movable.
  template <class... Args>
  static Transport make_transport(Args&&... args) {
    if constexpr (std::is_constructible_v<Transport, Args&&...>) return Transport(std::forward<Args>(args)...);
    else return Transport{std::forward<Args>(args)...};
  }

  /// Runs `f`; what it throws ends this connection (see failed()), not the handler.
  template <class F>
  void guarded(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      failed();
    }
  }

  /// A callback threw: count, log, and end this connection (the transport's
  /// `on_failure` goodbye first, once); a second failure closes at once.
  [[gnu::cold]] void failed() noexcept {
    Metrics::add(metrics().connection_exceptions);
    detail::log_exception(std::string(transport_name(Transport::kind)) + " connection");
    if (state_ == State::closed) return;
    const auto why = make_error_code(error::internal_error);
    if (!failing_) {
      failing_ = true;
      try {
        if constexpr (requires { transport_.on_failure(*this); }) transport_.on_failure(*this);
        if (state_ == State::open) close(why);
        return;
      } catch (...) {
        detail::log_exception("closing after a failure");
      }
    }
    try {
      finish(why);
    } catch (...) {
    }
  }

  bool push(Chunk c) {
    if (state_ == State::closed) return false;
    std::size_t before = queue_.bytes();
    queue_.borrow(loop_.rings());  // an empty queue holds no ring: take a spare
    PushResult r = queue_.push(std::move(c));
    if (r == PushResult::overflow) {
      Metrics::add(metrics().closed_slow[Metrics::idx(Transport::kind)]);
      finish(make_error_code(error::queue_overflow));
      return false;
    }
    Metrics::add(metrics().queue_bytes, static_cast<std::int64_t>(queue_.bytes()) - static_cast<std::int64_t>(before));
    if (r == PushResult::full && !gate_held_ && hub_) {  // `wait`: kept; the publisher is paced
      gate_held_ = true;
      hub_->hold_gate();
    }
    if (std::size_t d = queue_.take_dropped()) {
      stats_.dropped += d;
      Metrics::add(metrics().dropped[Metrics::idx(Transport::kind)][static_cast<std::size_t>(queue_.options().policy)], d);
    }
    if (!writing_) loop_.defer_flush(this);
    return true;
  }

  // Past the high watermark (or while the transport holds reads) no read is
  // armed: the peer's bytes wait in the kernel and TCP pushes back on it.
  bool pause_wanted() {
    if constexpr (requires { transport_.hold_reads(); })
      if (transport_.hold_reads()) return true;
    if constexpr (requires { transport_.pause_reads_when_full(); })
      if (!transport_.pause_reads_when_full()) return false;
    return queue_.full();
  }
  void pause_reading() {
    read_paused_ = true;
    Metrics::add(metrics().read_pauses);
    Metrics::add(metrics().reads_paused, 1);
  }
  void resume_reading() {
    if (!read_paused_ || state_ == State::closed || pause_wanted()) return;
    read_paused_ = false;
    Metrics::add(metrics().reads_paused, -1);
    read();
  }

  void read() {
    if (pause_wanted()) return pause_reading();
    auto self = this->shared_from_this();
    if constexpr (detail::is_plain_tcp<Stream>) {
      stream_.async_wait(asio::socket_base::wait_read, [self](std::error_code ec) {
        self->loop_.enter();
        self->guarded([&] {
          if (ec) return self->on_read_error(ec);
          self->read_ready();
        });
      });
    } else {
      // Not zero-filled: the pages an idle connection's pending read never
      // reaches are never touched.
      if (!tls_buf_) tls_buf_ = std::make_unique_for_overwrite<char[]>(kStreamBuffer);
      stream_.async_read_some(asio::buffer(tls_buf_.get(), kStreamBuffer), [self](std::error_code ec, std::size_t n) {
        self->loop_.enter();
        self->guarded([&] {
          if (ec) return self->on_read_error(ec);
          Metrics::add(self->metrics().bytes_in[Metrics::idx(Transport::kind)], n);
          self->stats_.bytes_in += n;
          self->read_driven_ = true;
          self->guarded([&] { self->transport_.on_read(*self, std::span<char>(self->tls_buf_.get(), n)); });
          self->read_driven_ = false;
          if (self->state_ != State::closed) self->read();
        });
      });
    }
  }

  void read_ready() {
    char* buf = loop_.read_buffer();
    // A few reads per readiness: fair to other connections, cheap when busy.
    for (int i = 0; i < 4 && state_ != State::closed; ++i) {
      std::error_code ec;
      std::size_t n = stream_.read_some(asio::buffer(buf, Loop::kReadBufferSize), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) return on_read_error(ec);
      Metrics::add(metrics().bytes_in[Metrics::idx(Transport::kind)], n);
      stats_.bytes_in += n;
      read_driven_ = true;
      guarded([&] { transport_.on_read(*this, std::span<char>(buf, n)); });
      read_driven_ = false;
      if (n < Loop::kReadBufferSize || pause_wanted()) break;
    }
    if (state_ != State::closed) read();
  }

  void on_read_error(std::error_code ec) {
    if (ec == asio::error::operation_aborted || state_ == State::closed) return;
    finish(ec);  // the peer went away: nothing queued can reach it
  }

  void flush_plain() {
    while (!queue_.empty()) {
      std::size_t n = queue_.gather(loop_.iov(), Loop::kMaxIov);
      std::error_code ec;
      std::size_t w = stream_.write_some(std::span<const asio::const_buffer>(loop_.iov(), n), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        writing_ = true;
        if (write_by_ == 0) write_by_ = loop_.write_deadline();  // the peer must read by then
        auto self = this->shared_from_this();
        stream_.async_wait(asio::socket_base::wait_write, [self](std::error_code ec) {
          self->loop_.enter();
          self->writing_ = false;
          self->write_by_ = 0;  // writable: the peer read something
          if (ec) return self->on_read_error(ec);
          self->flush();
        });
        return;
      }
      if (ec) return finish(ec);
      wrote(w);
    }
    drained();
  }

  void flush_stream() {
    if (queue_.empty()) return drained();
    // A TLS stream makes one record per buffer it is given: join what is
    // queued, up to a record's worth, into one.
    std::size_t n = queue_.gather(loop_.iov(), Loop::kMaxIov);
    out_.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const auto& b = loop_.iov()[i];
      if (!out_.empty() && out_.size() + b.size() > kStreamBuffer) break;
      out_.append(static_cast<const char*>(b.data()), b.size());
    }
    writing_ = true;
    write_by_ = loop_.write_deadline();  // the whole record must go out by then
    auto self = this->shared_from_this();
    asio::async_write(stream_, asio::buffer(out_), [self](std::error_code ec, std::size_t w) {
      self->loop_.enter();
      self->writing_ = false;
      self->write_by_ = 0;
      self->guarded([&] {
        if (ec) return self->on_read_error(ec);
        self->wrote(w);
        self->flush();
      });
    });
  }

  void release_gate() {
    if (gate_held_) { gate_held_ = false; hub_->release_gate(); }
  }

  void wrote(std::size_t w) {
    stats_.bytes_out += w;
    queue_.consume(w);
    if (gate_held_ && queue_.below_low_watermark()) release_gate();
    if (read_paused_ && queue_.below_low_watermark()) resume_reading();
    Metrics::add(metrics().queue_bytes, -static_cast<std::int64_t>(w));
    Metrics::add(metrics().bytes_out[Metrics::idx(Transport::kind)], w);
  }

  void drained() {
    queue_.shrink(loop_.rings());  // an idle connection holds no ring; the loop keeps it for the next event
    if constexpr (!kPlain) std::string().swap(out_);  // an idle connection holds no write buffer
    if (state_ == State::open) {
      if constexpr (requires { transport_.on_drained(*this); }) {
        const bool was = read_driven_;  // (a handler taking the socket flushes from inside)
        read_driven_ = true;  // feeding the peer what it asked for (a replay, pipelined requests)
        transport_.on_drained(*this);
        read_driven_ = was;
      }
      if (read_paused_) resume_reading();
      return;
    }
    if (state_ != State::draining) return;
    if (!linger_) return finish(reason_);
    linger_ = false;  // now wait for the peer's EOF (read error) or the deadline
    std::error_code ignored;
    stream_.lowest_layer().shutdown(asio::socket_base::shutdown_send, ignored);
  }

  void uncount() {
    if (counted_) Metrics::add(metrics().connections[Metrics::idx(Transport::kind)], -1);
    counted_ = false;
  }

  void finish(std::error_code reason) {
    if (state_ == State::closed) return;
    state_ = State::closed;
    uncount();
    auto self = this->shared_from_this();  // on_close may drop the last owner
    guarded([&] { transport_.on_close(*this, reason); });  // the cleanup below runs whatever it throws
    loop_.remove(this);
    Metrics::add(metrics().queue_bytes, -static_cast<std::int64_t>(queue_.bytes()));
    queue_.clear();
    queue_.shrink(loop_.rings());
    release_gate();
    write_by_ = 0;
    if (read_paused_) {
      read_paused_ = false;
      Metrics::add(metrics().reads_paused, -1);
    }
    std::error_code ignored;
    auto& sock = stream_.lowest_layer();
    sock.shutdown(asio::socket_base::shutdown_both, ignored);
    sock.close(ignored);
    lease_.reset();  // the socket is gone: so is its place in the per-address count
  }

  Stream stream_;
  Loop& loop_;
  Transport transport_;
  Hub* hub_ = nullptr;   // set by subscribe(): whose gate a `wait` queue holds
  Stats stats_;
  SendQueue queue_;
  std::error_code reason_;
  State state_ = State::open;
  bool writing_ = false;
  bool counted_ = false;
  bool linger_ = false;
  bool gate_held_ = false;
  bool read_paused_ = false;   // no read armed until the queue drains (or the transport lets go)
  bool read_driven_ = false;   // inside on_start/on_read/on_drained: sends answer the peer
  bool failing_ = false;  // a callback threw: the goodbye is under way
  std::shared_ptr<void> lease_;           // released at finish (or destruction)
  // Not over plain TCP (no bytes there): OpenSSL needs a target for
  // decryption, and a joined copy of what is being written.
  static constexpr bool kPlain = detail::is_plain_tcp<Stream>;
  static constexpr std::size_t kStreamBuffer = 16 * 1024;  // a TLS record's payload
  [[no_unique_address]] detail::MemberIf<!kPlain, std::unique_ptr<char[]>, 0> tls_buf_;
  [[no_unique_address]] detail::MemberIf<!kPlain, std::string, 1> out_;
};

}  // namespace herald
