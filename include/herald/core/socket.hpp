// herald: the TCP socket type herald's server uses, and adoption of others.
#pragma once
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/strand.hpp>

#include <stdexcept>
#include <string>

#include <type_traits>

namespace herald {

/// A TCP socket bound to an io_context's own executor. `asio::ip::tcp::socket`
/// carries an `any_io_executor` (56 B), and so does every pending wait on it;
/// this one carries 8 B. On 10,000 idle connections that is about 100 B each.
using Socket = asio::basic_stream_socket<asio::ip::tcp, asio::io_context::executor_type>;

namespace detail {

template <class S>
struct is_tcp_socket : std::false_type {};
template <class E>
struct is_tcp_socket<asio::basic_stream_socket<asio::ip::tcp, E>> : std::true_type {};

/// The io_context behind an executor: an io_context's (checked at compile
/// time), a strand of one, or an `any_io_executor` holding either (checked at
/// run time); null for another (a thread_pool's, a system_executor).
template <class Executor>
asio::io_context* io_context_of(const Executor& ex) {
  if constexpr (std::is_same_v<decltype(ex.context()), asio::io_context&>) {
    return &ex.context();
  } else if constexpr (requires { ex.get_inner_executor(); }) {
    return io_context_of(ex.get_inner_executor());
  } else if constexpr (requires { ex.template target<asio::io_context::executor_type>(); }) {
    using Io = asio::io_context::executor_type;
    using Tracked = std::decay_t<decltype(asio::prefer(std::declval<Io>(), asio::execution::outstanding_work.tracked))>;
    if (auto* t = ex.template target<Io>()) return &t->context();
    if (auto* t = ex.template target<Tracked>()) return &t->context();
    if (auto* t = ex.template target<asio::strand<Io>>()) return &t->get_inner_executor().context();
    return nullptr;
  } else {
    static_assert(sizeof(Executor) == 0, "herald: a connection's executor must be an asio::io_context's");
  }
}

/// As io_context_of, throwing std::logic_error for an executor that is not an io_context's.
template <class Executor>
asio::io_context& context_of(const Executor& ex) {
  if (asio::io_context* io = io_context_of(ex)) return *io;
  std::string what = "herald: a connection's executor must be an asio::io_context's (or a strand of one)";
  if constexpr (requires { ex.target_type(); }) what.append(", not ").append(ex.target_type().name());
  throw std::logic_error(what);
}

/// Moves an accepted TCP socket with any executor into a `Socket` on the same
/// io_context (the descriptor changes owner; no bytes are lost: none are read).
/// The socket's executor must belong to an io_context.
inline Socket to_socket(Socket s) noexcept { return s; }
template <class E>
  requires(!std::is_same_v<E, asio::io_context::executor_type>)
Socket to_socket(asio::basic_stream_socket<asio::ip::tcp, E> s) {
  Socket out(context_of(s.get_executor()));
  if (!s.is_open()) return out;
  std::error_code ec;
  auto ep = s.local_endpoint(ec);
  auto fd = s.release(ec);
  if (!ec) out.assign(ep.protocol(), fd, ec);
  if (ec) throw std::system_error(ec, "herald: adopting a socket");
  return out;
}

/// What a bring-your-own `accept` keeps: any TCP socket becomes a `Socket`;
/// another stream (TLS) is kept as it is.
template <class Stream>
using adopted_t = std::conditional_t<is_tcp_socket<Stream>::value, Socket, Stream>;
template <class Stream>
adopted_t<Stream> adopt(Stream s) {
  if constexpr (is_tcp_socket<Stream>::value) return to_socket(std::move(s));
  else return s;
}

}  // namespace detail
}  // namespace herald
