#include <herald/http/response.hpp>

#include <herald/http/parser.hpp>

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using namespace herald::http;

TEST_CASE("http response: status line, headers and framing", "[http][response]") {
  std::string out;
  ResponseHead h;
  h.status = 200;
  h.headers = {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
  h.content_length = 5;
  write_head(out, h);
  CHECK(out ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
        "Content-Length: 5\r\n\r\n");

  out.clear();
  h.content_length.reset();
  h.chunked = true;
  write_head(out, h);
  CHECK(out.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(out.find("Content-Length") == std::string::npos);
  CHECK(out.find("Connection") == std::string::npos);

  // Neither: close-delimited body, with Connection: close.
  out.clear();
  h.chunked = false;
  h.keep_alive = false;
  write_head(out, h);
  CHECK(out == "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");

  // No Date header (cost), whatever the status.
  CHECK(out.find("Date:") == std::string::npos);
}

TEST_CASE("http response: Connection for HTTP/1.0 and 1.1 clients", "[http][response]") {
  auto head = [](bool keep, unsigned minor) {
    std::string out;
    ResponseHead h;
    h.status = 204;
    h.keep_alive = keep;
    h.version_minor = minor;
    write_head(out, h);
    return out;
  };
  CHECK(head(true, 1) == "HTTP/1.1 204 No Content\r\n\r\n");
  CHECK(head(false, 1) == "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  CHECK(head(true, 0) == "HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n");
  CHECK(head(false, 0) == "HTTP/1.0 204 No Content\r\nConnection: close\r\n\r\n");
}

TEST_CASE("http response: no framing on 1xx and 204", "[http][response]") {
  for (int status : {100, 101, 204}) {
    std::string out;
    ResponseHead h;
    h.status = status;
    h.content_length = 10;
    h.chunked = status == 101;
    write_head(out, h);
    INFO(out);
    CHECK(out.find("Content-Length") == std::string::npos);
    CHECK(out.find("Transfer-Encoding") == std::string::npos);
  }
  std::string out;
  ResponseHead h;
  h.status = 304;
  h.content_length = 10;
  write_head(out, h);
  CHECK(out == "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
}

TEST_CASE("http response: reason phrases", "[http][response]") {
  CHECK(reason_phrase(200) == "OK");
  CHECK(reason_phrase(404) == "Not Found");
  CHECK(reason_phrase(405) == "Method Not Allowed");
  CHECK(reason_phrase(413) == "Payload Too Large");
  CHECK(reason_phrase(414) == "URI Too Long");
  CHECK(reason_phrase(426) == "Upgrade Required");
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(503) == "Service Unavailable");
  CHECK(reason_phrase(299).empty());
  std::string out;
  ResponseHead h;
  h.status = 299;
  h.content_length = 0;
  write_head(out, h);
  CHECK(out == "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n");  // empty reason is valid
}

TEST_CASE("http response: make_response and make_error_response", "[http][response]") {
  CHECK(make_response(202, "application/json", "{\"id\":1}") ==
        "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{\"id\":1}");
  CHECK(make_response(200, "", "", false, {{"X-A", "1"}}, 0) ==
        "HTTP/1.0 200 OK\r\nX-A: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  const std::string e = make_error_response(413, "body exceeds 1048576 bytes", false);
  CHECK(e ==
        "HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 50\r\n"
        "Connection: close\r\n\r\n413 Payload Too Large: body exceeds 1048576 bytes\n");
  const std::string n = make_error_response(405, "", true, {{"Allow", "GET, HEAD"}});
  CHECK(n.find("Allow: GET, HEAD\r\n") != std::string::npos);
  CHECK(n.substr(n.find("\r\n\r\n") + 4) == "405 Method Not Allowed\n");
  CHECK(n.find("Connection") == std::string::npos);
}

TEST_CASE("http response: chunks", "[http][response]") {
  std::string out;
  append_chunk(out, "hello");
  append_chunk(out, "");  // nothing: an empty chunk would end the body
  append_chunk(out, std::string(255, 'x'));
  out += last_chunk;
  CHECK(out == "5\r\nhello\r\nff\r\n" + std::string(255, 'x') + "\r\n0\r\n\r\n");
}

TEST_CASE("http response: header injection is refused", "[http][response]") {
  std::string out;
  ResponseHead h;
  h.headers = {{"X-A", "ok\r\nSet-Cookie: evil"}};
  CHECK_THROWS_AS(write_head(out, h), std::invalid_argument);
  h.headers = {{"X-A\n", "v"}};
  CHECK_THROWS_AS(write_head(out, h), std::invalid_argument);
  h.headers = {{"", "v"}};
  CHECK_THROWS_AS(write_head(out, h), std::invalid_argument);
  h.headers = {};
  h.status = 42;
  CHECK_THROWS_AS(write_head(out, h), std::invalid_argument);
}

TEST_CASE("http response: a chunked response reads back through a parser of requests' framing", "[http][response]") {
  // The chunk framing we write is the framing the request parser accepts.
  std::string req = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  append_chunk(req, "abc");
  append_chunk(req, std::string(300, 'y'));
  req += last_chunk;
  RequestParser p;
  auto r = p.feed(req);
  REQUIRE(r.status == RequestParser::Status::complete);
  CHECK(p.request().body() == "abc" + std::string(300, 'y'));
}
