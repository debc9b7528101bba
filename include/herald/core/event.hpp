// herald: one published event, shared immutably by every subscriber.
#pragma once
#include <herald/core/clock.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace herald {

/// The wire encodings an event can be cached in. Each is computed at most once
/// per event, on first use, by whichever subscriber needs it first.
enum class FrameKind : std::uint8_t {
  sse_chunked,      ///< SSE event inside an HTTP/1.1 chunk
  sse_raw,          ///< SSE event for a close-delimited (HTTP/1.0) stream
  ws_text,          ///< WebSocket text frame(s), payload = data
  ws_v1,            ///< WebSocket text frame(s), payload = {"id":N,"data":"..."}
  ws_text_deflate,  ///< as ws_text, permessage-deflate (no context takeover)
  ws_v1_deflate,    ///< as ws_v1, permessage-deflate (no context takeover)
  json,             ///< polling fragment {"id":N,"data":"..."}
  count
};

/// An event: topic, id, data, and an optional conflation key. Immutable once
/// published; held by `std::shared_ptr<const Event>` (EventPtr) in the history
/// and in send queues, so delivering it costs one reference count.
class Event {
 public:
  Event(std::string topic, std::uint64_t id, std::string data, std::string key = {},
        Clock::time_point published = Clock::now())
      : topic_(std::move(topic)), data_(std::move(data)), key_(std::move(key)), id_(id),
        published_(published) {}

  const std::string& topic() const noexcept { return topic_; }
  std::uint64_t id() const noexcept { return id_; }
  const std::string& data() const noexcept { return data_; }
  /// Conflation key (e.g. a ticker symbol); empty when none.
  const std::string& key() const noexcept { return key_; }
  Clock::time_point published() const noexcept { return published_; }

  /// The event encoded as `kind`, computed once by `encode(const Event&) -> std::string`
  /// and cached. Thread-safe: concurrent callers wait for the one encoding.
  template <class Encode>
  const std::string& frame(FrameKind kind, Encode&& encode) const {
    auto& slot = frames_[static_cast<std::size_t>(kind)];
    std::call_once(slot.once, [&] {
      slot.bytes = encode(*this);
      encodes_total().fetch_add(1, std::memory_order_relaxed);
    });
    return slot.bytes;
  }

  /// Encodings computed so far in this process (all events, all kinds): lets
  /// tests check "one encode per event per transport" from the outside.
  static std::atomic<std::uint64_t>& encodes_total() noexcept {
    static std::atomic<std::uint64_t> n{0};
    return n;
  }

  // The hub sets the id under the topic's sequence before sharing the event.
  void set_id(std::uint64_t id) noexcept { id_ = id; }

 private:
  struct Slot {
    std::once_flag once;
    std::string bytes;
  };
  std::string topic_;
  std::string data_;
  std::string key_;
  std::uint64_t id_;
  Clock::time_point published_;
  mutable std::array<Slot, static_cast<std::size_t>(FrameKind::count)> frames_;
};

using EventPtr = std::shared_ptr<const Event>;

}  // namespace herald
