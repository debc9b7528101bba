// herald: state shared by the connections of one event-loop thread: the read
// buffer they borrow, the scatter list, the spare send-queue rings, the coarse
// sweep timer, and the list of connections whose writes are due at the end of
// this loop pass.
#pragma once
#include <herald/core/clock.hpp>
#include <herald/core/log.hpp>
#include <herald/core/send_queue.hpp>
#include <herald/core/socket.hpp>

#include <asio/buffer.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace herald {
namespace detail {

/// A connection as the loop sees it: swept for deadlines, flushed when dirty.
class LoopNode {
 public:
  virtual ~LoopNode() = default;
  virtual void sweep(Clock::time_point now) = 0;
  virtual void flush() = 0;
  virtual std::shared_ptr<LoopNode> keep_alive() = 0;
  /// Ask the connection to finish: drain and close within `deadline`.
  virtual void shutdown(Clock::time_point deadline) = 0;
  /// End the connection now, without a goodbye.
  virtual void abort() = 0;

  Clock::time_point deadline_ = Clock::time_point::max();  ///< next sweep that concerns this node
  LoopNode* prev_ = nullptr;
  LoopNode* next_ = nullptr;
  bool linked_ = false;
  bool flush_queued_ = false;
  /// While a write waits for the peer to read: when it must have made
  /// progress, as `Loop::ms32` (0: no write waiting). 32 bits of
  /// milliseconds in what was padding: a node grows by nothing.
  std::uint32_t write_by_ = 0;
};

/// Work a loop's sweep runs besides its connections' (a hub's history
/// expiry). `run` answers false once its owner is gone; the loop then drops it.
class SweepHook {
 public:
  virtual ~SweepHook() = default;
  virtual bool run() = 0;
};

}  // namespace detail

/// Per-io_context state, found with `asio::use_service<Loop>(io_context)`.
/// One coarse timer per thread sweeps every connection's deadline (heartbeat,
/// idle, close), so a connection holds no timer of its own.
///
/// @par Thread Safety
/// A Loop, and every connection on its io_context, is touched without locks:
/// the io_context must be run by **one thread at a time**, the same one
/// throughout (`herald::Server` runs one io_context per thread). The Loop
/// checks it, in release builds too: the first thread that runs a
/// connection's work while running the io_context becomes the Loop's owner,
/// and a connection created, started or run on any other thread throws
/// `std::logic_error` (logged first) before touching shared state: from
/// `Connection::create`/`accept` to their caller, from a handler out of that
/// thread's `io_context::run`. To serve one io_context from several threads,
/// use one io_context per thread instead (an acceptor on one, sockets handed
/// to the others: see examples/existing_asio_server). `reset_owner()` hands a
/// Loop to another thread after the first stopped running it for good.
class Loop final : public asio::io_context::service {
 public:
  static inline asio::io_context::id id;
  static constexpr std::size_t kReadBufferSize = 64 * 1024;
  static constexpr std::size_t kMaxIov = 64;

  explicit Loop(asio::io_context& ctx) : asio::io_context::service(ctx), ctx_(ctx), timer_(ctx) {}

  static Loop& of(asio::io_context& ctx) { return asio::use_service<Loop>(ctx); }
  /// The Loop of the io_context behind `ex`: an io_context's executor (a
  /// compile-time check), a strand of one, or an `any_io_executor` holding
  /// either (checked at run time: std::logic_error for a thread_pool's, a
  /// system_executor, ...). herald's connections need an io_context.
  template <class Executor>
  static Loop& of_executor(const Executor& ex) {
    return of(detail::context_of(ex));
  }

  /// Checks that the calling thread may touch this loop (see the class's
  /// Thread Safety); throws std::logic_error if not. One load and compare.
  void enter() {
    auto me = std::this_thread::get_id();
    if (owner_.load(std::memory_order_relaxed) == me) [[likely]] return;
    claim(me);
  }
  /// Forgets the owning thread: the next thread that runs this io_context's
  /// connections becomes the owner. Only once the previous one stopped for good.
  void reset_owner() noexcept { owner_.store(std::thread::id(), std::memory_order_relaxed); }

