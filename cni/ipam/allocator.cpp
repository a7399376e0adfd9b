#include "cni/ipam/allocator.h"

#include <algorithm>
#include <cerrno>
#include <utility>

#include "cni/ipam/records.h"

namespace routelet::cni::ipam {
namespace {

using U128 = unsigned __int128;

U128 toU128(const ip::Address& a) {
  U128 v = 0;
  for (int i = 0; i < a.byteLength(); ++i) v = (v << 8) | a.bytes()[i];
  return v;
}

ip::Address fromU128(ip::Family family, U128 v) {
  uint8_t bytes[16] = {};
  for (int i = (family == ip::Family::kV4 ? 4 : 16) - 1; i >= 0; --i) {
    bytes[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
  return ip::Address::fromBytes(family, bytes);
}

std::string decimal(U128 v) {
  std::string out;
  do {
    out.insert(out.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return out;
}

std::string describe(const Range& r) {
  std::string out = r.subnet.network().str();
  if (r.rangeStart || r.rangeEnd) {
    out += " [" + (r.rangeStart ? r.rangeStart->str() : std::string("start")) + "-" +
           (r.rangeEnd ? r.rangeEnd->str() : std::string("end")) + "]";
  }
  return out;
}

std::string join(const std::vector<ip::Address>& addresses) {
  std::string out;
  for (const auto& a : addresses) out += (out.empty() ? "" : ", ") + a.str();
  return out;
}

// The usable addresses of a range as the inclusive interval [first, last] minus the gateway.
struct Span {
  ip::Family family = ip::Family::kV4;
  U128 first = 1;
  U128 last = 0;  // first > last: empty
  std::optional<U128> gateway;

  bool contains(U128 v) const { return first <= v && v <= last; }
  U128 positions() const { return first > last ? 0 : last - first + 1; }
  U128 usable() const { return positions() - (gateway ? 1 : 0); }
};

Result<Span> spanOf(const Range& r) {
  const ip::Prefix net = r.subnet.network();
  Span s;
  s.family = net.family();
  const bool v4 = s.family == ip::Family::kV4;
  const int hostBits = (v4 ? 32 : 128) - net.length();
  const U128 hostMask = hostBits >= 128 ? ~U128(0) : (U128(1) << hostBits) - 1;
  const U128 base = toU128(net.address());
  // IPv4 loses the network and broadcast addresses; IPv6 has no broadcast and loses only the
  // subnet-router anycast address, which is the network address (RFC 4291 2.6.1).
  if (hostMask >= (v4 ? 2u : 1u)) {
    s.first = base + 1;
    s.last = base + hostMask - (v4 ? 1 : 0);
  }
  for (const auto& [field, bound] :
       {std::pair{"rangeStart", r.rangeStart}, std::pair{"rangeEnd", r.rangeEnd}}) {
    if (bound && !net.contains(*bound)) {
      return makeError(std::string(field) + " " + bound->str() + " is outside subnet " + net.str() +
                           ": pick an address inside the subnet",
                       EINVAL);
    }
  }
  if (r.rangeStart) s.first = std::max(s.first, toU128(*r.rangeStart));
  if (r.rangeEnd) s.last = std::min(s.last, toU128(*r.rangeEnd));
  if (r.gateway.family() == s.family && s.contains(toU128(r.gateway)))
    s.gateway = toU128(r.gateway);
  return s;
}

// Round robin walks forward from the last reserved address, so a range searched
// exhaustively (up to maxProbes positions, kDefaultMaxProbes by default) reports exhaustion
// exactly. A larger range (an IPv6 /64 has 2^64 addresses) is probed maxProbes positions
// past it at most: that position only moves forward, so leases sit behind it and the first
// probe is free unless the range has wrapped around and is nearly full; failing after
// maxProbes taken neighbours says so instead of walking for ever. canAllocate counts leases,
// so it stays true for such a range.
Result<ip::Address> pickFree(Store& store, const Range& r, const Span& s,
                             const std::vector<Reservation>& picked, uint64_t maxProbes) {
  if (s.usable() == 0) {
    return makeError(
        "no usable address in range " + describe(r) + ": widen the subnet or rangeStart/rangeEnd",
        kErrExhausted);
  }
  U128 cur = s.first;
  // A record of another family is torn by a crash: the search starts over.
  auto last = store.lastReserved(r.subnet.network());
  if (last && last->family() == s.family && s.contains(toU128(*last)) && toU128(*last) != s.last)
    cur = toU128(*last) + 1;
  const U128 start = cur;
  const U128 probes = std::min<U128>(s.positions(), std::max<uint64_t>(maxProbes, 1));
  for (U128 i = 0; i < probes; ++i, cur = cur == s.last ? s.first : cur + 1) {
    if (s.gateway && cur == *s.gateway) continue;
    ip::Address a = fromU128(s.family, cur);
    if (std::any_of(picked.begin(), picked.end(),
                    [&](const Reservation& p) { return p.address == a; }))
      continue;
    auto held = store.contains(a);
    if (!held) return held.error();
    if (!*held) return a;
  }
  if (probes == s.positions()) {
    return makeError("no free address in range " + describe(r) + " (" + decimal(s.usable()) +
                         " usable, all leased): release leases (CNI DEL/GC) or widen the range",
                     kErrExhausted);
  }
  return makeError("no free address in range " + describe(r) + " within " + decimal(probes) +
                       " addresses after " + fromU128(s.family, start).str() + " (" +
                       decimal(s.usable()) +
                       " usable): the range is nearly full; release leases (CNI GC)",
                   kErrExhausted);
}

// The store's lock for one operation, released however the operation ends.
class Locked {
 public:
  static Result<Locked> take(Store& store) {
    if (auto st = store.lock(); !st) return st.error();
    return Locked(store);
  }
  Locked(Locked&& o) noexcept : store_(std::exchange(o.store_, nullptr)) {}
  Locked& operator=(Locked&&) = delete;
  ~Locked() {
    if (store_) store_->unlock();
  }

 private:
  explicit Locked(Store& store) : store_(&store) {}
  Store* store_;
};

}  // namespace

Result<std::vector<ip::Address>> Allocator::allocate(const std::vector<Range>& ranges,
                                                     const Attachment& who) {
  if (auto st = checkAttachment(who); !st) return st.error();
  if (ranges.empty()) {
    return makeError("allocate for " + describe(who) + ": no range configured", EINVAL);
  }
  auto locked = Locked::take(store_);
  if (!locked) return locked.error();
  auto held = store_.settle(who);
  if (!held) return held.error();
  if (!held->empty()) {
    return makeError(
        describe(who) + " already holds " + join(*held) + ": a second ADD needs a DEL first",
        kErrAlreadyAllocated);
  }
  std::vector<Reservation> picks;
  for (const auto& r : ranges) {
    auto s = spanOf(r);
    if (!s) return s.error();
    auto a = pickFree(store_, r, *s, picks, maxProbes_);
    if (!a) return a.error();
    picks.push_back({*a, r.subnet.network()});
  }
  if (auto st = store_.reserve(who, picks); !st) return st.error();
  std::vector<ip::Address> addresses;
  for (const auto& p : picks) addresses.push_back(p.address);
  return addresses;
}

Status Allocator::release(const Attachment& who) {
  if (auto st = checkAttachment(who); !st) return st;
  auto locked = Locked::take(store_);
  if (!locked) return locked.error();
  return store_.release(who);
}

Result<std::vector<ip::Address>> Allocator::leasesOf(const Attachment& who) {
  if (auto st = checkAttachment(who); !st) return st.error();
  auto locked = Locked::take(store_);
  if (!locked) return locked.error();
  return store_.listByOwner(who);
}

Result<GcReport> Allocator::gc(const std::vector<Attachment>& valid) {
  auto locked = Locked::take(store_);
  if (!locked) return locked.error();
  return store_.releaseExcept(valid);
}

Result<bool> Allocator::canAllocate(const std::vector<Range>& ranges) {
  auto locked = Locked::take(store_);
  if (!locked) return locked.error();
  auto leased = store_.leased();
  if (!leased) return leased.error();
  for (const auto& r : ranges) {
    auto s = spanOf(r);
    if (!s) return s.error();
    U128 used = 0;
    for (const auto& a : *leased) {
      U128 v = toU128(a);
      if (a.family() == s->family && s->contains(v) && v != s->gateway) ++used;
    }
    // Exact for ranges allocate searches exhaustively; a huge range counts as available
    // although allocate may fail after maxProbes taken neighbours (see pickFree).
    if (used >= s->usable()) return false;
  }
  return true;
}

}  // namespace routelet::cni::ipam
