// payments: a payment provider's webhook confirms an order; the admin
// dashboard updates live over Server-Sent Events.
//
// The scenario: a shop's admin dashboard shows orders. A customer pays; the
// payment provider (Stripe, Adyen, ... here a simulator in this program) POSTs
// a signed webhook to the shop. The shop proves the webhook came from the
// provider, processes each webhook once however often the provider retries,
// confirms the order, and every open dashboard shows it at once.
//
// What it shows
//   - POST /webhooks/payments: herald::webhook::verify_standard (Standard
//     Webhooks: HMAC-SHA256 over id.timestamp.body, timestamp within 5 min)
//     and herald::webhook::RecentIds (a retried webhook-id is acknowledged,
//     not processed twice), then the order table is updated
//   - a user struct published as is: herald::Broadcaster<shop::Order>, the
//     bytes made by an ADL `herald_encode(const Order&)` found next to Order
//   - GET /sse/orders: the dashboard replays the order events from id 0 (so
//     it needs no separate snapshot and cannot miss an update between the two)
//     and stays live; GET /log/deliveries: what the webhook endpoint decided
//   - a provider simulator: signs webhooks with the shared secret and sends
//     them to this server with herald's HTTP client (the page's buttons, or
//     --simulate); it can also retry a webhook and forge one
//
// Run
//   build/ex/examples/payments --port 8080                then open http://127.0.0.1:8080/
//   build/ex/examples/payments --port 8080 --simulate     (the provider pays every order, retries one, forges one)
//   curl -i -d '{}' http://127.0.0.1:8080/webhooks/payments   (400: not a signed webhook)
// Flags: --port N (0 picks one), --secret whsec_... (shared with the provider;
//        default: a fresh one, printed), --simulate
#include <herald/core/json.hpp>
#include <herald/http/client.hpp>
#include <herald/sse/policy.hpp>
#include <herald/webhook/signature.hpp>
#include <herald/webhook/verifier.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <span>
#include <string>
#include <tuple>

namespace shop {

/// An order as the shop keeps it, and as the dashboard receives it.
struct Order {
  int id = 0;
  std::string customer, item;
  long amount_cents = 0;
  std::string status = "pending";  // pending -> paid
  std::string payment_id{};        // the provider's, once paid
};

/// The bytes of an Order event (JSON). herald finds this by ADL when a
/// Broadcaster<Order> publishes: no registration, no base class.
std::string herald_encode(const Order& o) {
  std::string s = "{\"id\":" + std::to_string(o.id) + ",\"customer\":\"";
  herald::json::append_escaped(s, o.customer);
  s += "\",\"item\":\"";
  herald::json::append_escaped(s, o.item);
  s += "\",\"amount_cents\":" + std::to_string(o.amount_cents) + ",\"status\":\"" + o.status + "\",\"payment_id\":\"";
  herald::json::append_escaped(s, o.payment_id);
  return s + "\"}";
}

}  // namespace shop

