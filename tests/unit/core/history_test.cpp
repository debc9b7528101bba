#include <herald/core/history.hpp>

#include <catch2/catch.hpp>

using namespace herald;

namespace {
EventPtr ev(std::uint64_t id, std::string data = "x", Clock::time_point t = Clock::time_point{}) {
  return std::make_shared<const Event>("t", id, std::move(data), "", t);
}
std::vector<std::uint64_t> ids(const Replay& r) {
  std::vector<std::uint64_t> v;
  for (auto& e : r.events) v.push_back(e->id());
  return v;
}
}  // namespace

TEST_CASE("history: cursor rules of CONTRACT.md", "[core][history]") {
  History h({.max_events = 3, .max_bytes = 1 << 20, .max_age = {}});
  Clock::time_point t{};
  for (std::uint64_t i = 1; i <= 5; ++i) h.push(ev(i), t);  // holds 3,4,5
  REQUIRE(h.first() == 3);
  REQUIRE(h.head() == 5);

  SECTION("0 means everything held, never a reset") {
    auto r = h.after(0);
    CHECK_FALSE(r.reset);
    CHECK(ids(r) == std::vector<std::uint64_t>{3, 4, 5});
  }
  SECTION("first-1 .. head: exactly the events after N") {
    CHECK(ids(h.after(2)) == std::vector<std::uint64_t>{3, 4, 5});
    CHECK_FALSE(h.after(2).reset);
    CHECK(ids(h.after(4)) == std::vector<std::uint64_t>{5});
    CHECK(h.after(5).events.empty());
    CHECK_FALSE(h.after(5).reset);
  }
  SECTION("older than the ring: reset, then everything from first") {
    auto r = h.after(1);
    CHECK(r.reset);
    CHECK(r.next == 2);
    CHECK(ids(r) == std::vector<std::uint64_t>{3, 4, 5});
  }
  SECTION("ahead of the head (server restarted): reset") {
    auto r = h.after(9);
    CHECK(r.reset);
    CHECK(r.next == 2);
    CHECK(ids(r) == std::vector<std::uint64_t>{3, 4, 5});
  }
  SECTION("limit") { CHECK(ids(h.after(0, 2)) == std::vector<std::uint64_t>{3, 4}); }
  SECTION("last n") {
    auto l = h.last(2);
    REQUIRE(l.size() == 2);
    CHECK(l[0]->id() == 4);
    CHECK(h.last(10).size() == 3);
  }
}

TEST_CASE("history: empty topic", "[core][history]") {
  History h;
  CHECK_FALSE(h.after(0).reset);
  CHECK(h.after(0).events.empty());
  auto r = h.after(7);  // ahead of head 0
  CHECK(r.reset);
  CHECK(r.next == 0);
}

TEST_CASE("history: bounded by bytes and age", "[core][history]") {
  Clock::time_point t0{};
  const std::size_t one = History::footprint(*ev(1, "aaaa", t0));
  History h({.max_events = 100, .max_bytes = 2 * one + one / 2, .max_age = std::chrono::seconds(60)});
  h.push(ev(1, "aaaa", t0), t0);
  h.push(ev(2, "bbbb", t0), t0);
  h.push(ev(3, "cccc", t0), t0);  // three footprints > 2.5: 1 leaves
  CHECK(h.first() == 2);
  CHECK(h.bytes() == 2 * one);
  h.trim(t0 + std::chrono::seconds(61));
  CHECK(h.size() == 0);
  CHECK(h.bytes() == 0);
  CHECK(h.first() == 4);  // ids keep growing; nothing held
  CHECK(h.after(3).events.empty());
  CHECK_FALSE(h.after(3).reset);
  CHECK(h.after(2).reset);
}

TEST_CASE("history: the byte bound counts what an event holds, not its data alone", "[core][history]") {
  const std::size_t empty = History::footprint(*ev(1, ""));
  CHECK(empty >= sizeof(Event));  // the event, its slots and their frames' overhead
  const std::size_t plain = History::footprint(*ev(1, std::string(1000, 'a')));
  CHECK(plain >= empty + 7 * 1000);  // seven frame kinds may each hold a copy
  // Content that grows when encoded grows the bound: SSE lines, JSON escapes.
  CHECK(History::footprint(*ev(1, std::string(1000, '\n'))) > plain + 2 * 5 * 1000);
  CHECK(History::footprint(*ev(1, std::string(1000, '"'))) > plain + 1000);
  // A long topic name and key are copies the event holds too.
  auto named = std::make_shared<const Event>(std::string(128, 't'), 1, std::string(1000, 'a'), std::string(64, 'k'));
  CHECK(History::footprint(*named) >= plain + 128 + 64);
  // A single event over max_bytes is not kept at all.
  History h({.max_events = 10, .max_bytes = plain - 1});
  h.push(ev(1, std::string(1000, 'a')), Clock::time_point{});
  CHECK(h.size() == 0);
  CHECK(h.head() == 1);
}
