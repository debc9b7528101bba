#include <herald/sse/policy.hpp>

#include <iostream>

int main() {
  herald::Broadcaster<std::string> hub;
  herald::Server server;
  server.sse("/sse/{topic}", hub);
  server.start();
  std::cout << "port " << server.port() << "\n";
  hub.publish("t", std::string("hello"));
  server.stop();
  server.join();
  return hub.head("t") == 1 ? 0 : 1;
}
