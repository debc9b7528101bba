// herald: what one outgoing webhook delivery carries, sans-I/O: the JSON body
// of CONTRACT.md and the stable message id that becomes `webhook-id`.
#pragma once
#include <herald/config.hpp>
#include <herald/core/base64.hpp>
#include <herald/core/json.hpp>

#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>

namespace herald::webhook {

/// Appends `YYYY-MM-DDTHH:MM:SS.mmmZ` (RFC 3339, UTC, milliseconds).
HERALD_DECL void append_rfc3339(std::string& out, std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = floor<milliseconds>(t);
  const auto day = floor<days>(ms);
  const year_month_day ymd{day};
  const hh_mm_ss hms{ms - day};
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(ymd.year()),
                              static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                              static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                              static_cast<int>(hms.seconds().count()), static_cast<int>(hms.subseconds().count()));
  out.append(buf, static_cast<std::size_t>(n));
}

/// Appends the delivery body of CONTRACT.md:
/// `{"type":"herald.event","timestamp":"<RFC 3339>","data":{"topic":"t","id":N,"payload":"<event data>"}}`.
/// The event data goes in as a JSON string (escaped), whatever it contains, so
/// a receiver gets back exactly the bytes that were published.
HERALD_DECL void append_delivery_body(std::string& out, std::string_view topic, std::uint64_t event_id,
                                      std::string_view data, std::chrono::system_clock::time_point now) {
  out.reserve(out.size() + 96 + topic.size() + json::escaped_size(data));
  out.append(R"({"type":"herald.event","timestamp":")");
  append_rfc3339(out, now);
  out.append(R"(","data":{"topic":")");
  json::append_escaped(out, topic);
  out.append(R"(","id":)");
  out.append(std::to_string(event_id));
  out.append(R"(,"payload":")");
  json::append_escaped(out, data);
  out.append(R"("}})");
}

/// append_delivery_body into a new string.
HERALD_DECL std::string delivery_body(std::string_view topic, std::uint64_t event_id, std::string_view data,
                                      std::chrono::system_clock::time_point now) {
  std::string out;
  append_delivery_body(out, topic, event_id, data, now);
  return out;
}

/// The `webhook-id` of event `event_id` of `topic` delivered to endpoint
/// `endpoint_id`: `msg_` and 24 base64url characters (144 bits of SHA-256
/// over the three fields, each length-prefixed so no two different triples
/// hash the same input). Deterministic: every attempt and every replay of one
/// (endpoint, topic, id) carries the same id, which is what lets a receiver
/// deduplicate; different triples collide with probability about n^2 / 2^145.
/// The fields are not readable from the id, so it leaks no endpoint names.
/// @throws std::runtime_error if OpenSSL fails.
HERALD_DECL std::string message_id(std::string_view endpoint_id, std::string_view topic, std::uint64_t event_id) {
  std::string input = "herald.webhook.msg.v1";  // domain separation from any other use of SHA-256
  auto field = [&](std::string_view f) {
    const std::uint64_t n = f.size();
    for (int i = 7; i >= 0; --i) input.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
    input.append(f);
  };
  field(endpoint_id);
  field(topic);
  for (int i = 7; i >= 0; --i) input.push_back(static_cast<char>((event_id >> (8 * i)) & 0xFF));
  std::array<unsigned char, 32> digest;
  unsigned int len = 0;
  if (EVP_Digest(input.data(), input.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("herald: OpenSSL failure in SHA-256");
  std::string id = "msg_";
  base64url_append(id, digest.data(), 18);
  return id;
}

}  // namespace herald::webhook
