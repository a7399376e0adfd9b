// A stateful in-memory Dataplane: host veths on bridges and pod interfaces per netns, with
// failure injection, so the command logic is tested without root.
#pragma once

#include <map>
#include <set>
#include <string>

#include "cni/config/codes.h"
#include "cni/plugin/dataplane.h"

namespace routelet::cni::plugin {

class FakeDataplane : public Dataplane {
 public:
  struct Pod {
    std::string hostVeth;
    std::string bridge;
    AttachSpec spec;
  };
  std::set<std::string> netnses;                              // paths that "exist"
  std::map<std::string, Pod> byHostVeth;                      // live attachments
  std::map<std::string, std::set<std::string>> foreignPorts;  // bridge -> other ports
  Error failAttach{0, ""};                                    // non-zero code: attach fails with it
  std::set<std::string> failDetach;                           // host veths whose removal fails
  int attachCalls = 0;
  int detachCalls = 0;
  AttachSpec lastSpec;
  config::MacBytes bridgeMac{0x02, 0xbb, 0, 0, 0, 1};
  PodView view;  // returned by inspect when set
  bool viewSet = false;

  Result<Attached> attach(const AttachSpec& spec) override {
    ++attachCalls;
    lastSpec = spec;
    if (!netnses.count(spec.netnsPath))
      return makeError("CNI_NETNS \"" + spec.netnsPath + "\" cannot be used",
                       kCodeUnknownContainer);
    if (failAttach.code != 0) return failAttach;
    byHostVeth[spec.hostVeth] = Pod{spec.hostVeth, spec.bridge, spec};
    return Attached{bridgeMac};
  }
  Status detach(const std::string& hostVeth) override {
    ++detachCalls;
    if (failDetach.count(hostVeth))
      return makeError("delete " + hostVeth + ": Operation not permitted", kCodeKernel);
    byHostVeth.erase(hostVeth);
    return okStatus();
  }
  Result<PodView> inspect(const std::string& netnsPath, const std::string&, const std::string&,
                          const std::string&) override {
    if (!netnses.count(netnsPath))
      return makeError("CNI_NETNS \"" + netnsPath + "\" cannot be used", kCodeUnknownContainer);
    if (!viewSet) return makeError("test did not set a view", kCodeKernel);
    return view;
  }
  Result<std::vector<std::string>> bridgePorts(const std::string& bridge) override {
    std::vector<std::string> out;
    for (const auto& [name, pod] : byHostVeth)
      if (pod.bridge == bridge) out.push_back(name);
    for (const auto& name : foreignPorts[bridge]) out.push_back(name);
    return out;
  }
};

}  // namespace routelet::cni::plugin
