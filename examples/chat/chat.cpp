// chat: chat rooms over WebSocket, with ids and resume (herald.v1).
//
// What it shows
//   - herald::Server with one WebSocket route, GET /ws/{topic}: each room is a
//     topic; a socket subscribes to its room, and each message a client sends
//     is checked, stamped and published to that room, reaching every member
//     (the sender included: everyone sees one order, the server's)
//   - the `herald.v1` subprotocol: every event arrives as {"id":N,"data":"..."}
//     so the page keeps a cursor per room, and ?after=N on (re)connect replays
//     exactly what it missed: switch rooms and come back, or drop the
//     connection, and nothing is lost or shown twice
//   - a page with a room selector; a reconnect loop with backoff
//
// Run
//   build/ex/examples/chat --port 8080          then open http://127.0.0.1:8080/ in two windows
//   websocat -H 'Sec-WebSocket-Protocol: herald.v1' 'ws://127.0.0.1:8080/ws/general?after=0'
// Flags: --port N (0 picks one)
#include <herald/core/json.hpp>
#include <herald/websocket/policy.hpp>

#include <asio/signal_set.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace {

const char* page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herald · chat</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 720px; margin: 32px auto; color: #1d2330; background: #f4f5f7; }
  h1 { font-size: 20px; } .muted { color: #6b7280; font-size: 13px; }
  .rooms { display: flex; gap: 6px; margin-bottom: 10px; }
  .rooms button { background: #e6e9ee; color: #1d2330; } .rooms button.on { background: #1d4ed8; color: #fff; }
  ol { list-style: none; padding: 0; margin: 0; background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; min-height: 200px; }
  li { padding: 7px 12px; border-bottom: 1px solid #eef0f3; display: flex; gap: 10px; }
  li .id { color: #9aa1ab; font: 12px monospace; min-width: 30px; } li .from { font-weight: 600; min-width: 70px; }
  li.note { color: #c77c02; font-style: italic; font-size: 13px; }
  form { display: flex; gap: 8px; margin-top: 10px; } input { padding: 7px; border: 1px solid #cfd4da; border-radius: 7px; }
  input[name=text] { flex: 1; } input[name=name] { width: 90px; }
  button { padding: 7px 14px; border: 0; border-radius: 7px; background: #1d4ed8; color: #fff; font-weight: 600; cursor: pointer; }
</style></head><body>
<h1>Chat <span class="muted" id="state">connecting…</span></h1>
<p class="muted">WebSocket <code>/ws/{room}</code> with the <code>herald.v1</code> subprotocol: ids per room, <code>?after=N</code> resumes.</p>
<div class="rooms" id="rooms"></div>
<ol id="list"></ol>
<form id="f"><input name="name" value="Ada" aria-label="name"><input name="text" value="Hello!" aria-label="message"><button>Send</button></form>
<script>
  const $ = (id) => document.getElementById(id);
  const rooms = ['general', 'random', 'help'];
  // Per room: what was shown, and the cursor (the last id seen).
  const seen = Object.fromEntries(rooms.map((r) => [r, { cursor: 0, items: [] }]));
  let room = 'general', sock = null, backoff = 500;

  function render() {
    $('list').innerHTML = '';
    for (const it of seen[room].items) draw(it);
    for (const b of $('rooms').children) b.className = b.textContent === room ? 'on' : '';
  }
  function draw(it) {
    const li = document.createElement('li');
    if (it.note) { li.className = 'note'; li.textContent = it.note; }
    else {
      li.dataset.id = it.id;
      for (const [cls, text] of [['id', '#' + it.id], ['from', it.from], ['text', it.text]]) {
        const s = document.createElement('span'); s.className = cls; s.textContent = text; li.append(s);
      }
    }
    $('list').append(li);
  }
  function add(r, it) { seen[r].items.push(it); if (r === room) draw(it); }

  function connect() {
    const r = room;
    // Resume after the last id this page saw in the room (0: everything held).
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/${r}?after=${seen[r].cursor}`, 'herald.v1');
    sock = ws;
    ws.onopen = () => { $('state').textContent = `live in #${r}`; backoff = 500; };
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      if (m.reset) {  // the room's history moved past our cursor (or the server restarted)
        seen[r].cursor = m.next;
        return add(r, { note: 'some messages are no longer available' });
      }
      if (m.id <= seen[r].cursor) return;   // never show one twice
      seen[r].cursor = m.id;
      const msg = JSON.parse(m.data);
      add(r, { id: m.id, from: msg.from, text: msg.text });
    };
    ws.onclose = () => {
      if (sock !== ws) return;                 // we switched rooms on purpose
      $('state').textContent = 'reconnecting…';
      setTimeout(() => { if (sock === ws) connect(); }, backoff * (0.5 + Math.random() / 2));
      backoff = Math.min(backoff * 2, 10000);
    };
  }
  function enter(r) {
    if (sock) { const old = sock; sock = null; old.close(1000); }
    room = r; render(); connect();
  }
  for (const r of rooms) {
    const b = document.createElement('button'); b.textContent = r; b.onclick = () => enter(r); $('rooms').append(b);
  }
  $('f').onsubmit = (e) => {
    e.preventDefault();
    if (!sock || sock.readyState !== 1) return;
    sock.send(JSON.stringify({ from: e.target.name.value, text: e.target.text.value }));
  };
  enter(room);
</script></body></html>)html";

/// A client's message, checked and stamped: what the room receives. Only
/// what the server built goes out, never the client's bytes as they came.
std::string stamp(std::string_view payload) {
  auto doc = herald::json::parse(payload);
  const std::string* from = doc && doc->find("from") ? doc->find("from")->as_string() : nullptr;
  const std::string* text = doc && doc->find("text") ? doc->find("text")->as_string() : nullptr;
  if (!from || !text || from->empty() || text->empty() || from->size() > 40 || text->size() > 2000) return {};
  auto at = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::string out = "{\"from\":\"";
  herald::json::append_escaped(out, *from);
  out += "\",\"text\":\"";
  herald::json::append_escaped(out, *text);
  return out + "\",\"at\":" + std::to_string(at) + "}";
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 8080;
  for (int i = 1; i + 1 < argc; i += 2)
    if (!std::strcmp(argv[i], "--port")) port = static_cast<unsigned short>(std::atoi(argv[i + 1]));

  // The last 500 messages of each room: what a newcomer (after=0) or a
  // returning member (after=N) can be given.
  herald::HubOptions ho;
  ho.history.max_events = 500;
  herald::Broadcaster<std::string> hub(ho);

  herald::Server server({.port = port, .threads = 1});
  herald::WebSocketOptions chat;
  chat.subprotocols = {std::string(herald::WebSocketPolicy::herald_v1)};  // ids and resets; plain frames otherwise
  chat.on_message = [&](herald::WebSocketPolicy& ws, herald::websocket::Opcode op, std::string_view payload) {
    if (op != herald::websocket::Opcode::text) return ws.close(1003, "text messages only");
    std::string msg = stamp(payload);
    if (msg.empty()) return ws.close(1007, "expected {\"from\":\"...\",\"text\":\"...\"}");
    hub.publish(ws.topic(), std::move(msg));  // the room; the sender gets it back with its id
  };
  server.websocket("/ws/{topic}", hub, chat);  // {topic}: the room
  server.route("GET", "/", [](herald::Exchange& ex) { ex.respond(200, "text/html; charset=utf-8", page); });

  server.start();
  // Ctrl-C / SIGTERM: sockets are closed with 1001 (going away), then exit.
  asio::signal_set signals(server.context(), SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) { server.stop(); });
  std::cout << "chat listening on http://127.0.0.1:" << server.port() << std::endl;
  server.join();
}
