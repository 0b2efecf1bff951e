// A report's matches as comparable text, for tests that check two ways of scanning agree.
#ifndef LEAKSCOPE_TESTS_SUPPORT_REPORT_SUMMARY_H_
#define LEAKSCOPE_TESTS_SUPPORT_REPORT_SUMMARY_H_

#include <string>

#include "engine/report.h"

namespace leakscope::testing {

// Every category with its count, then each match (context, path, offset, length, value) in
// report order, then the parse error if any.
inline std::string MatchSummary(const DirectionReport& r) {
  std::string out;
  for (const CategoryReport& c : r.categories) {
    out += c.name + " count=" + std::to_string(c.count) + "\n";
    for (size_t i = 0; i < c.matches.size(); ++i) {
      const MatchRecord& m = c.matches[i];
      out += "  " + std::string(m.context) + " " + m.path + " @" + std::to_string(m.offset) + "+" + std::to_string(m.length) +
             " " + (i < c.values.size() ? c.values[i] : "") + "\n";
    }
  }
  return out + (r.parse_error.empty() ? "" : "parse_error: " + r.parse_error + "\n");
}

}  // namespace leakscope::testing

#endif  // LEAKSCOPE_TESTS_SUPPORT_REPORT_SUMMARY_H_
