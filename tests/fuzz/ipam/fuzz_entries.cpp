#include "tests/fuzz/ipam/fuzz_entries.h"

#include "cni/ipam/records.h"
#include "tests/fuzz/support/fuzz_check.h"

namespace routelet::cni::ipam::fuzz {
namespace {
using routelet::fuzz::accepted;
using routelet::fuzz::asText;
using routelet::fuzz::check;

bool sameRecord(const IndexRecord& a, const IndexRecord& b) {
  return a.owner == b.owner && a.addresses == b.addresses;
}

}  // namespace

bool lease(const uint8_t* data, size_t size) {
  std::string_view text = asText(data, size);
  auto owner = parseLease(text);
  if (owner) {
    check(checkAttachment(*owner).ok());
    // Either the owner alone, exactly as formatLease writes it, or an index (the store
    // links the index under each address) with the same owner.
    auto record = parseIndex(text);
    check(formatLease(*owner) == text || (record.ok() && record->owner == *owner));
  }
  return accepted(owner);
}

bool index(const uint8_t* data, size_t size) {
  std::string_view text = asText(data, size);
  auto record = parseIndex(text);
  if (record) {
    check(checkAttachment(record->owner).ok());
    check(!record->addresses.empty());
    // The store writes canonical addresses, so what it wrote reads back byte for byte; a
    // hand-edited file ("fd00::0001") reads back as the same record.
    std::string printed = formatIndex(*record);
    auto again = parseIndex(printed);
    check(again.ok() && sameRecord(*again, *record) && formatIndex(*again) == printed);
    check(printed.size() <= text.size() + record->addresses.size() * 46);
  }
  return accepted(record);
}

}  // namespace routelet::cni::ipam::fuzz
