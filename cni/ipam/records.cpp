#include "cni/ipam/records.h"

#include <cerrno>

namespace routelet::cni::ipam {
namespace {

// Index name plus writeAtomic's ".tmp.<pid>" suffix must stay within NAME_MAX (255).
constexpr size_t kMaxNameBytes = 120;

// Splits "a\nb\n" into {"a","b"}; fails when the last line has no newline (a torn write).
Result<std::vector<std::string_view>> splitLines(std::string_view content) {
  if (content.empty()) return makeError("file is empty");
  if (content.back() != '\n') return makeError("last line is not terminated (truncated write?)");
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    lines.push_back(content.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

Result<Attachment> parseOwner(const std::vector<std::string_view>& lines) {
  if (lines.size() < 2) return makeError("owner needs two lines (container ID, ifname)");
  Attachment owner{std::string(lines[0]), std::string(lines[1])};
  if (auto st = checkAttachment(owner); !st) return st.error();
  return owner;
}

}  // namespace

Status checkFileName(const char* field, std::string_view value) {
  auto bad = [&](const std::string& why) {
    return makeError(std::string(field) + " \"" + std::string(value.substr(0, 64)) + "\" " + why +
                         ": the IPAM store names files after it; pass a valid CNI " + field,
                     EINVAL);
  };
  if (value.empty()) return bad("is empty");
  if (value.size() > kMaxNameBytes) return bad("is longer than 120 bytes");
  if (value.front() == '.') return bad("starts with '.'");
  for (char c : value) {
    if (c == '/') return bad("contains '/'");
    if (c == ':') return bad("contains ':'");
    if (c == '\n' || c == '\0') return bad("contains a newline or NUL byte");
  }
  return okStatus();
}

Status checkAttachment(const Attachment& who) {
  if (auto st = checkFileName("containerId", who.containerId); !st) return st;
  return checkFileName("ifname", who.ifname);
}

std::string formatLease(const Attachment& owner) {
  return owner.containerId + "\n" + owner.ifname + "\n";
}

Result<Attachment> parseLease(std::string_view content) {
  auto lines = splitLines(content);
  if (!lines) return lines.error();
  if (lines->size() < 2) {
    return makeError("lease has " + std::to_string(lines->size()) +
                     " line(s), want the container ID, the ifname and optionally addresses");
  }
  for (size_t i = 2; i < lines->size(); ++i) {
    if (auto a = ip::Address::parse((*lines)[i]); !a)
      return a.error().wrap("lease line " + std::to_string(i + 1));
  }
  return parseOwner(*lines);
}

std::string formatIndex(const IndexRecord& record) {
  std::string out = formatLease(record.owner);
  for (const auto& a : record.addresses) out += a.str() + "\n";
  return out;
}

Result<IndexRecord> parseIndex(std::string_view content) {
  auto lines = splitLines(content);
  if (!lines) return lines.error();
  auto owner = parseOwner(*lines);
  if (!owner) return owner.error();
  if (lines->size() < 3) return makeError("index names no address");
  IndexRecord record{*owner, {}};
  for (size_t i = 2; i < lines->size(); ++i) {
    auto a = ip::Address::parse((*lines)[i]);
    if (!a) return a.error().wrap("index line " + std::to_string(i + 1));
    record.addresses.push_back(*a);
  }
  return record;
}

std::string indexFileName(const Attachment& who) {
  return who.containerId + ":" + who.ifname;
}

}  // namespace routelet::cni::ipam
