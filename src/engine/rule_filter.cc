#include "engine/rule_filter.h"

#include <arpa/inet.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

#include "engine/path_glob.h"
#include "engine/report.h"
#include "engine/ascii.h"

namespace leakscope {

namespace {


uint64_t CountOf(const DirectionReport* r, const std::string& category) {
  if (r == nullptr) return 0;
  uint64_t total = 0;
  for (const CategoryReport& c : r->categories) {
    if (category == "*" || c.name == category || c.category == category) total += c.count;
  }
  return total;
}

std::optional<std::string_view> HeaderValue(const HeaderList* headers, const std::string& lower_name) {
  if (headers == nullptr) return std::nullopt;
  for (const auto& [k, v] : *headers) {
    if (AsciiEqualsIgnoreCase(k, lower_name)) return v;
  }
  return std::nullopt;
}

bool AnyMatcher(const std::vector<TextMatcher>& ms, std::string_view value) {
  for (const TextMatcher& m : ms) {
    if (m.Matches(value)) return true;
  }
  return false;
}

bool AnyService(const std::vector<ServiceMatcher>& ms, const ServiceIdentity& s) {
  for (const ServiceMatcher& m : ms) {
    if (m.Matches(s)) return true;
  }
  return false;
}

}  // namespace

std::string ServiceIdentity::Label() const {
  if (!ns.empty() && !sa.empty()) return ns + "/" + sa;
  if (!sa.empty()) return sa;
  if (!workload.empty()) return workload;
  return ns;
}

std::string ServiceIdentity::Full() const { return cluster + "/" + ns + "/" + sa; }

bool ServiceMatcher::Matches(const ServiceIdentity& s) const {
  switch (kind) {
    case Kind::kFull: return matcher.Matches(s.Full()) || matcher.Matches(s.Label());
    case Kind::kCluster: return matcher.Matches(s.cluster);
    case Kind::kNs: return matcher.Matches(s.ns);
    case Kind::kSa: return matcher.Matches(s.sa);
    case Kind::kWorkload: return matcher.Matches(s.workload);
    case Kind::kAny:
      return std::any_of(children.begin(), children.end(), [&](const ServiceMatcher& c) { return c.Matches(s); });
    case Kind::kAll:
      return std::all_of(children.begin(), children.end(), [&](const ServiceMatcher& c) { return c.Matches(s); });
  }
  return false;
}

bool TextMatcher::Matches(std::string_view value) const {
  switch (kind) {
    case Kind::kRaw: return value == text;
    case Kind::kRawInsensitive: return AsciiEqualsIgnoreCase(value, text);
    case Kind::kRegex: return RE2::FullMatch(re2::StringPiece(value.data(), value.size()), *regex);
  }
  return false;
}

bool ParseIpAddress(std::string_view text, std::array<uint8_t, 16>* out) {
  std::string s(text);
  // Strip a port: "[v6]:port" or "v4:port".
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos) return false;
    s = s.substr(1, close - 1);
  } else if (std::count(s.begin(), s.end(), ':') == 1) {
    s = s.substr(0, s.find(':'));
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    std::memcpy(out->data(), buf, 16);
    return true;
  }
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    out->fill(0);
    (*out)[10] = 0xff;
    (*out)[11] = 0xff;
    std::memcpy(out->data() + 12, buf, 4);
    return true;
  }
  return false;
}

bool ParseIpRange(std::string_view text, IpRange* out) {
  size_t slash = text.find('/');
  std::string_view addr = text.substr(0, slash);
  bool v4 = addr.find(':') == std::string_view::npos;
  if (!ParseIpAddress(addr, &out->address)) return false;
  out->prefix_bits = 128;
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string_view::npos) return false;
    int b = std::stoi(std::string(bits));
    if (b > (v4 ? 32 : 128)) return false;
    out->prefix_bits = v4 ? 96 + b : b;
  }
  return true;
}

bool IpRange::Contains(const std::array<uint8_t, 16>& ip) const {
  int bits = prefix_bits;
  for (int i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((ip[i] & mask) != (address[i] & mask)) return false;
  }
  return true;
}

bool EvaluateRuleFilter(const RuleFilter& f, const FilterFacts& facts) {
  using K = RuleFilter::Kind;
  switch (f.kind) {
    case K::kEndpoint:
    case K::kExcludeEndpoint: {
      bool any = std::any_of(f.globs.begin(), f.globs.end(), [&](const auto& g) { return g->Matches(facts.target); });
      return f.kind == K::kEndpoint ? any : !any;
    }
    case K::kPeerService: return AnyService(f.services, facts.peer_service);
    case K::kExcludePeerService: return !AnyService(f.services, facts.peer_service);
    case K::kLocalService: return AnyService(f.services, facts.local_service);
    case K::kExcludeLocalService: return !AnyService(f.services, facts.local_service);
    case K::kToken: return AnyMatcher(f.matchers, facts.token);
    case K::kExcludeToken: return !AnyMatcher(f.matchers, facts.token);
    case K::kIp:
    case K::kExcludeIp: {
      std::array<uint8_t, 16> ip;
      bool parsed = ParseIpAddress(facts.ip, &ip);
      bool any = parsed && std::any_of(f.ips.begin(), f.ips.end(), [&](const IpRange& r) { return r.Contains(ip); });
      return f.kind == K::kIp ? any : !any;
    }
    case K::kRequestMatches:
    case K::kResponseMatches: {
      const DirectionReport* r = f.kind == K::kRequestMatches ? facts.request : facts.response;
      for (const auto& [category, min] : f.min_counts) {
        if (CountOf(r, category) < min) return false;
      }
      return true;
    }
    case K::kRequestHeaders:
    case K::kResponseHeaders: {
      const auto* headers = f.kind == K::kRequestHeaders ? facts.request_headers : facts.response_headers;
      for (const auto& [name, value] : f.headers) {
        const std::optional<std::string_view> v = HeaderValue(headers, name);
        if (!v || *v != value) return false;
      }
      return true;
    }
    case K::kResponseOutbound: return facts.request_inbound;
    case K::kResponseInbound: return !facts.request_inbound;
    case K::kAny:
      return std::any_of(f.children.begin(), f.children.end(), [&](const RuleFilter& c) { return EvaluateRuleFilter(c, facts); });
    case K::kAll:
      return std::all_of(f.children.begin(), f.children.end(), [&](const RuleFilter& c) { return EvaluateRuleFilter(c, facts); });
    case K::kNot:
      return !std::any_of(f.children.begin(), f.children.end(), [&](const RuleFilter& c) { return EvaluateRuleFilter(c, facts); });
  }
  return false;
}

}  // namespace leakscope
