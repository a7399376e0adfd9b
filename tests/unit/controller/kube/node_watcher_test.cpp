#include "controller/kube/node_watcher.h"

#include <gtest/gtest.h>

#include "controller/kube/fake_api_client.h"

namespace routelet::kube {
namespace {

using std::chrono::milliseconds;
using testing::FakeApiClient;
using namespace std::chrono_literals;

model::Node node(const std::string& name, const std::string& rv) {
  model::Node n;
  n.name = name;
  n.resourceVersion = rv;
  return n;
}

WatchEvent event(WatchEventType type, const std::string& name, const std::string& rv) {
  WatchEvent ev;
  ev.type = type;
  ev.node = node(name, rv);
  return ev;
}

WatchEvent bookmark(const std::string& rv) {
  return event(WatchEventType::kBookmark, "", rv);
}

WatchEvent errorEvent(int code, const std::string& message) {
  WatchEvent ev;
  ev.type = WatchEventType::kError;
  ev.errorCode = code;
  ev.errorMessage = message;
  return ev;
}

WatchEvent gone() {
  return errorEvent(410, "too old resource version");
}

WatchEvent serverError() {
  return errorEvent(500, "Internal error occurred");
}

// Runs a NodeWatcher against the fake, recording callbacks and requested sleeps.
class NodeWatcherTest : public ::testing::Test {
 protected:
  void start() {
    NodeWatcherOptions opts;
    opts.uniform01 = [] { return 0.5; };  // no jitter: delays are exact
    opts.now = [this] { return api_.now(); };
    opts.sleep = [this](milliseconds d) {
      std::lock_guard lock(mu_);
      sleeps_.push_back(d.count());
      return true;
    };
    NodeWatcherCallbacks cb;
    cb.onSynced = [this](std::vector<model::Node>&& nodes) {
      std::lock_guard lock(mu_);
      std::vector<std::string> names;
      for (const auto& n : nodes) names.push_back(n.name);
      synced_.push_back(names);
    };
    cb.onEvent = [this](WatchEventType t, const model::Node& n) {
      std::lock_guard lock(mu_);
      events_.push_back(std::string(watchEventTypeName(t)) + " " + n.name + "@" +
                        n.resourceVersion);
    };
    watcher_ = std::make_unique<NodeWatcher>(api_, std::move(cb), opts);
    watcher_->start();
  }
  void TearDown() override {
    if (watcher_) watcher_->stop();
  }
  std::vector<std::string> watchRVs() const {
    std::vector<std::string> out;
    for (const auto& c : api_.watchCalls()) out.push_back(c.resourceVersion);
    return out;
  }
  std::vector<int64_t> sleeps() {
    std::lock_guard lock(mu_);
    return sleeps_;
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu_);
    return events_;
  }
  std::vector<std::vector<std::string>> synced() {
    std::lock_guard lock(mu_);
    return synced_;
  }

