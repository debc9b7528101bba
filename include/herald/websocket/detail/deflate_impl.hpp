// herald: definitions for websocket/deflate.hpp. Included at its end.
#pragma once
#include <herald/core/ascii.hpp>
#include <herald/websocket/deflate.hpp>

#include <algorithm>
#include <cstring>

namespace herald::websocket {

namespace detail {

using herald::detail::trim_ows;
using herald::detail::iequals;

/// Splits `s` at `sep` outside double quotes; calls f(piece) for each piece.
/// Returns false early if f does.
template <class F>
bool split_unquoted(std::string_view s, char sep, F&& f) {
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= s.size(); ++i) {
    if (i < s.size() && s[i] == '"') quoted = !quoted;
    if (i == s.size() || (s[i] == sep && !quoted)) {
      if (!f(s.substr(start, i - start))) return false;
      start = i + 1;
    }
  }
  return true;
}

/// One permessage-deflate offer or response, as parsed.
struct DeflateOffer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  int server_max_window_bits = 0;  ///< 0: absent
  bool client_max_window_bits_present = false;
  int client_max_window_bits = 0;  ///< 0: present without a value, or absent
};

/// RFC 7692 section 7.1.2: a decimal 8..15, no leading zero, maybe quoted.
inline int parse_window_bits(std::string_view v) noexcept {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.size() == 1 && v[0] >= '8' && v[0] <= '9') return v[0] - '0';
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return -1;
}

/// Parses the parameters of one element (`permessage-deflate; a; b=c`).
/// Returns nullopt if the element is not permessage-deflate or a parameter is
/// unknown, repeated or has a bad value.
inline std::optional<DeflateOffer> parse_deflate_element(std::string_view element) {
  DeflateOffer o;
  bool first = true, ok = true;
  bool seen[4] = {false, false, false, false};
  split_unquoted(element, ';', [&](std::string_view part) {
    part = trim_ows(part);
    if (first) {
      first = false;
      ok = iequals(part, "permessage-deflate");
      return ok;
    }
    std::string_view name = part, value;
    bool has_value = false;
    if (auto eq = part.find('='); eq != std::string_view::npos) {
      name = trim_ows(part.substr(0, eq));
      value = trim_ows(part.substr(eq + 1));
      has_value = true;
    }
    int idx = iequals(name, "server_no_context_takeover")   ? 0
              : iequals(name, "client_no_context_takeover") ? 1
              : iequals(name, "server_max_window_bits")     ? 2
              : iequals(name, "client_max_window_bits")     ? 3
                                                        : -1;
    if (idx < 0 || seen[idx]) return ok = false;
    seen[idx] = true;
    switch (idx) {
      case 0: o.server_no_context_takeover = true; return ok = !has_value;
      case 1: o.client_no_context_takeover = true; return ok = !has_value;
      case 2:
        o.server_max_window_bits = has_value ? parse_window_bits(value) : -1;
        return ok = o.server_max_window_bits > 0;
      default:
        o.client_max_window_bits_present = true;
        if (has_value) {
          o.client_max_window_bits = parse_window_bits(value);
          ok = o.client_max_window_bits > 0;
        }
        return ok;
    }
  });
  if (!ok || first) return std::nullopt;
  return o;
}

inline void append_bits(std::string& s, const char* name, int bits) {
  s += "; ";
  s += name;
  s += '=';
  s += std::to_string(bits);
}

// zlib cannot do a 256-byte window for raw deflate: 8 becomes 9 both ways, as
// other implementations do (a zlib peer that agreed to 8 also compresses with 9).
inline int zlib_window_bits(int bits) noexcept { return std::clamp(bits, 9, 15); }

}  // namespace detail

