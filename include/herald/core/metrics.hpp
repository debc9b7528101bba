// herald: counters and gauges, exposed in the Prometheus text format.
#pragma once
#include <herald/config.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace herald {

/// The transports, as metric labels and array indices.
enum class TransportKind : std::uint8_t { http, websocket, sse, poll, longpoll, webhook, count };

inline constexpr std::string_view transport_name(TransportKind t) noexcept {
  constexpr std::string_view names[] = {"http", "websocket", "sse", "poll", "longpoll", "webhook"};
  return names[static_cast<std::size_t>(t)];
}

/// What a full send queue does. See DESIGN.md "Slow consumers and backpressure".
enum class OverflowPolicy : std::uint8_t {
  close,        ///< close the connection; the client resumes from history (default)
  drop_oldest,  ///< drop the oldest queued events that are not being written
  drop_newest,  ///< drop the event that does not fit
  conflate,     ///< keep only the newest queued event per key
  wait,         ///< never drop; only async_publish waits for room
  count
};

inline constexpr std::string_view policy_name(OverflowPolicy p) noexcept {
  constexpr std::string_view names[] = {"close", "drop_oldest", "drop_newest", "conflate", "wait"};
  return names[static_cast<std::size_t>(p)];
}

/// Process-wide counters. Relaxed atomics: they are statistics, not synchronisation.
struct Metrics {
  using Counter = std::atomic<std::uint64_t>;
  using Gauge = std::atomic<std::int64_t>;
  static constexpr std::size_t T = static_cast<std::size_t>(TransportKind::count);
  static constexpr std::size_t P = static_cast<std::size_t>(OverflowPolicy::count);

  std::array<Gauge, T> connections{};
  std::array<Counter, T> deliveries{};
  std::array<Counter, T> replayed{};
  std::array<Counter, T> bytes_out{};
  std::array<Counter, T> bytes_in{};
  std::array<std::array<Counter, P>, T> dropped{};
  std::array<Counter, T> closed_slow{};
  Gauge queue_bytes{0};
  Counter events_published{0};
  Counter http_requests{0};
  Counter bad_requests{0};        ///< requests refused for malformed input or limits
  Counter rejected_connections{0};///< refused past the connection limit
  Counter ws_protocol_errors{0};  ///< WebSocket closes for a peer's protocol error
  Counter ws_dead_peers{0};       ///< WebSocket peers dropped for not answering a ping in time
  Counter auth_denied{0};
  Counter rate_limited{0};         ///< publishes (429) and WebSocket messages (close 1008) over their rate
  Counter address_limited{0};      ///< connections refused past the per-address limit
  Counter read_pauses{0};          ///< times a connection stopped reading: its send queue was full (TCP pushback)
  Gauge reads_paused{0};           ///< connections not reading now, waiting for their peer to read
  Counter write_timeouts{0};       ///< connections closed: the peer read nothing for `write_timeout`
  Counter queue_limit_closes{0};   ///< connections closed: the application queued past `QueueOptions::max_bytes`
  Counter pipeline_limited{0};     ///< times an HTTP session stopped parsing at `max_pipelined` unwritten responses
  Counter webhook_attempts_ok{0}, webhook_attempts_retry{0}, webhook_attempts_failed{0};
  Counter webhook_dead_letters{0};
  Counter webhooks_received{0}, webhooks_rejected{0};
  // Topics (Hub, HubOptions): live topics, and new ones refused at a cap.
  Gauge topics{0};                   ///< topics held by history or subscribers
  Gauge topics_with_history{0};      ///< of them, those holding history (HubOptions::max_topics)
  Counter topics_refused_publish{0}; ///< publishes to a new topic refused past max_topics
  Counter topics_refused_subscribe{0};///< subscribes to a new topic refused past max_subscribed_topics
  // The webhook outbox's storage (SQLite on the sender's store thread).
  Counter webhook_outbox_errors{0};  ///< outbox transactions that failed (each try of a failing commit counts)
  Counter webhook_refused{0};        ///< publishes and registrations refused (503) while the outbox cannot take them
  Gauge webhook_outbox_failing{0};   ///< 1 while the last outbox commit failed, else 0
  Gauge webhook_unwritten{0};        ///< messages accepted and not committed yet (kept in memory meanwhile)
  // Contained failures: each is also logged through the log sink (core/log.hpp).
  Counter handler_exceptions{0};    ///< route handlers that threw: the request got 500 (or its session closed)
  Counter connection_exceptions{0}; ///< exceptions in a connection's callbacks (transport, codec, user callback): that connection closed (WebSocket 1011)
  Counter loop_exceptions{0};       ///< exceptions that reached an event-loop thread's run(): the loop went on
  Counter accept_backoffs{0};       ///< accepts that failed for lack of descriptors or memory: accepting paused (50 ms doubling to 1 s)