  /// The buffer every connection of this thread reads into. An idle connection
  /// therefore holds none (DESIGN.md "What an idle connection costs").
  char* read_buffer() {
    // Not zero-filled: a read overwrites what it reports, and the pages no
    // read reaches are never touched (a loop per input in fuzz_connection).
    if (!read_buffer_) read_buffer_ = std::make_unique_for_overwrite<char[]>(kReadBufferSize);
    return read_buffer_.get();
  }
  asio::const_buffer* iov() noexcept { return iov_; }
  /// Spare send-queue rings: a queue that drains gives its ring back here,
  /// so a delivery to a subscriber that keeps up allocates none. Trimmed by
  /// the sweep.
  RingStock& rings() noexcept { return rings_; }

  TimeSource& time() const noexcept { return *time_; }
  void set_time_source(TimeSource& t) noexcept { time_ = &t; }
  Clock::time_point now() const noexcept { return time_->now(); }
  /// Sweep granularity: deadlines are met within one tick (default 250 ms).
  void set_tick(Clock::duration d) noexcept { tick_ = d; }
  /// Manual sweeping only (tests with a ManualClock): no timer runs.
  void set_manual_sweep(bool m) noexcept { manual_ = m; }
  /// How long a connection's write may wait for the peer to read anything
  /// before the connection is closed (counted in `Metrics::write_timeouts`);
  /// zero: forever. Default 30 s: a peer that reads nothing for that long,
  /// with bytes waiting for it, is gone or hostile.
  void set_write_timeout(Clock::duration d) noexcept { write_timeout_ = d; }
  Clock::duration write_timeout() const noexcept { return write_timeout_; }

  /// `t` as 32 bits of milliseconds: compared by difference, valid for
  /// deadlines within 24 days of now.
  static std::uint32_t ms32(Clock::time_point t) noexcept {
    return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  }
  /// The write deadline of a write that starts waiting now (0: none).
  std::uint32_t write_deadline() const noexcept {
    if (write_timeout_ <= Clock::duration::zero()) return 0;
    std::uint32_t t = ms32(now() + write_timeout_);
    return t == 0 ? 1 : t;
  }

  void add(detail::LoopNode* n) {
    enter();
    if (n->linked_) return;
    n->linked_ = true;
    n->prev_ = nullptr;
    n->next_ = head_;
    if (head_) head_->prev_ = n;
    head_ = n;
    ++size_;
    arm();
  }
  void remove(detail::LoopNode* n) {
    if (!n->linked_) return;
    if (cursor_ == n) cursor_ = n->next_;
    if (n->prev_) n->prev_->next_ = n->next_; else head_ = n->next_;
    if (n->next_) n->next_->prev_ = n->prev_;
    n->linked_ = false;
    n->prev_ = n->next_ = nullptr;
    --size_;
  }
  std::size_t size() const noexcept { return size_; }

  /// Runs `h` on every sweep of this loop until it answers false. Call on this
  /// loop's thread. It does not keep the timer running on its own: a loop
  /// without connections does not sweep (work is done lazily then).
  void add_hook(std::shared_ptr<detail::SweepHook> h) { hooks_.push_back(std::move(h)); }

  /// Runs every due deadline now, and frees the spare rings unused since the
  /// last sweep. Call on this loop's thread.
  void sweep() {
    rings_.trim();
    auto now = time_->now();
    const std::uint32_t now32 = ms32(now);
    for (cursor_ = head_; cursor_;) {
      detail::LoopNode* n = cursor_;
      cursor_ = n->next_;
      if (n->deadline_ <= now || (n->write_by_ != 0 && static_cast<std::int32_t>(now32 - n->write_by_) >= 0)) {
        auto keep = n->keep_alive();
        n->sweep(now);
      }
    }
    for (std::size_t i = 0; i < hooks_.size();) {
      if (hooks_[i]->run()) {
        ++i;
      } else {
        hooks_[i] = std::move(hooks_.back());
        hooks_.pop_back();
      }
    }
  }

