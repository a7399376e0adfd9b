#include "common/nft/nftables.h"

#include <nftables/libnftables.h>

#include <cerrno>

namespace routelet::nft {

void Nftables::Free::operator()(nft_ctx* ctx) const {
  nft_ctx_free(ctx);
}

Result<Nftables> Nftables::open() {
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) return makeError("nftables: cannot create a libnftables context", ENOMEM);
  Nftables out(ctx);
  // Output and errors into buffers, never onto the agent's stdout and stderr.
  if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0)
    return makeError("nftables: cannot buffer libnftables output", ENOMEM);
  return out;
}

Result<std::string> Nftables::command(const std::string& script) {
  int rc = nft_run_cmd_from_buffer(ctx_.get(), script.c_str());
  std::string output = nft_ctx_get_output_buffer(ctx_.get());
  std::string error = nft_ctx_get_error_buffer(ctx_.get());
  if (rc == 0) return output;
  // nft repeats the offending line and marks it with ^^^: the first line says it all, and a
  // 5000-element line must not land in a log.
  auto end = error.find('\n');
  std::string first = error.substr(0, end == std::string::npos ? error.size() : end);
  if (first.size() > 300) first = first.substr(0, 300) + "...";
  return makeError("nftables: " + (first.empty() ? std::string("the command failed") : first),
                   EINVAL);
}

Status Nftables::run(const std::string& script) {
  auto out = command(script);
  if (!out) return out.error();
  return okStatus();
}

Result<std::vector<std::string>> Nftables::tables() {
  auto out = command("list tables");
  if (!out) return out.error();
  std::vector<std::string> tables;
  std::size_t start = 0;
  while (start < out->size()) {
    auto end = out->find('\n', start);
    if (end == std::string::npos) end = out->size();
    std::string line = out->substr(start, end - start);
    if (line.rfind("table ", 0) == 0) tables.push_back(line.substr(6));
    start = end + 1;
  }
  return tables;
}

}  // namespace routelet::nft