HERALD_DECL std::optional<DeflateParams> negotiate_deflate(std::string_view extensions,
                                                           const DeflateOptions& opts) {
  if (!opts.enabled) return std::nullopt;
  std::optional<DeflateParams> chosen;
  detail::split_unquoted(extensions, ',', [&](std::string_view element) {
    auto offer = detail::parse_deflate_element(element);
    if (!offer) return true;  // decline this offer, try the next
    DeflateParams p;
    p.server_no_context_takeover = offer->server_no_context_takeover || opts.server_no_context_takeover;
    p.client_no_context_takeover = offer->client_no_context_takeover || opts.client_no_context_takeover;
    int sbits = offer->server_max_window_bits > 0 ? offer->server_max_window_bits : 15;
    p.server_max_window_bits = static_cast<std::uint8_t>(std::min<int>(sbits, opts.server_max_window_bits));
    if (offer->client_max_window_bits_present) {
      int cbits = offer->client_max_window_bits > 0 ? offer->client_max_window_bits : 15;
      p.client_max_window_bits = static_cast<std::uint8_t>(std::min<int>(cbits, opts.client_max_window_bits));
    }  // else the client may use 15 and we cannot ask for less
    chosen = p;
    return false;
  });
  return chosen;
}

HERALD_DECL std::string format_deflate_response(const DeflateParams& p) {
  std::string s = "permessage-deflate";
  if (p.server_no_context_takeover) s += "; server_no_context_takeover";
  if (p.client_no_context_takeover) s += "; client_no_context_takeover";
  if (p.server_max_window_bits < 15) detail::append_bits(s, "server_max_window_bits", p.server_max_window_bits);
  if (p.client_max_window_bits < 15) detail::append_bits(s, "client_max_window_bits", p.client_max_window_bits);
  return s;
}

HERALD_DECL std::string format_deflate_offer(const DeflateOptions& opts) {
  std::string s = "permessage-deflate; client_max_window_bits";
  if (opts.client_max_window_bits < 15) s += '=' + std::to_string(opts.client_max_window_bits);
  if (opts.server_no_context_takeover) s += "; server_no_context_takeover";
  if (opts.client_no_context_takeover) s += "; client_no_context_takeover";
  if (opts.server_max_window_bits < 15)
    detail::append_bits(s, "server_max_window_bits", opts.server_max_window_bits);
  return s;
}

HERALD_DECL std::optional<DeflateParams> parse_deflate_response(std::string_view extensions,
                                                                const DeflateOptions& opts) {
  if (extensions.find(',') != std::string_view::npos) return std::nullopt;  // one extension only
  auto r = detail::parse_deflate_element(extensions);
  if (!r) return std::nullopt;
  // The server accepts server_no_context_takeover by echoing it; dropping it
  // means it did not accept our offer, so it must not use the extension.
  if (opts.server_no_context_takeover && !r->server_no_context_takeover) return std::nullopt;
  // client_max_window_bits in a response needs a value (RFC 7692 7.1.2.2).
  if (r->client_max_window_bits_present && r->client_max_window_bits == 0) return std::nullopt;
  if (r->client_max_window_bits > opts.client_max_window_bits) return std::nullopt;
  if (r->server_max_window_bits > opts.server_max_window_bits) return std::nullopt;
  DeflateParams p;
  p.server_no_context_takeover = r->server_no_context_takeover;
  p.client_no_context_takeover = r->client_no_context_takeover || opts.client_no_context_takeover;
  p.server_max_window_bits = static_cast<std::uint8_t>(r->server_max_window_bits ? r->server_max_window_bits : 15);
  p.client_max_window_bits = static_cast<std::uint8_t>(
      r->client_max_window_bits ? r->client_max_window_bits : opts.client_max_window_bits);
  return p;
}

// ---- Deflater ----------------------------------------------------------------