  FakeApiClient api_;
  std::unique_ptr<NodeWatcher> watcher_;
  std::mutex mu_;
  std::vector<int64_t> sleeps_;
  std::vector<std::string> events_;
  std::vector<std::vector<std::string>> synced_;
};

TEST_F(NodeWatcherTest, ListsThenWatchesFromTheListResourceVersion) {
  api_.pushList({{node("a", "5"), node("b", "6")}, "10"});
  api_.pushWatch(
      {{event(WatchEventType::kAdded, "c", "11"), event(WatchEventType::kModified, "a", "12"),
        event(WatchEventType::kDeleted, "b", "13")}});
  start();
  api_.waitIdle();
  EXPECT_TRUE(watcher_->synced());
  EXPECT_EQ(synced(), (std::vector<std::vector<std::string>>{{"a", "b"}}));
  EXPECT_EQ(events(), (std::vector<std::string>{"ADDED c@11", "MODIFIED a@12", "DELETED b@13"}));
  EXPECT_EQ(watchRVs(), (std::vector<std::string>{"10", "13"}));
  EXPECT_EQ(api_.watchCalls()[0].timeoutSeconds, 450) << "300 + 0.5 * (600 - 300 + 1)";
  EXPECT_EQ(api_.listCalls(), 1);
  EXPECT_EQ(sleeps(), (std::vector<int64_t>{200})) << "events are no proof of a healthy watch";
  auto st = watcher_->stats();
  EXPECT_EQ(st.events, 3u);
  EXPECT_EQ(st.resourceVersion, "13");
}

TEST_F(NodeWatcherTest, NotSyncedUntilAListSucceeds) {
  api_.pushList({{}, "", ApiStatus::failure(500, "boom")});
  start();
  api_.waitIdle();
  EXPECT_FALSE(watcher_->synced());
  EXPECT_TRUE(synced().empty());
  EXPECT_EQ(sleeps(), (std::vector<int64_t>{200}));
  EXPECT_TRUE(api_.watchCalls().empty());
  api_.pushList({{node("a", "1")}, "2"});
  api_.waitIdle();
  EXPECT_TRUE(watcher_->synced());
  EXPECT_EQ(watchRVs(), (std::vector<std::string>{"2"}));
  EXPECT_EQ(watcher_->stats().listFailures, 1u);
}

TEST_F(NodeWatcherTest, BookmarksMoveTheResumePoint) {
  api_.pushList({{}, "10"});
  api_.pushWatch({{bookmark("20")}, ApiStatus::failure(0, "connection reset")});
  api_.pushWatch({{bookmark("30"), bookmark("31")}});
  start();
  api_.waitIdle();
  EXPECT_EQ(watchRVs(), (std::vector<std::string>{"10", "20", "31"}));
  EXPECT_TRUE(events().empty()) << "bookmarks are not Node events";
  EXPECT_EQ(api_.listCalls(), 1) << "a disconnect resumes, it does not relist";
}

TEST_F(NodeWatcherTest, ResumesFromLastEventAfterDisconnect) {
  api_.pushList({{node("a", "1")}, "10"});
  api_.pushWatch({{event(WatchEventType::kModified, "a", "15")},
                  ApiStatus::failure(0, "connection reset by peer")});
  start();
  api_.waitIdle();
  EXPECT_EQ(watchRVs(), (std::vector<std::string>{"10", "15"}));
  EXPECT_EQ(api_.listCalls(), 1);
  EXPECT_EQ(watcher_->stats().watchFailures, 1u);
}

TEST_F(NodeWatcherTest, ErrorEvent410Relists) {
  api_.pushList({{node("a", "1"), node("b", "2")}, "10"});
  api_.pushWatch({{event(WatchEventType::kAdded, "c", "11"), gone(),
                   event(WatchEventType::kAdded, "never", "99")}});
  api_.pushList({{node("a", "1"), node("c", "11"), node("d", "40")}, "50"});
  start();
  api_.waitIdle();
  EXPECT_EQ(synced(), (std::vector<std::vector<std::string>>{{"a", "b"}, {"a", "c", "d"}}));
  EXPECT_EQ(events(), (std::vector<std::string>{"ADDED c@11"}))
      << "events after ERROR are not delivered";
  EXPECT_EQ(watchRVs(), (std::vector<std::string>{"10", "50"}));
  EXPECT_EQ(api_.listCalls(), 2);
  EXPECT_EQ(watcher_->stats().expired, 1u);
}

TEST_F(NodeWatcherTest, Http410Relists) {
  api_.pushList({{}, "10"});
  api_.pushWatch({{}, ApiStatus::failure(410, "Gone")});
  api_.pushList({{node("x", "60")}, "60"});
  start();
  api_.waitIdle();
  EXPECT_EQ(api_.listCalls(), 2);
  EXPECT_EQ(watchRVs(), (std::vector<std::string>{"10", "60"}));
  EXPECT_EQ(sleeps(), (std::vector<int64_t>{200})) << "a 410 without progress is paced";
}

TEST_F(NodeWatcherTest, BackoffGrowsUntilAWatchStaysUp) {
  api_.pushList({{}, "10"});
  api_.pushWatch({{}, ApiStatus::failure(0, "connection refused")});
  api_.pushWatch({{event(WatchEventType::kAdded, "a", "11")}, ApiStatus::failure(0, "reset")});
  api_.pushWatch({{event(WatchEventType::kAdded, "b", "12")}, ApiStatus::success(200), 29s});
  api_.pushWatch({{}, ApiStatus::failure(0, "connection reset"), 30s});
  api_.pushWatch({{}, ApiStatus::failure(0, "connection refused")});
  start();
  api_.waitIdle();
  // 30 s up resets the backoff and reconnects at once, however that watch ended.
  EXPECT_EQ(sleeps(), (std::vector<int64_t>{200, 400, 800, 200}));
  EXPECT_EQ(watchRVs(), (std::vector<std::string>{"10", "10", "11", "12", "12", "12"}));
  EXPECT_EQ(api_.listCalls(), 1);
}

TEST_F(NodeWatcherTest, ServerTimeoutReconnectsAtOnce) {
  api_.pushList({{}, "10"});
  api_.pushWatch({{}, ApiStatus::failure(503, "unavailable")});
  api_.pushWatch({{}, ApiStatus::failure(503, "unavailable")});
  // The server ends a quiet watch at its timeoutSeconds (300-600 s): nothing is wrong.
  api_.pushWatch({{bookmark("20")}, ApiStatus::success(200), 450s});
  api_.pushWatch({{}, ApiStatus::success(200), 450s});
  api_.pushWatch({{}, ApiStatus::failure(503, "unavailable")});
  start();
  api_.waitIdle();
  EXPECT_EQ(sleeps(), (std::vector<int64_t>{200, 400, 200}));
  EXPECT_EQ(watcher_->stats().watchFailures, 3u);
}

// A BOOKMARK or an ERROR event is no proof of health: a server that sends one and hangs up
// must not be asked again at once (issue 23: 129 and 37 watches in 10 s).
TEST_F(NodeWatcherTest, ALoneBookmarkThenCloseBacksOff) {
  api_.pushList({{}, "10"});
  for (int i = 0; i < 3; ++i) api_.pushWatch({{bookmark(std::to_string(20 + i))}});
  start();
  api_.waitIdle();
  EXPECT_EQ(sleeps(), (std::vector<int64_t>{200, 400, 800}));
  EXPECT_EQ(watchRVs(), (std::vector<std::string>{"10", "20", "21", "22"}));
  EXPECT_EQ(watcher_->stats().watchFailures, 3u);
}

TEST_F(NodeWatcherTest, ErrorEventThenCloseBacksOff) {
  api_.pushList({{}, "10"});
  for (int i = 0; i < 3; ++i) api_.pushWatch({{serverError()}});
  start();
  api_.waitIdle();
  EXPECT_EQ(sleeps(), (std::vector<int64_t>{200, 400, 800}));
  EXPECT_EQ(api_.listCalls(), 1) << "only a 410 relists at once";
}

// client-go's reflector relists after a failed watch; routelet after a few in a row, so
// a watch that always fails cannot leave the cache frozen (issue 23: 1 LIST in 43 s).
TEST_F(NodeWatcherTest, RepeatedWatchFailuresRelist) {
  api_.pushList({{node("a", "1")}, "10"});
  for (int i = 0; i < 4; ++i) api_.pushWatch({{}, ApiStatus::failure(500, "internal error")});
  api_.pushList({{node("a", "1"), node("b", "15")}, "20"});
  api_.pushWatch({{}, ApiStatus::failure(500, "internal error")});
  start();
  api_.waitIdle();
  EXPECT_EQ(api_.listCalls(), 2);
  EXPECT_EQ(synced(), (std::vector<std::vector<std::string>>{{"a"}, {"a", "b"}}));
  EXPECT_EQ(watchRVs(), (std::vector<std::string>{"10", "10", "10", "10", "20", "20"}));
  // The relist does not reset the backoff: only a watch that stays up does.
  EXPECT_EQ(sleeps(), (std::vector<int64_t>{200, 400, 800, 1600, 3200}));
  auto st = watcher_->stats();
  EXPECT_EQ(st.failureRelists, 1u);
  EXPECT_EQ(st.watchFailures, 5u);
}

TEST_F(NodeWatcherTest, AHealthyWatchStartsTheFailureCountOver) {
  api_.pushList({{}, "10"});
  for (int i = 0; i < 3; ++i) api_.pushWatch({{}, ApiStatus::failure(500, "internal error")});
  api_.pushWatch({{}, ApiStatus::failure(0, "connection reset"), 60s});
  for (int i = 0; i < 3; ++i) api_.pushWatch({{}, ApiStatus::failure(500, "internal error")});
  start();
  api_.waitIdle();
  EXPECT_EQ(api_.listCalls(), 1) << "never 4 failed watches in a row";
  EXPECT_EQ(watcher_->stats().failureRelists, 0u);
}

TEST_F(NodeWatcherTest, RetryAfterIsHonoured) {
  api_.pushList({{}, "", ApiStatus::failure(429, "too many requests", std::chrono::seconds(7))});
  api_.pushList({{}, "10"});
  api_.pushWatch({{}, ApiStatus::failure(503, "unavailable", std::chrono::seconds(3))});
  start();
  api_.waitIdle();
  EXPECT_EQ(sleeps(), (std::vector<int64_t>{7000, 3000}));
}

TEST_F(NodeWatcherTest, NamelessNodesAreSkipped) {
  api_.pushList({{node("a", "1"), node("", "2")}, "10"});
  api_.pushWatch(
      {{event(WatchEventType::kAdded, "", "11"), event(WatchEventType::kAdded, "b", "12")}});
  start();
  api_.waitIdle();
  EXPECT_EQ(synced(), (std::vector<std::vector<std::string>>{{"a"}}));
  EXPECT_EQ(events(), (std::vector<std::string>{"ADDED b@12"}));
  EXPECT_EQ(watcher_->stats().resourceVersion, "12");
}

TEST(NodeWatcherStop, StopInterruptsABlockedWatch) {
  FakeApiClient api;
  api.pushList({{}, "10"});
  NodeWatcher w(api, {}, {});
  w.start();
  api.waitIdle();  // parked inside watchNodes, as a real watch on a quiet cluster
  w.stop();
  EXPECT_EQ(api.watchCalls().size(), 1u);
  EXPECT_EQ(api.requestCounts()[0], 1u) << "the parked watch returned cancelled";
}

TEST(NodeWatcherReconnect, EndsTheWatchInFlightAndResumesAtOnceFromItsVersion) {
  FakeApiClient api;
  api.pushList({{}, "10"});
  api.pushWatch({{event(WatchEventType::kAdded, "a", "11")}, ApiStatus::success(200), 300s});
  std::vector<std::chrono::milliseconds> slept;
  NodeWatcherOptions opts;
  opts.sleep = [&](std::chrono::milliseconds d) {
    slept.push_back(d);
    return true;
  };
  opts.now = [&api] { return api.now(); };
  NodeWatcher w(api, {}, opts);
  w.start();
  api.waitIdle();  // the second watch, from 11, parked as on a quiet cluster
  w.reconnect();
  while (api.watchCalls().size() < 3) std::this_thread::yield();
  api.waitIdle();
  auto calls = api.watchCalls();
  EXPECT_EQ(calls[1].resourceVersion, "11");
  EXPECT_EQ(calls[2].resourceVersion, "11") << "no relist: the version is still good";
  EXPECT_EQ(api.listCalls(), 1);
  EXPECT_TRUE(w.synced());
  w.stop();
  // The first watch ended at the server's timeout (reconnect at once); the reconnect
  // waited for nothing either.
  EXPECT_TRUE(slept.empty()) << slept.size() << " waits";
}

TEST(NodeWatcherStop, StopInterruptsTheBackoffSleep) {
  FakeApiClient api;
  api.pushList({{}, "", ApiStatus::failure(500, "boom")});
  NodeWatcherOptions opts;
  opts.backoff.initial = std::chrono::hours(1);
  opts.backoff.max = std::chrono::hours(1);
  NodeWatcher w(api, {}, opts);
  w.start();
  while (api.requestCounts()[500] == 0) std::this_thread::yield();
  w.stop();  // would hang for an hour if the sleep ignored stop()
  EXPECT_EQ(api.listCalls(), 1);
}

TEST(NodeWatcherTimeout, RandomisedWithinBounds) {
  for (double u : {0.0, 0.999999}) {
    FakeApiClient api;
    api.pushList({{}, "10"});
    NodeWatcherOptions opts;
    opts.uniform01 = [u] { return u; };
    NodeWatcher w(api, {}, opts);
    w.start();
    api.waitIdle();
    w.stop();
    EXPECT_EQ(api.watchCalls().at(0).timeoutSeconds, u == 0.0 ? 300 : 600);
  }
}

}  // namespace
}  // namespace routelet::kube
