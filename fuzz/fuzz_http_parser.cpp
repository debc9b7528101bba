// libFuzzer target for herald::http::RequestParser.
//
// Property: the parser's results do not depend on how the bytes are cut into
// reads. The input (after two seed bytes) is fed once in one piece and once in
// two pieces split at a point derived from the seed bytes, as a server would
// (handing over each complete request, resetting, feeding the rest). Both runs
// must produce the same completed requests (method, target, version, headers,
// body) and end in the same status with the same HTTP status.
//
// The comparison is exact, HTTP status included: when the bytes hold several
// violations the parser reports the first in byte order, whatever its kind
// (bare LF, syntax, or a limit: 413/414/431), so the split cannot change which
// one wins. A second pass with tight limits makes the limits trip.
#include <herald/http/parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

using herald::http::Limits;
using herald::http::RequestParser;
using Status = RequestParser::Status;

struct Req {
  std::string method, target, body;
  std::vector<std::pair<std::string, std::string>> headers;
  unsigned major = 0, minor = 0;
  bool keep_alive = false, upgrade = false;
  bool operator==(const Req&) const = default;
};

struct Trace {
  std::vector<Req> requests;
  Status last = Status::need_more;
  int http_status = 0;
};

Trace run(const std::vector<std::string_view>& pieces, const Limits& limits) {
  RequestParser p(limits);
  Trace t;
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {
      auto r = p.feed(piece);
      if (r.consumed > piece.size()) std::abort();
      t.last = r.status;
      if (r.status == Status::error) {
        if (r.http_status != 400 && r.http_status != 413 && r.http_status != 414 && r.http_status != 431) std::abort();
        if (!r.ec) std::abort();
        t.http_status = r.http_status;
        return t;
      }
      if (r.status == Status::need_more) {
        if (r.consumed != piece.size()) std::abort();  // need_more consumes everything
        break;
      }
      const auto& q = p.request();
      Req out{std::string(q.method()), std::string(q.target()), q.body(), q.headers(),
              q.version_major(), q.version_minor(), q.keep_alive(), q.upgrade()};
      if (out.major != 1 || out.minor > 1) std::abort();  // only HTTP/1.0 and 1.1 get through
      if (q.body().size() > limits.max_body) std::abort();
      t.requests.push_back(std::move(out));
      piece.remove_prefix(r.consumed);
      p.reset();
      if (r.consumed == 0 && !piece.empty()) std::abort();  // would loop forever
    }
  }
  return t;
}

void check(std::string_view input, std::size_t split, const Limits& limits) {
  Trace whole = run({input}, limits);
  Trace parts = run({input.substr(0, split), input.substr(split)}, limits);
  if (whole.requests != parts.requests) std::abort();
  if (whole.last != parts.last) std::abort();
  if (whole.http_status != parts.http_status) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t seed = static_cast<std::size_t>(data[0]) << 8 | data[1];
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  const std::size_t split = input.empty() ? 0 : seed % (input.size() + 1);
  check(input, split, Limits{});
  check(input, split, Limits{.max_request_line = 40, .max_header_bytes = 64, .max_header_count = 4, .max_body = 16});
  return 0;
}
