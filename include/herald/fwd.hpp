// herald: forward declarations and default template arguments.
#pragma once
#include <herald/core/socket.hpp>

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

using SSEConnection = Connection<SSEPolicy, Socket>;
using WebSocketConnection = Connection<WebSocketPolicy, Socket>;
}  // namespace herald