struct Deflater::Stream {
  z_stream zs{};
  int window_bits = 0, level = 0, mem_level = 0;
  bool ok = false;
  Stream(int wb, int lvl, int mem) : window_bits(wb), level(lvl), mem_level(mem) {
    ok = deflateInit2(&zs, lvl, Z_DEFLATED, -wb, mem, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Stream() {
    if (ok) deflateEnd(&zs);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
};

HERALD_DECL void Deflater::StreamDeleter::operator()(Stream* s) const noexcept { delete s; }

HERALD_DECL Deflater::Deflater(int window_bits, bool context_takeover, int level, int mem_level)
    : window_bits_(detail::zlib_window_bits(window_bits)),
      level_(level),
      mem_level_(mem_level),
      context_takeover_(context_takeover) {}

HERALD_DECL std::error_code Deflater::compress(std::string_view in, std::string& out) {
  Stream* s = nullptr;
  if (context_takeover_) {
    if (!own_) own_.reset(new Stream(window_bits_, level_, mem_level_));
    s = own_.get();
  } else {
    // One stream per thread and parameter set, reset after each message: no
    // context takeover means no message depends on the previous one.
    thread_local std::vector<std::unique_ptr<Stream>> cache;
    for (auto& c : cache)
      if (c->window_bits == window_bits_ && c->level == level_ && c->mem_level == mem_level_) s = c.get();
    if (!s) {
      cache.push_back(std::make_unique<Stream>(window_bits_, level_, mem_level_));
      s = cache.back().get();
    }
  }
  if (!s->ok) return herald::error::ws_deflate_error;
  z_stream& zs = s->zs;
  const std::size_t start = out.size();
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  // deflateBound covers a finished stream; a sync flush adds at most a few
  // bytes more, and the loop grows the buffer if it ever falls short.
  std::size_t room = deflateBound(&zs, static_cast<uLong>(in.size())) + 16;
  std::size_t used = start;
  int rc = Z_OK;
  do {
    out.resize(used + room);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs.avail_out = static_cast<uInt>(room);
    rc = deflate(&zs, Z_SYNC_FLUSH);
    used = out.size() - zs.avail_out;
    room = 1024;
  } while (rc == Z_OK && zs.avail_out == 0);
  out.resize(used);
  if (!context_takeover_) deflateReset(&zs);
  if (rc != Z_OK && rc != Z_BUF_ERROR) return herald::error::ws_deflate_error;
  // A sync flush ends with an empty stored block, 00 00 ff ff: the receiver
  // adds it back (RFC 7692 7.2.1).
  if (out.size() - start >= 4 && std::memcmp(out.data() + out.size() - 4, "\x00\x00\xff\xff", 4) == 0)
    out.resize(out.size() - 4);
  return {};
}

HERALD_DECL std::string Deflater::compress(std::string_view in) {
  std::string out;
  if (compress(in, out)) out.clear();
  return out;
}

// ---- Inflater ----------------------------------------------------------------

struct Inflater::Stream {
  z_stream zs{};
  bool ok = false;
  explicit Stream(int wb) { ok = inflateInit2(&zs, -wb) == Z_OK; }
  ~Stream() {
    if (ok) inflateEnd(&zs);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
};

HERALD_DECL void Inflater::StreamDeleter::operator()(Stream* s) const noexcept { delete s; }

HERALD_DECL Inflater::Inflater(int window_bits, bool context_takeover)
    : window_bits_(detail::zlib_window_bits(window_bits)), context_takeover_(context_takeover) {}

HERALD_DECL std::error_code Inflater::inflate(const void* data, std::size_t size, std::string& out,
                                             std::size_t limit) {
  if (!stream_) stream_.reset(new Stream(window_bits_));
  if (!stream_->ok) return herald::error::ws_deflate_error;
  z_stream& zs = stream_->zs;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<void*>(data));
  zs.avail_in = static_cast<uInt>(size);
  while (true) {
    if (out.size() > limit) return herald::error::ws_message_too_big;
    // Room for one byte past the limit, so that passing it is seen at once
    // and a bomb never inflates more than limit + 1 bytes.
    const std::size_t room = std::min<std::size_t>(limit - out.size() + 1,
                                                   std::clamp<std::size_t>(size * 4, 1024, 65536));
    const std::size_t old = out.size();
    out.resize(old + room);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
    zs.avail_out = static_cast<uInt>(room);
    const int rc = ::inflate(&zs, Z_SYNC_FLUSH);
    out.resize(old + room - zs.avail_out);
    if (out.size() > limit) return herald::error::ws_message_too_big;
    if (rc == Z_STREAM_END) {
      // A final block (BFINAL) inside a message: whatever follows starts anew.
      inflateReset(&zs);
      if (zs.avail_in == 0) break;
      continue;
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0) break;  // all consumed, nothing pending
    if (rc != Z_OK) return herald::error::ws_deflate_error;
    if (zs.avail_in == 0 && zs.avail_out != 0) break;
  }
  return {};
}

HERALD_DECL std::error_code Inflater::finish(std::string& out, std::size_t limit) {
  static constexpr unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
  auto ec = inflate(tail, sizeof tail, out, limit);
  if (ec || !context_takeover_) release();
  return ec;
}

HERALD_DECL void Inflater::release() noexcept { stream_.reset(); }

}  // namespace herald::websocket
