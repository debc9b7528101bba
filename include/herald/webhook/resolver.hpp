// herald: the name-resolution seam of the webhook sender. Production resolves
// with Asio; tests install a StaticResolver so every address class can be fed
// to the SSRF guard while all real traffic stays on 127.0.0.1.
#pragma once
#include <herald/core/error.hpp>
#include <herald/webhook/ssrf.hpp>

#include <asio/any_io_executor.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace herald::webhook {

/// An Address as an Asio address.
HERALD_DECL asio::ip::address to_asio(const Address& a) {
  if (a.is_v4()) return asio::ip::address_v4({a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]});
  asio::ip::address_v6::bytes_type b;
  for (std::size_t i = 0; i < 16; ++i) b[i] = a.bytes[i];
  return asio::ip::address_v6(b);
}

/// An Asio address as an Address (IPv4-mapped IPv6 stays IPv6: classify()
/// looks through it).
HERALD_DECL Address from_asio(const asio::ip::address& a) {
  Address r;
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    for (std::size_t i = 0; i < 4; ++i) r.bytes[i] = b[i];
    return r;
  }
  r.family = Address::Family::v6;
  const auto b = a.to_v6().to_bytes();
  for (std::size_t i = 0; i < 16; ++i) r.bytes[i] = b[i];
  return r;
}

/// Turns a host name into addresses. The sender resolves once per attempt,
/// checks the result with check(Resolved, SsrfPolicy), and connects to those
/// addresses only (see Resolved).
///
/// The callback is an internal seam, not a user completion handler, so a
/// std::function is fine here: it always runs on the executor passed in.
class Resolver {
 public:
  using Callback = std::function<void(std::error_code, Resolved)>;
  virtual ~Resolver() = default;
  /// Resolves `host`; calls `done` on `ex`, never inline.
  virtual void resolve(const asio::any_io_executor& ex, const std::string& host, Callback done) = 0;
};

/// getaddrinfo through Asio (on Asio's resolver thread, not the loop's).
class AsioResolver final : public Resolver {
 public:
  void resolve(const asio::any_io_executor& ex, const std::string& host, Callback done) override {
    auto r = std::make_shared<asio::ip::tcp::resolver>(ex);
    r->async_resolve(host, "0", [r, done = std::move(done)](std::error_code ec,
                                                             asio::ip::tcp::resolver::results_type res) {
      Resolved out;
      if (!ec)
        for (const auto& e : res) out.addrs.push_back(from_asio(e.endpoint().address()));
      done(ec, std::move(out));
    });
  }
};

/// A fixed table of names: what tests use. Thread-safe.
class StaticResolver final : public Resolver {
 public:
  void set(const std::string& host, std::vector<Address> addrs) {
    std::lock_guard lk(mu_);
    table_[host] = std::move(addrs);
  }
  void resolve(const asio::any_io_executor& ex, const std::string& host, Callback done) override {
    Resolved out;
    std::error_code ec = asio::error::host_not_found;
    {
      std::lock_guard lk(mu_);
      if (auto it = table_.find(host); it != table_.end()) {
        out.addrs = it->second;
        ec = {};
      }
      ++lookups_;
    }
    asio::post(ex, [done = std::move(done), ec, out = std::move(out)]() mutable { done(ec, std::move(out)); });
  }
  std::size_t lookups() const {
    std::lock_guard lk(mu_);
    return lookups_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::vector<Address>> table_;
  std::size_t lookups_ = 0;
};

}  // namespace herald::webhook
