// herald: the webhook outbox: endpoints and the messages owed to them, in
// memory or durable in SQLite (WAL). The sender is its only caller, from a
// store thread of its own: SQLite never runs on an event loop.
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>

#include <sqlite3.h>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace herald::webhook {

/// Where a message is in its life.
enum class MessageState : std::uint8_t {
  pending = 0,    ///< accepted, not attempted yet (or replayed)
  retrying = 1,   ///< attempted, failed, waiting for its next attempt
  delivered = 2,  ///< a 2xx came back (the SQLite outbox deletes the row and counts it)
  dead = 3,       ///< dead-lettered: the schedule ended or the receiver refused it; replayable
};

/// An endpoint as stored: what survives a restart.
struct EndpointRecord {
  std::string id;
  std::string url;
  /// The signing keys as given, separated by spaces: `whsec_...` and/or
  /// `whsk_...` (one `whsec_...` for an endpoint with one secret, as every
  /// earlier version wrote). Stored as is: the DB file is created 0600 for this reason.
  std::string secret;
  std::vector<std::string> topics;
  std::uint32_t max_in_flight = 4;
  bool ordered = false;
  bool disabled = false;
  std::int64_t failing_since_ms = 0;  ///< wall-clock ms of the first failure in a row; 0: not failing
  std::uint64_t delivered = 0;        ///< messages delivered so far
};

/// One message owed to one endpoint.
struct Message {
  std::int64_t seq = 0;              ///< assigned by the outbox; increasing in acceptance order
  std::string endpoint_id;
  std::string topic;
  std::uint64_t event_id = 0;
  std::string msg_id;                ///< `webhook-id`: fixed at acceptance, the same on every attempt and replay
  std::string body;
  std::uint32_t attempts = 0;        ///< attempts made (and recorded)
  std::int64_t next_attempt_ms = 0;  ///< wall-clock ms (Unix epoch): not attempted before
  MessageState state = MessageState::pending;
};

/// Messages of one endpoint by state.
struct MessageCounts {
  std::uint64_t pending = 0, retrying = 0, dead = 0;
};

/// What one commit writes: what the sender gathered since its last commit
/// (one loop pass, or everything since the outbox began to fail).
struct OutboxChanges {
  std::vector<Message> enqueue;           ///< new messages, in acceptance order; `seq` is set on success
  std::vector<Message> update;            ///< attempts, next attempt and state of messages still stored
  std::vector<Message> delivered;         ///< forget these and count them on their endpoints
  std::vector<EndpointRecord> endpoints;  ///< rows written whole, last (new endpoints, keys, status, counts)
  bool empty() const noexcept {
    return enqueue.empty() && update.empty() && delivered.empty() && endpoints.empty();
  }
};

/// What the sender needs from storage.
///
/// Threads: the sender calls an outbox from its store thread only, one call
/// at a time (construction and destruction excepted), never from an event loop.
///
/// Errors: a call that fails throws; std::system_error carrying one of
/// herald's `outbox_*` codes (error.hpp) says why, any other exception reads
/// as error::outbox_io. The sender turns it into an error_code for its caller
/// and keeps what it had accepted in memory until a commit succeeds.
///
/// Contract: when a call returns, its effect is committed (for the SQLite
/// outbox, a committed transaction: it survives SIGKILL of the process); when
/// it throws, it had no effect.
class Outbox {
 public:
  virtual ~Outbox() = default;
  /// A number that grows on every open of durable storage (0 in memory):
  /// event ids restart at 1 in a new process, so the sender folds the epoch
  /// into message ids to keep `webhook-id`s of different events different.
  virtual std::uint64_t epoch() = 0;
  virtual void put_endpoint(const EndpointRecord& e) = 0;
  virtual void set_endpoint_status(std::string_view id, bool disabled, std::int64_t failing_since_ms) = 0;
  virtual std::vector<EndpointRecord> endpoints() = 0;
  /// Appends `msgs` in one transaction and sets their `seq`.
  virtual void enqueue(std::span<Message> msgs) = 0;
  /// Records an attempt's result for a message still owed (attempts, next attempt, state).
  virtual void update(const Message& m) = 0;
  /// The messages were delivered: forget them and count them on their
  /// endpoints, in one transaction (the sender batches them per loop pass).
  virtual void delivered(std::span<const Message> msgs) = 0;
  /// Every message still owed (pending or retrying), in seq order.
  virtual std::vector<Message> owed() = 0;
  virtual std::vector<Message> dead_letters(std::string_view endpoint_id) = 0;
  /// Dead letters of the endpoint back to pending (attempts 0, due at `now_ms`); returns them.
  virtual std::vector<Message> requeue_dead(std::string_view endpoint_id, std::int64_t now_ms) = 0;
  virtual MessageCounts counts(std::string_view endpoint_id) = 0;
  /// Makes everything durable as far as the medium allows (a WAL checkpoint).
  virtual void flush() = 0;
  /// Writes `c` (sets the `seq` of `c.enqueue`): what the sender calls for
  /// every commit. This default runs the calls above in turn and is atomic
  /// only if nothing fails; a durable outbox overrides it with one
  /// transaction (a failed commit is retried whole).
  virtual void apply(OutboxChanges& c) {
    if (!c.enqueue.empty()) enqueue(c.enqueue);
    for (const auto& m : c.update) update(m);
    if (!c.delivered.empty()) delivered(c.delivered);
    for (const auto& e : c.endpoints) put_endpoint(e);
  }
};

