// nftables through libnftables, the library behind the `nft` command: a script in nft's
// own syntax runs as one transaction, parsed and checked exactly as `nft -f` would, so
// routelet writes no nf_tables bytecode by hand. One context per owner and thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/base/result.h"

struct nft_ctx;

namespace routelet::nft {

class Nftables {
 public:
  static Result<Nftables> open();
  // Runs the script, all or nothing; an error carries nft's own message.
  Status run(const std::string& script);
  // "inet routelet", "ip filter", ...: the tables of this namespace.
  Result<std::vector<std::string>> tables();

 private:
  struct Free {
    void operator()(nft_ctx* ctx) const;
  };
  explicit Nftables(nft_ctx* ctx) : ctx_(ctx) {}
  Result<std::string> command(const std::string& script);
  std::unique_ptr<nft_ctx, Free> ctx_;
};

}  // namespace routelet::nft
