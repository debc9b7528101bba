#include <herald/herald.hpp>

int main() {
  herald::Broadcaster<std::string> hub;
  return hub.publish("t", std::string("x")) == 1 ? 0 : 1;
}