/// The outbox in memory: what `--data-dir` absent means. Everything in it,
/// endpoints and undelivered messages, is lost when the process ends, cleanly
/// or not; delivery is then at-least-once only within one process lifetime.
class MemoryOutbox final : public Outbox {
 public:
  std::uint64_t epoch() override { return 0; }
  void put_endpoint(const EndpointRecord& e) override { endpoints_[e.id] = e; }
  void set_endpoint_status(std::string_view id, bool disabled, std::int64_t since) override {
    auto it = endpoints_.find(std::string(id));
    if (it == endpoints_.end()) return;
    it->second.disabled = disabled;
    it->second.failing_since_ms = since;
  }
  std::vector<EndpointRecord> endpoints() override {
    std::vector<EndpointRecord> v;
    for (auto& [k, e] : endpoints_) v.push_back(e);
    return v;
  }
  void enqueue(std::span<Message> msgs) override {
    for (auto& m : msgs) {
      m.seq = ++seq_;
      messages_[m.seq] = m;
    }
  }
  void update(const Message& m) override {
    auto it = messages_.find(m.seq);
    if (it == messages_.end()) return;
    it->second.attempts = m.attempts;
    it->second.next_attempt_ms = m.next_attempt_ms;
    it->second.state = m.state;
  }
  void delivered(std::span<const Message> msgs) override {
    for (const auto& m : msgs) {
      messages_.erase(m.seq);
      auto it = endpoints_.find(m.endpoint_id);
      if (it != endpoints_.end()) ++it->second.delivered;
    }
  }
  std::vector<Message> owed() override {
    std::vector<Message> v;
    for (auto& [s, m] : messages_)
      if (m.state == MessageState::pending || m.state == MessageState::retrying) v.push_back(m);
    return v;
  }
  std::vector<Message> dead_letters(std::string_view ep) override {
    std::vector<Message> v;
    for (auto& [s, m] : messages_)
      if (m.endpoint_id == ep && m.state == MessageState::dead) v.push_back(m);
    return v;
  }
  std::vector<Message> requeue_dead(std::string_view ep, std::int64_t now_ms) override {
    std::vector<Message> v;
    for (auto& [s, m] : messages_) {
      if (m.endpoint_id != ep || m.state != MessageState::dead) continue;
      m.state = MessageState::pending;
      m.attempts = 0;
      m.next_attempt_ms = now_ms;
      v.push_back(m);
    }
    return v;
  }
  MessageCounts counts(std::string_view ep) override {
    MessageCounts c;
    for (auto& [s, m] : messages_) {
      if (m.endpoint_id != ep) continue;
      if (m.state == MessageState::pending) ++c.pending;
      else if (m.state == MessageState::retrying) ++c.retrying;
      else if (m.state == MessageState::dead) ++c.dead;
    }
    return c;
  }
  void flush() override {}

 private:
  std::map<std::string, EndpointRecord> endpoints_;
  std::map<std::int64_t, Message> messages_;
  std::int64_t seq_ = 0;
};

