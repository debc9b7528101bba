// herald: permessage-deflate (RFC 7692) over zlib, sans-I/O: negotiation of
// the extension's parameters, and per-message compress / inflate.
//
// Memory (DESIGN.md "Memory of compression and TLS"): by default the server
// asks for no context takeover in both directions, so a zlib stream exists only
// while one message is compressed or inflated and an idle connection holds
// none. Compression of a whole message at once uses one stream per thread.
#pragma once
#include <herald/config.hpp>
#include <herald/core/error.hpp>

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace herald::websocket {

/// What the extension negotiation agreed on, seen from both ends.
struct DeflateParams {
  bool server_no_context_takeover = false;  ///< server resets its compressor per message
  bool client_no_context_takeover = false;  ///< client resets its compressor per message
  std::uint8_t server_max_window_bits = 15; ///< LZ77 window of the server's compressor
  std::uint8_t client_max_window_bits = 15; ///< LZ77 window of the client's compressor
};

/// This endpoint's permessage-deflate configuration (designated initialisers).
struct DeflateOptions {
  /// Accept (server) or offer (client) the extension at all.
  bool enabled = true;
  /// Server: reset the compressor after each message. On by default: a
  /// compressor with context takeover keeps about
  /// (1 << (windowBits + 2)) + (1 << (memLevel + 9)) bytes, 256 KiB at 15/8, per
  /// connection for its whole life; without it one per-thread stream is shared
  /// and a broadcast event is compressed once for all subscribers.
  bool server_no_context_takeover = true;
  /// Server: ask the client to reset its compressor per message, so our
  /// inflater holds no state between messages. With client context takeover
  /// the inflater keeps about (1 << windowBits) + 7 KiB (39 KiB at 15) per
  /// connection for its life. RFC 7692 7.1.1.2 lets the server ask even when the
  /// client did not offer it.
  bool client_no_context_takeover = true;
  /// Server: largest window our compressor uses (8..15). 8 is compressed with 9,
  /// as zlib cannot do 8 for raw deflate.
  std::uint8_t server_max_window_bits = 15;
  /// Server: largest window we ask the client to use, when it allows us to.
  std::uint8_t client_max_window_bits = 15;
  /// zlib level 0..9: 6 is zlib's own default, a fair speed/ratio trade.
  int compression_level = Z_DEFAULT_COMPRESSION;
  /// zlib memLevel 1..9: 8 is zlib's default.
  int mem_level = 8;
};

/// Server side: reads a client's `Sec-WebSocket-Extensions` value (several
/// offers separated by commas, possibly several of permessage-deflate) and
/// picks the first permessage-deflate offer it can accept. An offer with an
/// unknown, repeated or invalid parameter is declined and the next one tried.
/// Returns nullopt when no offer is acceptable (the connection then runs
/// uncompressed).
HERALD_DECL std::optional<DeflateParams> negotiate_deflate(std::string_view extensions,
                                                           const DeflateOptions& opts);

/// Server side: the `Sec-WebSocket-Extensions` response value for `p`.
HERALD_DECL std::string format_deflate_response(const DeflateParams& p);

/// Client side: the offer a herald client sends:
/// `permessage-deflate; client_max_window_bits` (as browsers do), plus
/// `server_no_context_takeover` / `client_no_context_takeover` as `opts` say.
HERALD_DECL std::string format_deflate_offer(const DeflateOptions& opts);

/// Client side: checks the server's response to our offer (`opts` as given to
/// `format_deflate_offer`). Returns the agreed parameters, or nullopt if the
/// response is malformed or grants what we did not offer (fail the handshake).
HERALD_DECL std::optional<DeflateParams> parse_deflate_response(std::string_view extensions,
                                                                const DeflateOptions& opts);

/// Compresses whole messages for one direction.
///
/// Without context takeover (the default for a server) the zlib stream comes
/// from a per-thread cache and is reset after each message: the object itself
/// holds no zlib state. With context takeover it owns a stream for its life.
/// @par Thread Safety
/// Distinct objects: safe. Shared objects: unsafe.
class Deflater {
 public:
  /// @param window_bits the negotiated max window bits of our side (8..15)
  /// @param context_takeover keep the LZ77 window between messages
  HERALD_DECL explicit Deflater(int window_bits = 15, bool context_takeover = false,
                                int level = Z_DEFAULT_COMPRESSION, int mem_level = 8);
  /// Compresses `in` as one message and appends the result to `out`, without
  /// the trailing 00 00 ff ff (RFC 7692 section 7.2.1). Errors only if zlib
  /// cannot allocate its state.
  HERALD_DECL std::error_code compress(std::string_view in, std::string& out);
  /// Convenience: the compressed message; empty string on failure.
  HERALD_DECL std::string compress(std::string_view in);
  /// True while a zlib stream is held by this object.
  bool holds_state() const noexcept { return own_ != nullptr; }

 private:
  struct Stream;
  struct StreamDeleter {
    HERALD_DECL void operator()(Stream* s) const noexcept;
  };
  int window_bits_;
  int level_;
  int mem_level_;
  bool context_takeover_;
  std::unique_ptr<Stream, StreamDeleter> own_;
};

/// Inflates messages for one direction, piece by piece, with a hard limit on
/// the output so a decompression bomb is stopped while it inflates.
///
/// The zlib stream is created on the first `inflate` of a message; without
/// context takeover it is freed by `finish`, so an idle connection holds none.
class Inflater {
 public:
  HERALD_DECL explicit Inflater(int window_bits = 15, bool context_takeover = false);
  /// Inflates the next piece of a message's compressed payload, appending to
  /// `out`. Fails with `ws_message_too_big` as soon as `out.size()` would pass
  /// `limit`, with `ws_deflate_error` on corrupt data.
  HERALD_DECL std::error_code inflate(const void* data, std::size_t size, std::string& out,
                                      std::size_t limit);
  /// Ends the message: inflates the 00 00 ff ff tail the sender stripped, then
  /// frees (or, with context takeover, keeps) the stream.
  HERALD_DECL std::error_code finish(std::string& out, std::size_t limit);
  /// Frees the stream (after an error, or when the connection closes).
  HERALD_DECL void release() noexcept;
  /// True while a zlib stream is held.
  bool holds_state() const noexcept { return stream_ != nullptr; }

 private:
  struct Stream;
  struct StreamDeleter {
    HERALD_DECL void operator()(Stream* s) const noexcept;
  };
  int window_bits_;
  bool context_takeover_;
  std::unique_ptr<Stream, StreamDeleter> stream_;
};

}  // namespace herald::websocket

#include <herald/websocket/detail/deflate_impl.hpp>