  /// Asks every connection of this loop to finish by `deadline`.
  void shutdown_all(Clock::time_point deadline) {
    for (cursor_ = head_; cursor_;) {
      detail::LoopNode* n = cursor_;
      cursor_ = n->next_;
      auto keep = n->keep_alive();
      n->shutdown(deadline);
    }
  }

  /// Ends every connection of this loop now (a stop whose drain time ran
  /// out): each unsubscribes and closes its socket, so nothing of it is left
  /// to reach a hub or a destroyed io_context later.
  void abort_all() {
    for (cursor_ = head_; cursor_;) {
      detail::LoopNode* n = cursor_;
      cursor_ = n->next_;
      auto keep = n->keep_alive();
      n->abort();
    }
  }

  /// Queues `n` to write at the end of this loop pass, so that everything
  /// delivered to it in the meantime goes out in one scatter write.
  void defer_flush(detail::LoopNode* n) {
    if (n->flush_queued_) return;
    n->flush_queued_ = true;
    dirty_.push_back(n->keep_alive());
    if (!flush_posted_) {
      flush_posted_ = true;
      asio::post(ctx_, [this] { run_flushes(); });
    }
  }

 private:
  void run_flushes() {
    enter();
    flush_posted_ = false;
    flushing_.swap(dirty_);
    for (auto& n : flushing_) {
      n->flush_queued_ = false;
      n->flush();  // a connection contains its own failures
    }
    flushing_.clear();
  }

  [[gnu::cold]] void claim(std::thread::id me) {
    std::thread::id none;
    // Claimed only by a thread that runs the io_context: a connection made
    // before run() (on the thread that will run it, or any other) claims nothing.
    if (!ctx_.get_executor().running_in_this_thread()) {
      if (owner_.load(std::memory_order_relaxed) == none) return;
    } else if (owner_.compare_exchange_strong(none, me, std::memory_order_relaxed)) {
      return;
    }
    const char* what =
        "herald: an io_context with herald connections is run by more than one thread (or a connection was "
        "touched from a thread that does not run it); herald needs one thread per io_context: run one "
        "io_context per thread and hand each accepted socket to one of them";
    log(LogLevel::error, what);
    throw std::logic_error(what);
  }

  void arm() {
    // Spare rings keep it going one more interval, so that they are trimmed.
    if (armed_ || manual_ || (size_ == 0 && rings_.empty())) return;
    armed_ = true;
    timer_.expires_after(tick_);
    timer_.async_wait([this](std::error_code ec) {
      armed_ = false;
      if (ec) return;
      enter();
      sweep();  // a connection contains its own failures
      arm();
    });
  }

  void shutdown() override {
    timer_.cancel();
    dirty_.clear();
    flushing_.clear();
    hooks_.clear();
  }

  asio::io_context& ctx_;
  asio::steady_timer timer_;
  TimeSource* time_ = &SteadyTimeSource::instance();
  Clock::duration tick_ = std::chrono::milliseconds(250);
  Clock::duration write_timeout_ = std::chrono::seconds(30);
  bool manual_ = false, armed_ = false, flush_posted_ = false;
  detail::LoopNode* head_ = nullptr;
  detail::LoopNode* cursor_ = nullptr;
  std::size_t size_ = 0;
  std::unique_ptr<char[]> read_buffer_;
  RingStock rings_;
  asio::const_buffer iov_[kMaxIov];
  std::vector<std::shared_ptr<detail::LoopNode>> dirty_, flushing_;
  std::vector<std::shared_ptr<detail::SweepHook>> hooks_;
  std::atomic<std::thread::id> owner_{};  // the thread that runs this io_context (see enter())
};

}  // namespace herald
