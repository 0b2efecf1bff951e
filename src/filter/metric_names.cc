#include "filter/metric_names.h"

namespace leakscope {

std::string SanitizeMetricLabel(std::string_view value) {
  if (value.empty()) return "none";
  std::string out(value.substr(0, 128));
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '/' || c == '*' || c == '!' || c == '#' || c == ':' || c == '@';
    if (!ok) c = '_';
  }
  return out;
}

std::string MetricName(std::string_view base,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::string out = "leakscope";
  for (const auto& [key, value] : labels) {
    out += '.';
    out += key;
    out += '.';
    out += SanitizeMetricLabel(value);
  }
  out += '.';
  out += base;
  return out;
}

std::string MatchMetricName(std::string_view category, std::string_view direction, std::string_view part,
                            std::string_view endpoint, std::string_view local_service,
                            std::string_view peer_service) {
  return MetricName("matches", {{"category", category},
                                {"direction", direction},
                                {"part", part},
                                {"endpoint", endpoint},
                                {"local_service", local_service},
                                {"peer_service", peer_service}});
}

}  // namespace leakscope
