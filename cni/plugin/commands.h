// routelet-cni's verbs: ADD, DEL, CHECK, VERSION, GC, STATUS. Input is the parsed
// environment and the stdin text, output is the exit status and the one JSON document
// for stdout; kernel effects go through a Dataplane, addresses through the IPAM store.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "cni/config/env.h"
#include "cni/config/net_conf.h"
#include "cni/ipam/store.h"
#include "cni/plugin/dataplane.h"
#include "cni/plugin/result.h"

namespace routelet::cni::plugin {

struct Outcome {
  int exitCode = 0;
  std::string stdoutText;  // empty, a result, a VERSION answer or an error object
};

// Called once the config is parsed, before any work (main uses it to set up logging).
using ConfigHook = std::function<void(const config::NetConf&)>;

Outcome run(const config::Env& env, std::string_view stdinText, Dataplane& dataplane,
            const ConfigHook& onConfig = {});

// Pure pieces, exposed for tests.
AddResult buildAddResult(const config::NetConf& conf, const config::Env& env,
                         const AttachSpec& spec, const Attached& attached);
// CHECK: every way the kernel and the store differ from the ADD result; empty when none.
std::vector<std::string> checkDifferences(const AddResult& prev, const config::Env& env,
                                          const PodView& view,
                                          const std::vector<ip::Address>& leases);
// GC's valid list from cni.dev/valid-attachments and cni.dev/attachments (the 1.1.0 tag's
// name; libcni sends both). nullopt when neither key is present. Error code 7 when malformed.
Result<std::optional<std::vector<ipam::Attachment>>> gcValidList(const nlohmann::json& doc);

}  // namespace routelet::cni::plugin
