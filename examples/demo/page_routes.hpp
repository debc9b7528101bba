// herald-demo: the demo page and the browser client, served from memory.
//   GET /            the demo page (www/index.html)
//   GET /herald.js   the JavaScript client (classic script; /herald.mjs as a module)
//   GET /<file>      every other file of examples/demo/www
// The files are compiled in (examples/cmake/embed_assets.cmake): the binary
// needs nothing beside it.
#pragma once
#include "demo.hpp"

#include <demo_assets.hpp>  // generated at build time from examples/demo/www

namespace demo {

/// Adds GET (and HEAD) routes for the page and its assets.
inline void add_page_routes(Demo& d) {
  for (const auto& a : demo_assets::assets) {
    auto serve = [&a](herald::Exchange& ex) {
      // no-cache: the browser revalidates, so a rebuilt demo is seen at once.
      ex.respond(200, a.content_type, a.body, {{"Cache-Control", "no-cache"}});
    };
    d.server.route("GET", a.path, serve);
    d.server.route("HEAD", a.path, serve);
    if (a.path == "/index.html") {
      d.server.route("GET", "/", serve);
      d.server.route("HEAD", "/", serve);
    }
  }
}

}  // namespace demo
