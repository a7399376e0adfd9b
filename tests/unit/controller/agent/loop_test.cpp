// The loop alone, with controllers that only record what it hands them: when it makes
// targeted and whole passes, in which order it syncs, and that a controller registered
// there needs nothing else of it.
#include <gtest/gtest.h>

#include "controller/agent/agent.h"

namespace routelet::agent {
namespace {

model::Node peer(const std::string& name, const std::string& cidr) {
  model::Node n;
  n.name = name;
  n.podCIDRs = {*ip::Prefix::parse(cidr)};
  return n;
}

class Recorder : public Controller {
 public:
  Recorder(std::string name, std::vector<std::string>& log) : name_(std::move(name)), log_(log) {}
  Wake nodeChanged(const model::NodeCache&, const model::Node*, const model::Node* after) override {
    seen.push_back(after ? after->name : "-");
    return answer;
  }
  Wake kernelEvent(const netlink::Event&, const model::NodeCache&) override { return answer; }
  std::optional<Clock::time_point> dueAt() const override { return due; }
  void sync(Pass& pass) override {
    log_.push_back(name_ + (pass.whole ? " whole" : " targeted"));
    if (!pass.whole && askWhole) pass.wantWhole = true;
    if (pass.whole && !notReady.empty()) pass.notReady.push_back(notReady);
  }

  Wake answer = Wake::kNo;
  bool askWhole = false;
  std::optional<Clock::time_point> due;
  std::string notReady;
  std::vector<std::string> seen;

 private:
  std::string name_;
  std::vector<std::string>& log_;
};

class LoopTest : public ::testing::Test {
 protected:
  std::vector<std::string> log_;
  Recorder first_{"first", log_};
  Recorder second_{"second", log_};
  Metrics metrics_;
  Agent loop_{{"self"}, {&first_, &second_}, metrics_};
};

TEST_F(LoopTest, SyncsInRegistrationOrderAndTheFirstPassIsWhole) {
  loop_.nodesListed({peer("self", "10.244.1.0/24")});
  loop_.pass();
  EXPECT_EQ(log_, (std::vector<std::string>{"first whole", "second whole"}));
}

TEST_F(LoopTest, ATargetedWakeGetsATargetedPassAndAWholeOneWhenAControllerCannotDecide) {
  loop_.nodesListed({peer("self", "10.244.1.0/24")});
  loop_.pass();
  log_.clear();
  first_.answer = Wake::kSoon;
  loop_.nodeUpserted(peer("b", "10.244.2.0/24"));
  EXPECT_EQ(first_.seen, std::vector<std::string>{"b"});
  EXPECT_EQ(second_.seen, std::vector<std::string>{"b"});  // every controller hears it
  loop_.pass();
  EXPECT_EQ(log_, (std::vector<std::string>{"first targeted", "second targeted"}));
  log_.clear();
  second_.askWhole = true;
  loop_.nodeUpserted(peer("c", "10.244.3.0/24"));
  loop_.pass();
  EXPECT_EQ(log_, (std::vector<std::string>{"first targeted", "second targeted", "first whole",
                                            "second whole"}));
}

TEST_F(LoopTest, PeersAreHandedOverOnlyWhenRoutingFieldsChangeTheOwnNodeAlways) {
  loop_.nodesListed({peer("self", "10.244.1.0/24"), peer("b", "10.244.2.0/24")});
  auto b = peer("b", "10.244.2.0/24");
  b.resourceVersion = "2";  // a heartbeat: nothing routing reads
  loop_.nodeUpserted(b);
  auto self = peer("self", "10.244.1.0/24");
  self.resourceVersion = "2";
  loop_.nodeUpserted(self);
  EXPECT_EQ(first_.seen, std::vector<std::string>{"self"});
}

TEST_F(LoopTest, AControllersDueTimeMakesAWholePassAndReadinessCollectsItsReason) {
  loop_.nodesListed({peer("self", "10.244.1.0/24")});
  second_.notReady = "second is not there yet";
  loop_.pass();
  EXPECT_FALSE(loop_.health().ready);
  EXPECT_EQ(loop_.health().notReadyReason, "second is not there yet");
  log_.clear();
  first_.due = Clock::now();
  first_.answer = Wake::kSoon;
  loop_.nodeUpserted(peer("b", "10.244.2.0/24"));
  second_.notReady.clear();
  loop_.pass();
  EXPECT_EQ(log_, (std::vector<std::string>{"first whole", "second whole"}));
  EXPECT_TRUE(loop_.health().ready);
}

TEST_F(LoopTest, NotReadyUntilTheFirstCompleteList) {
  loop_.pass();
  EXPECT_FALSE(loop_.health().ready);
  EXPECT_EQ(loop_.health().notReadyReason, "waiting for the first Node list");
}

}  // namespace
}  // namespace routelet::agent