namespace detail {

struct SqliteCloser {
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

/// An SQLite result (and the errno of the failed system call, if any) as
/// herald's error: what the sender reports and the demo answers 503 with.
HERALD_DECL error outbox_error(int rc, int sys_errno) noexcept {
  switch (rc & 0xff) {
    case SQLITE_FULL: return error::outbox_full;
    case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return error::outbox_read_only;
    case SQLITE_BUSY: case SQLITE_LOCKED: return error::outbox_busy;
    case SQLITE_CORRUPT: case SQLITE_NOTADB: return error::outbox_corrupt;
    case SQLITE_IOERR: case SQLITE_CANTOPEN:
      // A failed write past the file size limit (RLIMIT_FSIZE: EFBIG) is
      // SQLITE_IOERR_WRITE, not SQLITE_FULL: the errno tells them apart.
      switch (sys_errno) {
        case ENOSPC: case EFBIG: case EDQUOT: return error::outbox_full;
        case EROFS: case EACCES: case EPERM: return error::outbox_read_only;
        default: return error::outbox_io;
      }
    default: return error::outbox_io;
  }
}

HERALD_DECL std::string join_lines(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& t : v) s.append(t).push_back('\n');  // topics never contain '\n'
  return s;
}
HERALD_DECL std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> v;
  for (std::size_t p = 0; p < s.size();) {
    const std::size_t n = s.find('\n', p);
    v.emplace_back(s.substr(p, n == std::string_view::npos ? n : n - p));
    if (n == std::string_view::npos) break;
    p = n + 1;
  }
  return v;
}

}  // namespace detail

