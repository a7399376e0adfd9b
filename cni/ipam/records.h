// The two file formats of the IPAM store, as pure parse/format functions so they are unit
// tested and fuzzed without a filesystem. Both are plain text, one item a line, so an
// operator can read and repair them with cat and an editor.
//
//   attachments/<containerId>:<ifname> "<containerId>\n<ifname>\n<address>\n[<address>\n]"
//   leases/<address>                    the same file, hard-linked under each address it names
//                                       (or, written by GC's repair, "<containerId>\n<ifname>\n")
//
// ':' separates the index file name because neither a CNI container ID
// (^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$) nor a CNI_IFNAME may contain it, so the name is
// unambiguous; the index also repeats its owner so a leftover temp file of writeAtomic
// (<name>.tmp.<pid>) is recognised by its name not matching its content.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cni/ipam/store.h"

namespace routelet::cni::ipam {

// The store names files and directories after these values, so it refuses what could escape
// its directory or break the line-based formats ('/', a leading '.', ':', newline, NUL, empty,
// over 120 bytes), even though the plugin validates first. `field` names the value in the error.
Status checkFileName(const char* field, std::string_view value);
Status checkAttachment(const Attachment& who);

// A lease names its owner; the address lines an index-shaped lease carries after the owner
// must parse, but only the owner is returned (the lease's address is its file name).
std::string formatLease(const Attachment& owner);
Result<Attachment> parseLease(std::string_view content);

struct IndexRecord {
  Attachment owner;
  std::vector<ip::Address> addresses;
};
std::string formatIndex(const IndexRecord& record);
Result<IndexRecord> parseIndex(std::string_view content);

// "<containerId>:<ifname>"; who must pass checkAttachment.
std::string indexFileName(const Attachment& who);

}  // namespace routelet::cni::ipam
