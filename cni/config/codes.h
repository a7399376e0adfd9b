// CNI error codes (SPEC.md, "Error"): the runtime reads them from the error object the
// plugin prints on stdout. 1-99 belong to the spec; 100 and up are routelet-cni's own.
#pragma once

namespace routelet::cni {

inline constexpr int kCodeIncompatibleVersion = 1;
inline constexpr int kCodeUnsupportedField = 2;
inline constexpr int kCodeUnknownContainer = 3;
inline constexpr int kCodeInvalidEnv = 4;
inline constexpr int kCodeIo = 5;
inline constexpr int kCodeDecode = 6;
inline constexpr int kCodeInvalidConfig = 7;
inline constexpr int kCodeTryAgain = 11;
inline constexpr int kCodeStatusCannotAdd = 50;
inline constexpr int kCodeStatusUnavailable = 51;

// routelet-cni's own codes (documented in cni/README.md).
inline constexpr int kCodeExhausted = 100;        // a range has no free address
inline constexpr int kCodeAlreadyAttached = 101;  // ADD twice for one (container, ifname)
inline constexpr int kCodeKernel = 102;           // a netlink or sysctl operation failed
inline constexpr int kCodeIfnameExists = 103;     // CNI_IFNAME is taken in the pod netns
inline constexpr int kCodeCheckFailed = 104;      // CHECK found state that differs from ADD's
inline constexpr int kCodeGcIncomplete = 105;     // GC went on past errors; details list them

}  // namespace routelet::cni
