// The real MasqueradeEdge: table `inet routelet` through common/nft.
#pragma once

#include "common/nft/kernel_table_edge.h"
#include "controller/masquerade/rules.h"

namespace routelet::masquerade {

class KernelMasqueradeEdge : public nft::KernelTableEdge {
 public:
  KernelMasqueradeEdge() : KernelTableEdge(kMasqueradeTable) {}
};

}  // namespace routelet::masquerade
