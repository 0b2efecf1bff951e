// Report: what one transaction direction carried, per category, without the data itself unless
// the policy's report style is `raw`.
#ifndef LEAKSCOPE_ENGINE_REPORT_H_
#define LEAKSCOPE_ENGINE_REPORT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/policy.h"

namespace leakscope {

enum class Direction { kRequest, kResponse };
const char* DirectionName(Direction d);

// The decision a host enforces for a direction.
enum class Decision { kContinue, kRedact, kBlock };
const char* DecisionName(Decision d);

struct MatchRecord {
  std::string path;          // JSON path (`users[3].ssn`), `header:NAME`, or empty for text bodies
  std::string_view context;  // "key", "value", "text" or "header" (static strings)
  uint64_t offset = 0;       // raw byte offset in the body (or in the header value)
  uint64_t length = 0;
};

struct CategoryReport {
  std::string name;       // reported name
  std::string category;   // policy category that matched
  std::string tag;
  Action action = Action::kAlert;
  ReportStyle report_style = ReportStyle::kRaw;
  uint64_t count = 0;
  uint64_t header_count = 0;         // of `count`, matches found in headers
  std::vector<std::string> values;   // one per match up to the cap, for styles other than none
  std::vector<MatchRecord> matches;  // up to the cap
  bool values_truncated = false;     // more matches than the cap: count stays exact
};

struct DirectionReport {
  Direction direction = Direction::kResponse;
  bool analyzed = false;
  std::string policy_path;
  std::string content_type;
  std::string content_encoding;  // codings as applied ("gzip", "gzip, br"); empty for identity
  std::string parser;
  uint64_t body_bytes = 0;       // bytes received
  uint64_t analyzed_bytes = 0;   // bytes analysed (less than body_bytes when truncated); for a
                                 // compressed body, decoded bytes
  bool truncated = false;        // analysis (or decoding) stopped at the configured limit
  std::string parse_error;       // structured parser gave up (the rest was scanned as text), or
                                 // the body could not be decoded (the rest was not analysed)
  Decision decision = Decision::kContinue;
  std::vector<CategoryReport> categories;  // only categories with matches, policy order
  std::vector<std::string> warnings;

  const CategoryReport* Find(std::string_view name) const;
};

// Applies a report style to a matched text.
std::string ApplyReportStyle(std::string_view text, ReportStyle style, uint32_t bits);

// Lowercase hex SHA-256 of `text`.
std::string Sha256Hex(std::string_view text);

// JSON rendering; `indent` 0 = compact.
std::string DirectionReportToJson(const DirectionReport& report, int indent = 2);

// Escapes `s` as a JSON string body (no quotes); invalid UTF-8 bytes become \u00XX escapes of
// the byte so output is always valid JSON.
void AppendJsonEscaped(std::string_view s, std::string* out);

// Appends `s` as a quoted JSON string.
void AppendJsonString(std::string_view s, std::string* out);

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_REPORT_H_
