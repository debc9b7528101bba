// herald: forward declarations and default template arguments.
#pragma once
#include <asio/ip/tcp.hpp>

namespace herald {
class Hub;
template <class T, class Codec, class Backplane> class Broadcaster;
template <class Transport, class Stream> class Connection;
class Server;
class Exchange;

class SSEPolicy;
class WebSocketPolicy;
class PollingPolicy;
class WebhookPolicy;

using SSEConnection = Connection<SSEPolicy, asio::ip::tcp::socket>;
using WebSocketConnection = Connection<WebSocketPolicy, asio::ip::tcp::socket>;
}  // namespace herald
