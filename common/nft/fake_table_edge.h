// A TableEdge for unit tests: the scripts and element transactions it was given, in order,
// and failures on demand.
#pragma once

#include <cerrno>
#include <string>
#include <vector>

#include "common/nft/table_edge.h"

namespace routelet::nft {

class FakeTableEdge : public TableEdge {
 public:
  static constexpr uint32_t kPortId = 77;
  Status nft(const std::string& script) override {
    scripts.push_back(script);
    if (nftFailures > 0) {
      --nftFailures;
      return makeError("nftables: Error: Could not process rule: No such file or directory",
                       EINVAL);
    }
    return okStatus();
  }
  Status elements(const std::vector<SetChange>& changes) override {
    elementWrites.push_back(changes);
    if (elementFailures > 0) {
      --elementFailures;
      return makeError("add 1 elements to set: No such file or directory", ENOENT);
    }
    return okStatus();
  }
  Result<uint32_t> portId() override { return kPortId; }

  std::vector<std::string> scripts;                   // nft scripts run, in order
  int nftFailures = 0;                                // the next this many scripts fail
  std::vector<std::vector<SetChange>> elementWrites;  // element transactions, in order
  int elementFailures = 0;                            // the next this many transactions fail
};

}  // namespace routelet::nft
