// What the masquerade controller does to nftables: its table through a TableEdge
// (common/nft), the real one of table `inet routelet` or a fake.
#pragma once

#include "common/nft/table_edge.h"
#include "controller/masquerade/rules.h"

namespace routelet::masquerade {

using MasqueradeEdge = nft::TableEdge;

}  // namespace routelet::masquerade
