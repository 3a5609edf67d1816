#include "networkservice/excludedprefixes/prefix_pool.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "api/path.h"

namespace nsm::excludedprefixes {
namespace {

using U128 = unsigned __int128;

constexpr U128 kAllOnes = ~U128{0};

struct Range {
  U128 start;
  U128 end;  // inclusive
};

// Addresses as numbers: IPv4 in the low 32 bits, IPv6 over all 128.
U128 ToNumber(const api::IpAddress& ip) {
  U128 v = 0;
  for (int i = ip.is_v4 ? 12 : 0; i < 16; ++i) v = (v << 8) | ip.bytes[i];
  return v;
}

api::IpAddress FromNumber(U128 v, bool is_v4) {
  api::IpAddress ip;
  ip.is_v4 = is_v4;
  for (int i = 15; i >= (is_v4 ? 12 : 0); --i) {
    ip.bytes[i] = static_cast<uint8_t>(v & 0xFF);
    v >>= 8;
  }
  if (is_v4) ip.bytes[10] = ip.bytes[11] = 0xFF;  // IPv4-mapped form, as api::ParseIpAddress
  return ip;
}

// The largest block of 2^k addresses starting at `start` ends here.
U128 BlockEnd(U128 start, int k) { return start + (k >= 128 ? kAllOnes : (U128{1} << k) - 1); }

int TrailingZeros(U128 v) {
  if (v == 0) return 128;
  const auto low = static_cast<uint64_t>(v);
  if (low != 0) return __builtin_ctzll(low);
  return 64 + __builtin_ctzll(static_cast<uint64_t>(v >> 64));
}

// Merges overlapping and adjacent ranges, then splits each into aligned CIDR blocks.
void AppendFamily(std::vector<Range> ranges, bool is_v4, std::vector<std::string>& out) {
  if (ranges.empty()) return;
  const int bits = is_v4 ? 32 : 128;
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
  std::vector<Range> merged{ranges.front()};
  for (size_t i = 1; i < ranges.size(); ++i) {
    Range& last = merged.back();
    if (last.end == kAllOnes || ranges[i].start <= last.end + 1) {
      last.end = std::max(last.end, ranges[i].end);
    } else {
      merged.push_back(ranges[i]);
    }
  }
  for (const Range& r : merged) {
    U128 start = r.start;
    for (;;) {
      int k = std::min(TrailingZeros(start), bits);
      while (k > 0 && BlockEnd(start, k) > r.end) --k;
      out.push_back(absl::StrCat(FromNumber(start, is_v4).ToString(), "/", bits - k));
      const U128 last = BlockEnd(start, k);
      if (last >= r.end) break;
      start = last + 1;
    }
  }
}

}  // namespace

absl::StatusOr<std::vector<std::string>> NormalizePrefixes(
    const std::vector<std::string>& prefixes) {
  std::vector<Range> v4;
  std::vector<Range> v6;
  for (const std::string& text : prefixes) {
    absl::StatusOr<api::IpPrefix> prefix = api::ParseIpPrefix(text);
    if (!prefix.ok()) return prefix.status();
    const int bits = prefix->address.is_v4 ? 32 : 128;
    const int host_bits = bits - prefix->length;
    const U128 host_mask = host_bits >= 128 ? kAllOnes : (U128{1} << host_bits) - 1;
    const U128 start = ToNumber(prefix->address) & ~host_mask;
    (prefix->address.is_v4 ? v4 : v6).push_back(Range{start, start | host_mask});
  }
  std::vector<std::string> out;
  AppendFamily(std::move(v4), true, out);
  AppendFamily(std::move(v6), false, out);
  return out;
}

}  // namespace nsm::excludedprefixes