namespace {

using namespace std::chrono_literals;
namespace wh = herald::webhook;
constexpr auto use_nothrow = asio::experimental::as_tuple(asio::use_awaitable);

const char* page = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>herald · payments</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; max-width: 820px; margin: 32px auto; color: #1d2330; background: #f4f5f7; }
  h1 { font-size: 20px; } h2 { font-size: 15px; margin: 22px 0 8px; } .muted { color: #6b7280; font-size: 13px; }
  table { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid #e3e6ea; }
  td, th { padding: 8px 10px; border-bottom: 1px solid #eef0f3; text-align: left; } th { color: #6b7280; font-weight: 500; font-size: 13px; }
  td.amount { text-align: right; font-variant-numeric: tabular-nums; } td.pay { font: 12px monospace; color: #6b7280; }
  .badge { padding: 2px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; }
  .pending { background: #fff4d6; color: #8a5a00; } .paid { background: #d9f5ea; color: #0b6b52; }
  tr.flash { animation: flash 1.2s; } @keyframes flash { from { background: #d9f5ea; } to { background: #fff; } }
  ol { list-style: none; padding: 0; background: #fff; border: 1px solid #e3e6ea; border-radius: 10px; min-height: 60px; font-size: 13px; }
  ol li { padding: 6px 12px; border-bottom: 1px solid #eef0f3; } ol li b { display: inline-block; min-width: 80px; }
  li.accepted b { color: #0b6b52; } li.duplicate b { color: #8a5a00; } li.rejected b { color: #b42318; } li.ignored b { color: #6b7280; }
  .sim { background: #eef2ff; border: 1px dashed #a5b4fc; border-radius: 10px; padding: 10px 14px; }
  button { padding: 5px 12px; border: 0; border-radius: 7px; background: #4f46e5; color: #fff; font-weight: 600; cursor: pointer; }
  button.alt { background: #e0e7ff; color: #3730a3; }
</style></head><body>
<h1>Orders · admin <span class="muted" id="state">connecting…</span></h1>
<p class="muted">Live over SSE (<code>/sse/orders</code>). An order turns <em>paid</em> when the payment provider's signed webhook reaches <code>POST /webhooks/payments</code>.</p>
<table><thead><tr><th>order</th><th>customer</th><th>item</th><th style="text-align:right">amount</th><th>status</th><th>payment</th><th>provider simulator</th></tr></thead>
<tbody id="orders"></tbody></table>
<h2>Webhooks received</h2>
<ol id="log"></ol>
<div class="sim"><b>Provider simulator</b> <span class="muted">(stands in for the payment provider: signs with the shared secret and POSTs to this server)</span><br><br>
  <button class="alt" id="retry">Provider retries the last webhook</button>
  <button class="alt" id="forged">Send a forged webhook</button>
  <button class="alt" id="neworder">A customer places an order</button>
</div>
<script>
  const $ = (id) => document.getElementById(id);
  const money = (c) => '€' + (c / 100).toFixed(2);
  const sim = (path) => fetch(path, { method: 'POST' });
  // One event per order change: the last event of an order is its state.
  function upsert(o) {
    let tr = document.querySelector(`#orders tr[data-id="${o.id}"]`);
    const isNew = !tr;
    if (isNew) { tr = document.createElement('tr'); tr.dataset.id = o.id; }
    tr.innerHTML = '<td></td><td></td><td></td><td class="amount"></td><td><span class="badge"></span></td><td class="pay"></td><td></td>';
    const td = tr.children;
    td[0].textContent = '#' + o.id; td[1].textContent = o.customer; td[2].textContent = o.item;
    td[3].textContent = money(o.amount_cents);
    td[4].firstChild.textContent = o.status; td[4].firstChild.className = 'badge ' + o.status;
    td[5].textContent = o.payment_id;
    if (o.status === 'pending') {
      const b = document.createElement('button'); b.textContent = 'Customer pays'; b.className = 'payBtn';
      b.onclick = () => sim(`/simulate/pay/${o.id}`); td[6].append(b);
    }
    tr.dataset.status = o.status;
    if (isNew) {  // keep the table ordered by order id
      const after = [...$('orders').children].find((r) => Number(r.dataset.id) > o.id);
      $('orders').insertBefore(tr, after ?? null);
    } else { tr.classList.remove('flash'); void tr.offsetWidth; tr.classList.add('flash'); }
  }
  const orders = new EventSource('/sse/orders?lastEventId=0');
  orders.onopen = () => { $('state').textContent = 'live'; };
  orders.onerror = () => { $('state').textContent = 'reconnecting…'; };
  orders.onmessage = (e) => upsert(JSON.parse(e.data));
  const log = new EventSource('/log/deliveries?lastEventId=0');
  log.onmessage = (e) => {
    const d = JSON.parse(e.data), li = document.createElement('li');
    li.className = d.verdict; li.dataset.id = e.lastEventId;
    li.innerHTML = '<b></b> <span></span>';
    li.firstChild.textContent = d.verdict; li.lastChild.textContent = `${d.webhook_id} · ${d.detail}`;
    $('log').prepend(li);
  };
  $('retry').onclick = () => sim('/simulate/retry');
  $('forged').onclick = () => sim('/simulate/forged');
  $('neworder').onclick = () => sim('/orders');
</script></body></html>)html";

/// The shop: its orders, the webhook ids it has processed, and the two
/// topics the dashboard reads. Touched on the server's one event-loop thread
/// only (routes and coroutines alike), so it needs no lock.
struct Shop {
  std::map<int, shop::Order> orders;
  herald::Broadcaster<shop::Order> order_events{herald::HubOptions{.history = {.max_events = 10000}}};
  herald::Broadcaster<std::string> delivery_log{herald::HubOptions{.history = {.max_events = 1000}}};
  wh::Secret secret;       // shared with the provider, out of band
  wh::RecentIds processed; // webhook-ids already handled: 10,000 ids, 10 minutes

  void add_order(shop::Order o) {
    orders[o.id] = o;
    order_events.publish("orders", o);
  }
  void log(std::string_view verdict, std::string_view webhook_id, std::string_view detail) {
    std::string s = "{\"verdict\":\"" + std::string(verdict) + "\",\"webhook_id\":\"";
    herald::json::append_escaped(s, webhook_id);
    s += "\",\"detail\":\"";
    herald::json::append_escaped(s, detail);
    delivery_log.publish("deliveries", s + "\"}");
    std::cout << verdict << ' ' << webhook_id << ": " << detail << std::endl;
  }

  /// POST /webhooks/payments, as the provider calls it.
  void on_webhook(herald::Exchange& ex) {
    const auto& req = ex.request();
    const auto now = std::chrono::system_clock::now();
    const auto headers = wh::StandardHeaders::from(req);
    const std::string webhook_id(headers.id.value_or("(no webhook-id)"));

    // 1. Is it the provider? The signature covers id, timestamp and the raw
    // body, so nothing can be altered; the timestamp bounds replays to 5 min.
    if (auto ec = wh::verify_standard(headers, req.body(), std::span(&secret, 1), now)) {
      log("rejected", webhook_id, ec.message());
      return ex.respond_error(ec == herald::error::webhook_missing_header ? 400 : 401, ec.message());
    }
    // 2. Seen before? Providers deliver at least once: a retry after a lost
    // answer carries the same webhook-id. Acknowledge it, do nothing again.
    // (Only after verifying, so forgeries cannot fill the cache.)
    if (processed.seen_or_insert(webhook_id, now)) {
      log("duplicate", webhook_id, "already processed: acknowledged, not applied again");
      return ex.respond(200, "application/json", R"({"duplicate":true})");
    }
    // 3. Apply it. An answer in 2xx tells the provider to stop retrying, so a
    // webhook we understand but cannot apply is acknowledged and logged.
    auto doc = herald::json::parse(req.body());
    const herald::json::Value* data = doc ? doc->find("data") : nullptr;
    auto order_id = data && data->find("order_id") ? data->find("order_id")->as_int64() : std::nullopt;
    auto amount = data && data->find("amount_cents") ? data->find("amount_cents")->as_int64() : std::nullopt;
    const std::string* payment = data && data->find("payment_id") ? data->find("payment_id")->as_string() : nullptr;
    if (!order_id || !amount || !payment) {
      log("ignored", webhook_id, "not a payment we understand");
      return ex.respond(200, "application/json", R"({"ignored":true})");
    }
    auto it = orders.find(static_cast<int>(*order_id));
    if (it == orders.end() || it->second.status != "pending" || it->second.amount_cents != *amount) {
      log("ignored", webhook_id, "order #" + std::to_string(*order_id) + ": unknown, already paid, or another amount");
      return ex.respond(200, "application/json", R"({"ignored":true})");
    }
    it->second.status = "paid";
    it->second.payment_id = *payment;
    order_events.publish("orders", it->second);  // every dashboard shows it now
    log("accepted", webhook_id, "order #" + std::to_string(*order_id) + " paid (" + *payment + ")");
    ex.respond(200, "application/json", R"({"duplicate":false})");
  }
};

/// The payment provider, simulated: signs a webhook as a provider does and
/// POSTs it to the shop. Not part of a real shop; it makes the demo complete.
class Provider {
 public:
  Provider(asio::any_io_executor ex, wh::Secret secret) : client_(ex), secret_(std::move(secret)) {}

  /// Where the shop listens (known once the server started).
  void set_shop_port(unsigned short port) {
    target_ = {.host = "127.0.0.1", .port = port, .addresses = {{asio::ip::make_address("127.0.0.1"), port}}};
  }

  /// A customer paid `order`: send `payment.succeeded`.
  asio::awaitable<void> pay(shop::Order order) {  // by value: a coroutine outlives its caller's references
    last_id_ = "msg_" + std::to_string(++sent_) + "_" + std::to_string(std::time(nullptr));
    last_body_ = R"({"type":"payment.succeeded","data":{"order_id":)" + std::to_string(order.id) +
                 R"(,"amount_cents":)" + std::to_string(order.amount_cents) + R"(,"payment_id":"pay_)" +
                 std::to_string(4700 + sent_) + R"("}})";
    co_await send(last_id_, last_body_, secret_);
  }
  /// The provider did not get our answer in time and sends the same webhook
  /// again: same webhook-id, a new timestamp and signature.
  asio::awaitable<void> retry() {
    if (!last_id_.empty()) co_await send(last_id_, last_body_, secret_);
  }
  /// Someone who does not know the secret tries to confirm order 1003.
  asio::awaitable<void> forge() {
    co_await send("msg_forged_" + std::to_string(++sent_),
                  R"({"type":"payment.succeeded","data":{"order_id":1003,"amount_cents":2599,"payment_id":"pay_fake"}})",
                  wh::Secret::generate());
  }

 private:
  asio::awaitable<void> send(std::string id, std::string body, wh::Secret key) {
    const auto ts = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
    herald::http::ClientRequest req{.method = "POST", .target = "/webhooks/payments",
                                    .headers = {{"Content-Type", "application/json"},
                                                {"webhook-id", id},
                                                {"webhook-timestamp", std::to_string(ts)},
                                                {"webhook-signature", wh::sign(id, ts, body, key)}},
                                    .body = body};
    auto [ec, res] = co_await client_.async_request(target_, std::move(req), use_nothrow);
    if (ec) std::cerr << "provider: " << ec.message() << std::endl;
  }

  herald::http::Client client_;
  wh::Secret secret_;
  herald::http::ClientTarget target_;
  std::string last_id_, last_body_;
  unsigned sent_ = 0;
};

// --simulate: the provider pays every pending order, one a second, then
// retries the last webhook and sends a forged one.
asio::awaitable<void> simulate(Shop& shop, Provider& provider, asio::steady_timer& timer) {
  auto tick = [&]() -> asio::awaitable<bool> {
    timer.expires_after(1s);
    auto [ec] = co_await timer.async_wait(use_nothrow);
    co_return !ec;  // false: cancelled, the server is stopping
  };
  for (auto& [id, order] : shop.orders) {
    if (!co_await tick()) co_return;
    if (order.status == "pending") co_await provider.pay(order);
  }
  if (!co_await tick()) co_return;
  co_await provider.retry();
  co_await provider.forge();
}

}  // namespace

int main(int argc, char** argv) {
  unsigned short port = 8080;
  std::string secret_text;
  bool simulated = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--port") && i + 1 < argc) port = static_cast<unsigned short>(std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--secret") && i + 1 < argc) secret_text = argv[++i];
    else if (!std::strcmp(argv[i], "--simulate")) simulated = true;
  }

  Shop shop;
  std::error_code ec;
  shop.secret = secret_text.empty() ? wh::Secret::generate() : wh::Secret::parse(secret_text, ec);
  if (ec) {
    std::cerr << "payments: bad --secret (expected whsec_<base64>)\n";
    return 2;
  }
  int next_order = 1001;
  for (auto [customer, item, cents] : {std::tuple{"Ada Lovelace", "Mechanical keyboard", 12900L},
                                       std::tuple{"Grace Hopper", "USB-C dock", 8450L},
                                       std::tuple{"Linus Torvalds", "Penguin plush", 2599L},
                                       std::tuple{"Barbara Liskov", "Standing desk", 41900L}})
    shop.add_order({.id = next_order++, .customer = customer, .item = item, .amount_cents = cents});

  herald::Server server({.port = port, .threads = 1});
  server.route("POST", "/webhooks/payments", [&](herald::Exchange& ex) { shop.on_webhook(ex); });
  server.sse("/sse/{topic}", shop.order_events, {});
  server.sse("/log/{topic}", shop.delivery_log, {});
  server.route("GET", "/", [](herald::Exchange& ex) { ex.respond(200, "text/html; charset=utf-8", page); });

  // The simulator's routes, for the page's buttons: the provider acts on the
  // loop (a coroutine each); the page sees the outcome on its streams.
  Provider provider(server.context().get_executor(), shop.secret);
  auto act = [&](asio::awaitable<void> a) { asio::co_spawn(server.context(), std::move(a), asio::detached); };
  server.route("POST", "/simulate/pay/{order}", [&](herald::Exchange& ex) {
    auto it = shop.orders.find(std::atoi(std::string(ex.param("order")).c_str()));
    if (it == shop.orders.end()) return ex.respond_error(404, "no such order");
    act(provider.pay(it->second));
    ex.respond(202, "application/json", "{}");
  });
  server.route("POST", "/simulate/retry", [&](herald::Exchange& ex) {
    act(provider.retry());
    ex.respond(202, "application/json", "{}");
  });
  server.route("POST", "/simulate/forged", [&](herald::Exchange& ex) {
    act(provider.forge());
    ex.respond(202, "application/json", "{}");
  });
  server.route("POST", "/orders", [&](herald::Exchange& ex) {  // a customer checks out
    const char* who[] = {"Edsger Dijkstra", "Margaret Hamilton", "Ken Thompson"};
    shop.add_order({.id = next_order, .customer = who[next_order % 3], .item = "Rubber duck", .amount_cents = 990});
    ex.respond(201, "application/json", "{\"id\":" + std::to_string(next_order++) + "}");
  });

  server.start();
  provider.set_shop_port(server.port());
  asio::steady_timer timer(server.context());
  if (simulated) asio::co_spawn(server.context(), simulate(shop, provider, timer), asio::detached);
  asio::signal_set signals(server.context(), SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code, int) {
    timer.cancel();
    server.stop();
  });
  std::cout << "payments listening on http://127.0.0.1:" << server.port() << "\nprovider secret: "
            << shop.secret.to_string() << std::endl;
  server.join();
}