  static void add(Counter& c, std::uint64_t n = 1) noexcept { c.fetch_add(n, std::memory_order_relaxed); }
  static void add(Gauge& g, std::int64_t n) noexcept { g.fetch_add(n, std::memory_order_relaxed); }
  static std::size_t idx(TransportKind t) noexcept { return static_cast<std::size_t>(t); }

  /// The Prometheus text exposition of every counter.
  std::string prometheus() const {
    std::string o;
    o.reserve(4096);
    auto family = [&](std::string_view name, std::string_view type, std::string_view help) {
      o.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ").append(name)
          .append(" ").append(type).append("\n");
    };
    auto value = [&](std::string_view name, std::string_view labels, const auto& v) {
      o.append(name);
      if (!labels.empty()) o.append("{").append(labels).append("}");
      o.append(" ").append(std::to_string(v.load(std::memory_order_relaxed))).append("\n");
    };
    auto per_transport = [&](std::string_view name, std::string_view type, std::string_view help,
                             const auto& arr) {
      family(name, type, help);
      for (std::size_t i = 0; i < T; ++i)
        value(name, "transport=\"" + std::string(transport_name(TransportKind(i))) + "\"", arr[i]);
    };
    per_transport("herald_connections", "gauge", "Open connections by transport.", connections);
    family("herald_events_published_total", "counter", "Events published.");
    value("herald_events_published_total", "", events_published);
    per_transport("herald_deliveries_total", "counter", "Events queued to a subscriber.", deliveries);
    per_transport("herald_replayed_total", "counter", "Events replayed from history.", replayed);
    family("herald_dropped_total", "counter", "Events dropped by a full send queue.");
    for (std::size_t i = 0; i < T; ++i)
      for (std::size_t p = 0; p < P; ++p)
        value("herald_dropped_total",
              "transport=\"" + std::string(transport_name(TransportKind(i))) + "\",policy=\"" +
                  std::string(policy_name(OverflowPolicy(p))) + "\"",
              dropped[i][p]);
    per_transport("herald_slow_closes_total", "counter", "Connections closed for a full send queue.",
                  closed_slow);
    per_transport("herald_bytes_out_total", "counter", "Bytes written.", bytes_out);
    per_transport("herald_bytes_in_total", "counter", "Bytes read.", bytes_in);
    family("herald_queue_bytes", "gauge", "Bytes waiting in send queues.");
    value("herald_queue_bytes", "", queue_bytes);
    family("herald_http_requests_total", "counter", "HTTP requests parsed.");
    value("herald_http_requests_total", "", http_requests);
    family("herald_bad_requests_total", "counter", "Requests refused for bad input or limits.");
    value("herald_bad_requests_total", "", bad_requests);
    family("herald_rejected_connections_total", "counter", "Connections refused past the limit.");
    value("herald_rejected_connections_total", "", rejected_connections);
    family("herald_ws_protocol_errors_total", "counter", "WebSocket closes for peer protocol errors.");
    value("herald_ws_protocol_errors_total", "", ws_protocol_errors);
    family("herald_ws_dead_peers_total", "counter", "WebSocket peers dropped for not answering a ping.");
    value("herald_ws_dead_peers_total", "", ws_dead_peers);
    family("herald_auth_denied_total", "counter", "Requests refused by access control.");
    value("herald_auth_denied_total", "", auth_denied);
    family("herald_rate_limited_total", "counter", "Publishes or messages refused by a rate limit.");
    value("herald_rate_limited_total", "", rate_limited);
    family("herald_address_limited_total", "counter", "Connections refused past the per-address limit.");
    value("herald_address_limited_total", "", address_limited);
    family("herald_read_pauses_total", "counter", "Times a connection stopped reading because its send queue was full.");
    value("herald_read_pauses_total", "", read_pauses);
    family("herald_reads_paused", "gauge", "Connections not reading until their peer reads.");
    value("herald_reads_paused", "", reads_paused);
    family("herald_write_timeouts_total", "counter", "Connections closed because the peer read nothing for the write timeout.");
    value("herald_write_timeouts_total", "", write_timeouts);
    family("herald_queue_limit_closes_total", "counter", "Connections closed for application sends past the queue's hard cap.");
    value("herald_queue_limit_closes_total", "", queue_limit_closes);
    family("herald_pipeline_limited_total", "counter", "Times an HTTP session stopped parsing at the pipelining limit.");
    value("herald_pipeline_limited_total", "", pipeline_limited);
    family("herald_webhook_attempts_total", "counter", "Outgoing webhook delivery attempts.");
    value("herald_webhook_attempts_total", "result=\"ok\"", webhook_attempts_ok);
    value("herald_webhook_attempts_total", "result=\"retry\"", webhook_attempts_retry);
    value("herald_webhook_attempts_total", "result=\"failed\"", webhook_attempts_failed);
    family("herald_webhook_dead_letters_total", "counter", "Webhook messages dead-lettered.");
    value("herald_webhook_dead_letters_total", "", webhook_dead_letters);
    family("herald_webhooks_received_total", "counter", "Incoming webhooks accepted.");
    value("herald_webhooks_received_total", "", webhooks_received);
    family("herald_webhooks_rejected_total", "counter", "Incoming webhooks refused.");
    value("herald_webhooks_rejected_total", "", webhooks_rejected);
    family("herald_topics", "gauge", "Live topics, by what holds them: history, or only subscribers.");
    {
      const auto all = topics.load(std::memory_order_relaxed), kept = topics_with_history.load(std::memory_order_relaxed);
      o.append("herald_topics{held_by=\"history\"} ").append(std::to_string(kept)).append("\n");
      o.append("herald_topics{held_by=\"subscribers\"} ").append(std::to_string(all - kept)).append("\n");
    }
    family("herald_topics_refused_total", "counter", "New topics refused at a cap (HubOptions).");
    value("herald_topics_refused_total", "side=\"publish\"", topics_refused_publish);
    value("herald_topics_refused_total", "side=\"subscribe\"", topics_refused_subscribe);
    family("herald_webhook_outbox_errors_total", "counter", "Webhook outbox transactions that failed.");
    value("herald_webhook_outbox_errors_total", "", webhook_outbox_errors);
    family("herald_webhook_refused_total", "counter", "Publishes and registrations refused while the outbox fails.");
    value("herald_webhook_refused_total", "", webhook_refused);
    family("herald_webhook_outbox_failing", "gauge", "1 while the webhook outbox's last commit failed.");
    value("herald_webhook_outbox_failing", "", webhook_outbox_failing);
    family("herald_webhook_unwritten", "gauge", "Accepted webhook messages not yet committed to the outbox.");
    value("herald_webhook_unwritten", "", webhook_unwritten);
    family("herald_handler_exceptions_total", "counter", "Route handlers that threw (answered 500 or closed).");
    value("herald_handler_exceptions_total", "", handler_exceptions);
    family("herald_connection_exceptions_total", "counter", "Connections closed for an exception in their callbacks.");
    value("herald_connection_exceptions_total", "", connection_exceptions);
    family("herald_loop_exceptions_total", "counter", "Exceptions caught at an event-loop thread's run().");
    value("herald_loop_exceptions_total", "", loop_exceptions);
    family("herald_accept_backoffs_total", "counter", "Accept pauses for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM).");
    value("herald_accept_backoffs_total", "", accept_backoffs);
    return o;
  }
};

/// The process's default metrics, used unless a server is given its own.
HERALD_DECL Metrics& default_metrics() noexcept {
  static Metrics m;
  return m;
}

}  // namespace herald
