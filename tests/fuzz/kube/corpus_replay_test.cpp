// Replays tests/fuzz/kube/corpus through the fuzz entry points (naming: corpus_replay.h).
#include "tests/fuzz/support/corpus_replay.h"

#include "tests/fuzz/kube/fuzz_entries.h"

namespace routelet::kube::fuzz {
namespace {
using routelet::fuzz::CorpusReplay;
using routelet::fuzz::CorpusTarget;

INSTANTIATE_TEST_SUITE_P(
    Kube, CorpusReplay,
    testing::Values(CorpusTarget{"node", ROUTELET_FUZZ_CORPUS "/node", node, 1},
                    CorpusTarget{"node_list", ROUTELET_FUZZ_CORPUS "/node_list", nodeList, 1},
                    CorpusTarget{"watch_event", ROUTELET_FUZZ_CORPUS "/watch_event", watchStream,
                                 1},
                    CorpusTarget{"kubeconfig", ROUTELET_FUZZ_CORPUS "/kubeconfig", kubeconfig, 1}),
    routelet::fuzz::corpusName);

}  // namespace
}  // namespace routelet::kube::fuzz
