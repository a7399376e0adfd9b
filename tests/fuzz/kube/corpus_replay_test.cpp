// Replays the fuzz corpus through the fuzz entry points as a normal test. File names say
// what is expected: "ok-*" must be accepted, "bad-*" rejected, anything else (inputs a
// fuzzer found) only must not break an invariant.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/fuzz/kube/fuzz_entries.h"

namespace routelet::kube::fuzz {
namespace {

int replay(const std::string& dir, bool (*entry)(const uint8_t*, size_t)) {
  int files = 0;
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(ROUTELET_KUBE_CORPUS) + "/" + dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string data = ss.str();
    bool ok = entry(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    std::string name = e.path().filename();
    if (name.rfind("ok-", 0) == 0) {
      EXPECT_TRUE(ok) << e.path();
    } else if (name.rfind("bad-", 0) == 0) {
      EXPECT_FALSE(ok) << e.path();
    }
    ++files;
  }
  return files;
}

TEST(KubeFuzzCorpus, Node) {
  EXPECT_GT(replay("node", node), 0);
}
TEST(KubeFuzzCorpus, NodeList) {
  EXPECT_GT(replay("node_list", nodeList), 0);
}
TEST(KubeFuzzCorpus, WatchStream) {
  EXPECT_GT(replay("watch_event", watchStream), 0);
}
TEST(KubeFuzzCorpus, Kubeconfig) {
  EXPECT_GT(replay("kubeconfig", kubeconfig), 0);
}

}  // namespace
}  // namespace routelet::kube::fuzz