/// The durable outbox: one SQLite file (`webhooks.sqlite3` in the data
/// directory), WAL mode, prepared statements.
///
/// `synchronous=NORMAL`, not FULL: in WAL mode NORMAL loses nothing when the
/// *process* dies (SIGKILL, a crash): a committed transaction is in the WAL
/// file, in the OS page cache, and the next open replays it. What NORMAL can
/// lose is the last transactions before an *OS* crash or power cut, because it
/// fsyncs at checkpoints rather than at every commit. FULL would fsync every
/// commit (one per batch of accepted events: milliseconds on real disks) and
/// cap the accept rate at the disk's fsync rate. Webhooks are at-least-once
/// from a process-crash point of view; set `full_sync` where power loss must
/// not lose an accepted event either.
///
/// Delivered messages are deleted (their count kept on the endpoint row), so
/// the file holds only what is owed and the dead letters.
///
/// Errors: every failure throws std::system_error with an `outbox_*` code
/// (detail::outbox_error) and SQLite's message; a transaction that fails is
/// rolled back whole.
///
/// @throws std::system_error (a std::runtime_error) from the constructor when
/// the file cannot be opened or its schema created (a configuration error:
/// report at start-up).
class SqliteOutbox final : public Outbox {
 public:
  struct Options {
    /// fsync every commit (see above). Off: a process crash loses nothing, a
    /// power cut may lose the last commits.
    bool full_sync = false;
    /// How long a statement waits for another connection's lock before it
    /// fails with error::outbox_busy. 5 s: only the sender's store thread
    /// waits, never an event loop.
    std::chrono::milliseconds busy_timeout{5000};
  };
  explicit SqliteOutbox(const std::string& path, bool full_sync = false)
      : SqliteOutbox(path, Options{.full_sync = full_sync}) {}
  SqliteOutbox(const std::string& path, Options o) {
    const bool full_sync = o.full_sync;
    sqlite3* raw = nullptr;
    const mode_t old = ::umask(077);  // the file holds endpoint secrets: owner only
    const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    ::umask(old);
    db_.reset(raw);
    if (rc != SQLITE_OK) fail("open " + path, rc);
    sqlite3_extended_result_codes(db_.get(), 1);
    sqlite3_busy_timeout(db_.get(), static_cast<int>(o.busy_timeout.count()));
    exec("PRAGMA journal_mode=WAL");
    exec(full_sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS endpoints(id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL,"
         " topics TEXT NOT NULL, max_in_flight INTEGER NOT NULL, ordered INTEGER NOT NULL,"
         " disabled INTEGER NOT NULL, failing_since_ms INTEGER NOT NULL, delivered INTEGER NOT NULL)");
    exec("CREATE TABLE IF NOT EXISTS messages(seq INTEGER PRIMARY KEY AUTOINCREMENT, endpoint_id TEXT NOT NULL,"
         " topic TEXT NOT NULL, event_id INTEGER NOT NULL, msg_id TEXT NOT NULL, body BLOB NOT NULL,"
         " attempts INTEGER NOT NULL, next_attempt_ms INTEGER NOT NULL, state INTEGER NOT NULL)");
    exec("CREATE INDEX IF NOT EXISTS messages_by_endpoint ON messages(endpoint_id, state)");
    exec("INSERT INTO meta(key, value) VALUES('epoch', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1");
    put_ep_ = prepare("INSERT OR REPLACE INTO endpoints VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    status_ = prepare("UPDATE endpoints SET disabled = ?2, failing_since_ms = ?3 WHERE id = ?1");
    insert_ = prepare("INSERT INTO messages(endpoint_id, topic, event_id, msg_id, body, attempts, next_attempt_ms, state)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    update_ = prepare("UPDATE messages SET attempts = ?2, next_attempt_ms = ?3, state = ?4 WHERE seq = ?1");
    delete_ = prepare("DELETE FROM messages WHERE seq = ?1");
    count_delivered_ = prepare("UPDATE endpoints SET delivered = delivered + 1 WHERE id = ?1");
    begin_ = prepare("BEGIN IMMEDIATE");
    commit_ = prepare("COMMIT");
    auto q = prepare("SELECT value FROM meta WHERE key = 'epoch'");
    if (sqlite3_step(q.get()) == SQLITE_ROW) epoch_ = static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 0));
  }
  ~SqliteOutbox() override {
    // Best effort: fold the WAL into the main file so a clean exit leaves one file.
    sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }

  std::uint64_t epoch() override { return epoch_; }

  void put_endpoint(const EndpointRecord& e) override {
    sqlite3_stmt* s = put_ep_.get();
    text(s, 1, e.id);
    text(s, 2, e.url);
    text(s, 3, e.secret);
    const std::string topics = detail::join_lines(e.topics);
    text(s, 4, topics);
    sqlite3_bind_int64(s, 5, e.max_in_flight);
    sqlite3_bind_int64(s, 6, e.ordered);
    sqlite3_bind_int64(s, 7, e.disabled);
    sqlite3_bind_int64(s, 8, e.failing_since_ms);
    sqlite3_bind_int64(s, 9, static_cast<std::int64_t>(e.delivered));
    run(s);
  }

  void set_endpoint_status(std::string_view id, bool disabled, std::int64_t since) override {
    sqlite3_stmt* s = status_.get();
    text(s, 1, id);
    sqlite3_bind_int64(s, 2, disabled);
    sqlite3_bind_int64(s, 3, since);
    run(s);
  }

  std::vector<EndpointRecord> endpoints() override {
    auto q = prepare("SELECT id, url, secret, topics, max_in_flight, ordered, disabled, failing_since_ms, delivered"
                     " FROM endpoints ORDER BY id");
    std::vector<EndpointRecord> v;
    while (step(q.get())) {
      EndpointRecord e;
      e.id = col(q.get(), 0);
      e.url = col(q.get(), 1);
      e.secret = col(q.get(), 2);
      e.topics = detail::split_lines(col(q.get(), 3));
      e.max_in_flight = static_cast<std::uint32_t>(sqlite3_column_int64(q.get(), 4));
      e.ordered = sqlite3_column_int64(q.get(), 5) != 0;
      e.disabled = sqlite3_column_int64(q.get(), 6) != 0;
      e.failing_since_ms = sqlite3_column_int64(q.get(), 7);
      e.delivered = static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 8));
      v.push_back(std::move(e));
    }
    return v;
  }

  void enqueue(std::span<Message> msgs) override {
    if (msgs.empty()) return;
    Tx tx(*this);
    insert_all(msgs);
    tx.commit();
  }

  void update(const Message& m) override { update_one(m); }

  void delivered(std::span<const Message> msgs) override {
    if (msgs.empty()) return;
    Tx tx(*this);
    delete_all(msgs);
    tx.commit();
  }

  /// One transaction for the whole commit.
  void apply(OutboxChanges& c) override {
    if (c.empty()) return;
    Tx tx(*this);
    insert_all(c.enqueue);
    for (const auto& m : c.update) update_one(m);
    delete_all(c.delivered);
    for (const auto& e : c.endpoints) put_endpoint(e);
    tx.commit();
  }

  std::vector<Message> owed() override {
    return select("SELECT * FROM messages WHERE state IN (0, 1) ORDER BY seq", {});
  }
  std::vector<Message> dead_letters(std::string_view ep) override {
    return select("SELECT * FROM messages WHERE endpoint_id = ?1 AND state = 3 ORDER BY seq", ep);
  }
  std::vector<Message> requeue_dead(std::string_view ep, std::int64_t now_ms) override {
    Tx tx(*this);
    auto v = dead_letters(ep);
    auto q = prepare("UPDATE messages SET state = 0, attempts = 0, next_attempt_ms = ?2 WHERE endpoint_id = ?1 AND state = 3");
    text(q.get(), 1, ep);
    sqlite3_bind_int64(q.get(), 2, now_ms);
    run(q.get());
    tx.commit();
    for (auto& m : v) {
      m.state = MessageState::pending;
      m.attempts = 0;
      m.next_attempt_ms = now_ms;
    }
    return v;
  }
  MessageCounts counts(std::string_view ep) override {
    auto q = prepare("SELECT state, COUNT(*) FROM messages WHERE endpoint_id = ?1 GROUP BY state");
    text(q.get(), 1, ep);
    MessageCounts c;
    while (step(q.get())) {
      const auto n = static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 1));
      switch (sqlite3_column_int(q.get(), 0)) {
        case 0: c.pending = n; break;
        case 1: c.retrying = n; break;
        case 3: c.dead = n; break;
        default: break;
      }
    }
    return c;
  }
  void flush() override { sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr); }

 private:
  void insert_all(std::span<Message> msgs) {
    for (auto& m : msgs) {
      sqlite3_stmt* s = insert_.get();
      text(s, 1, m.endpoint_id);
      text(s, 2, m.topic);
      sqlite3_bind_int64(s, 3, static_cast<std::int64_t>(m.event_id));
      text(s, 4, m.msg_id);
      sqlite3_bind_blob64(s, 5, m.body.data(), m.body.size(), SQLITE_STATIC);
      sqlite3_bind_int64(s, 6, m.attempts);
      sqlite3_bind_int64(s, 7, m.next_attempt_ms);
      sqlite3_bind_int64(s, 8, static_cast<int>(m.state));
      run(s);
      m.seq = sqlite3_last_insert_rowid(db_.get());
    }
  }
  void update_one(const Message& m) {
    sqlite3_stmt* s = update_.get();
    sqlite3_bind_int64(s, 1, m.seq);
    sqlite3_bind_int64(s, 2, m.attempts);
    sqlite3_bind_int64(s, 3, m.next_attempt_ms);
    sqlite3_bind_int64(s, 4, static_cast<int>(m.state));
    run(s);
  }
  void delete_all(std::span<const Message> msgs) {
    for (const auto& m : msgs) {
      sqlite3_bind_int64(delete_.get(), 1, m.seq);
      run(delete_.get());
      text(count_delivered_.get(), 1, m.endpoint_id);
      run(count_delivered_.get());
    }
  }

  /// A transaction rolled back unless committed (an exception mid-batch
  /// leaves nothing half-written).
  class Tx {
   public:
    explicit Tx(SqliteOutbox& o) : o_(o) { o_.run(o_.begin_.get()); }
    void commit() {
      o_.run(o_.commit_.get());
      done_ = true;
    }
    ~Tx() {
      if (!done_) sqlite3_exec(o_.db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

   private:
    SqliteOutbox& o_;
    bool done_ = false;
  };

  [[noreturn]] void fail(const std::string& what, int rc = 0) const {
    if (rc == 0) rc = db_ ? sqlite3_extended_errcode(db_.get()) : SQLITE_NOMEM;
    const int sys = db_ ? sqlite3_system_errno(db_.get()) : 0;
    throw std::system_error(make_error_code(detail::outbox_error(rc, sys)),
                            "herald: SQLite outbox: " + what + ": " +
                                (db_ ? sqlite3_errmsg(db_.get()) : "out of memory"));
  }
  void exec(const char* sql) {
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
  }
  detail::StmtPtr prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) fail(sql);
    return detail::StmtPtr(s);
  }
  static void text(sqlite3_stmt* s, int i, std::string_view v) {
    sqlite3_bind_text64(s, i, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
  }
  static std::string col(sqlite3_stmt* s, int i) {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
    return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(s, i))) : std::string();
  }
  /// Runs a statement that returns no rows, then resets it for reuse.
  void run(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) fail(sqlite3_sql(s), rc);
  }
  bool step(sqlite3_stmt* s) {
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) fail(sqlite3_sql(s), rc);
    return false;
  }
  std::vector<Message> select(const char* sql, std::string_view ep) {
    auto q = prepare(sql);
    if (!ep.empty()) text(q.get(), 1, ep);
    std::vector<Message> v;
    while (step(q.get())) {
      Message m;
      m.seq = sqlite3_column_int64(q.get(), 0);
      m.endpoint_id = col(q.get(), 1);
      m.topic = col(q.get(), 2);
      m.event_id = static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 3));
      m.msg_id = col(q.get(), 4);
      m.body = col(q.get(), 5);
      m.attempts = static_cast<std::uint32_t>(sqlite3_column_int64(q.get(), 6));
      m.next_attempt_ms = sqlite3_column_int64(q.get(), 7);
      m.state = static_cast<MessageState>(sqlite3_column_int(q.get(), 8));
      v.push_back(std::move(m));
    }
    return v;
  }

  std::unique_ptr<sqlite3, detail::SqliteCloser> db_;
  detail::StmtPtr put_ep_, status_, insert_, update_, delete_, count_delivered_, begin_, commit_;
  std::uint64_t epoch_ = 0;
};

}  // namespace herald::webhook
