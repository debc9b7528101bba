// herald: the TCP socket type herald's server uses, and adoption of others.
#pragma once
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

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

/// Moves an accepted TCP socket with any executor into a `Socket` on the same
/// io_context (the descriptor changes owner; no bytes are lost: none are read).
/// The socket's executor must belong to an io_context.
inline Socket to_socket(Socket s) noexcept { return s; }
template <class E>
  requires(!std::is_same_v<E, asio::io_context::executor_type>)
Socket to_socket(asio::basic_stream_socket<asio::ip::tcp, E> s) {
  auto& ctx = static_cast<asio::io_context&>(s.get_executor().context());
  Socket out(ctx);
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
