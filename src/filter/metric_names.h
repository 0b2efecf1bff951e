// Envoy stat names for LeakScope metrics.
//
// Proxy-WASM stats carry no labels, so labels are encoded into the name as `.key.value` pairs:
//   leakscope.category.ssn.direction.response.part.body.endpoint.*/api/**.local_service.shop/web
//     .peer_service.default/client.matches
// and Envoy's `stats_config.stats_tags` (examples/envoy/stats_tags.yaml) turns each pair back into a
// Prometheus label, leaving `leakscope.matches`. Values never contain a dot.
#ifndef LEAKSCOPE_FILTER_METRIC_NAMES_H_
#define LEAKSCOPE_FILTER_METRIC_NAMES_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace leakscope {

// Replaces characters outside [A-Za-z0-9_-/*!#:@] (dots included) with '_'; "" becomes "none".
std::string SanitizeMetricLabel(std::string_view value);

std::string MetricName(std::string_view base,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

std::string MatchMetricName(std::string_view category, std::string_view direction, std::string_view part,
                            std::string_view endpoint, std::string_view local_service,
                            std::string_view peer_service);

}  // namespace leakscope

#endif  // LEAKSCOPE_FILTER_METRIC_NAMES_H_
