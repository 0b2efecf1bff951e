#include "engine/report.h"

#include <sodium.h>

#include <algorithm>

#include "engine/utf8.h"

namespace leakscope {

const char* DirectionName(Direction d) { return d == Direction::kRequest ? "request" : "response"; }

const char* DecisionName(Decision d) {
  switch (d) {
    case Decision::kContinue: return "continue";
    case Decision::kRedact: return "redact";
    case Decision::kBlock: return "block";
  }
  return "?";
}

const CategoryReport* DirectionReport::Find(std::string_view name) const {
  for (const CategoryReport& c : categories) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

namespace {

// The first `nibbles` (at most 64) hex digits of the SHA-256 of `text`: a partial style reports a
// few of them, and writing only those keeps its value within the string's inline buffer.
std::string Sha256HexPrefix(std::string_view text, size_t nibbles) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  static const char kHex[] = "0123456789abcdef";
  std::string out(std::min(nibbles, sizeof(digest) * 2), '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const unsigned char b = digest[i / 2];
    out[i] = kHex[i % 2 == 0 ? b >> 4 : b & 15];
  }
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view text) { return Sha256HexPrefix(text, crypto_hash_sha256_BYTES * 2); }

std::string ApplyReportStyle(std::string_view text, ReportStyle style, uint32_t bits) {
  switch (style) {
    case ReportStyle::kRaw: return std::string(text);
    case ReportStyle::kNone: return std::string();
    case ReportStyle::kSha256: return Sha256Hex(text);
    case ReportStyle::kPartialSha256: {
      std::string out = Sha256HexPrefix(text, (std::min<uint32_t>(bits, 256) + 3) / 4);
      if (bits % 4 != 0 && bits < 256) {
        // Keep only the leading bits of the last nibble so no more than `bits` bits leave.
        static const char kHex[] = "0123456789abcdef";
        int v = out.back() <= '9' ? out.back() - '0' : out.back() - 'a' + 10;
        int keep = bits % 4;
        v &= (0xF << (4 - keep)) & 0xF;
        out.back() = kHex[v];
      }
      return out;
    }
  }
  return std::string();
}

void AppendJsonEscaped(std::string_view s, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      switch (c) {
        case '\n': *out += "\\n"; break;
        case '\r': *out += "\\r"; break;
        case '\t': *out += "\\t"; break;
        default:
          *out += "\\u00";
          *out += kHex[c >> 4];
          *out += kHex[c & 15];
      }
      ++i;
    } else if (c < 0x80) {
      *out += static_cast<char>(c);
      ++i;
    } else {
      // Copy a well-formed character, escape the lead byte otherwise.
      const size_t len = Utf8CharLength(s, i);
      if (len > 0) {
        out->append(s.substr(i, len));
        i += len;
      } else {
        *out += "\\u00";
        *out += kHex[c >> 4];
        *out += kHex[c & 15];
        ++i;
      }
    }
  }
}

void AppendJsonString(std::string_view s, std::string* out) {
  *out += '"';
  AppendJsonEscaped(s, out);
  *out += '"';
}

namespace {

class JsonWriter {
 public:
  explicit JsonWriter(int indent) : indent_(indent) {}
  void Newline(int depth) {
    if (indent_ == 0) return;
    out_ += '\n';
    out_.append(static_cast<size_t>(depth * indent_), ' ');
  }
  void Key(std::string_view k, int depth, bool* first) {
    if (!*first) out_ += ',';
    *first = false;
    Newline(depth);
    String(k);
    out_ += indent_ ? ": " : ":";
  }
  void String(std::string_view s) { AppendJsonString(s, &out_); }
  std::string& out() { return out_; }

 private:
  int indent_;
  std::string out_;
};

}  // namespace

std::string DirectionReportToJson(const DirectionReport& r, int indent) {
  JsonWriter w(indent);
  std::string& o = w.out();
  bool first = true;
  o += '{';
  w.Key("direction", 1, &first); w.String(DirectionName(r.direction));
  w.Key("analyzed", 1, &first); o += r.analyzed ? "true" : "false";
  w.Key("policy_path", 1, &first); w.String(r.policy_path);
  w.Key("content_type", 1, &first); w.String(r.content_type);
  if (!r.content_encoding.empty()) { w.Key("content_encoding", 1, &first); w.String(r.content_encoding); }
  w.Key("parser", 1, &first); w.String(r.parser);
  w.Key("body_bytes", 1, &first); o += std::to_string(r.body_bytes);
  w.Key("analyzed_bytes", 1, &first); o += std::to_string(r.analyzed_bytes);
  w.Key("truncated", 1, &first); o += r.truncated ? "true" : "false";
  w.Key("parse_error", 1, &first);
  if (r.parse_error.empty()) o += "null"; else w.String(r.parse_error);
  w.Key("decision", 1, &first); w.String(DecisionName(r.decision));
  w.Key("categories", 1, &first);
  o += '{';
  bool cfirst = true;
  for (const CategoryReport& c : r.categories) {
    w.Key(c.name, 2, &cfirst);
    o += '{';
    bool f = true;
    w.Key("count", 3, &f); o += std::to_string(c.count);
    w.Key("values", 3, &f);
    o += '[';
    for (size_t i = 0; i < c.values.size(); ++i) {
      if (i) o += indent ? ", " : ",";
      w.String(c.values[i]);
    }
    o += ']';
    w.Key("category", 3, &f); w.String(c.category);
    if (!c.tag.empty()) { w.Key("tag", 3, &f); w.String(c.tag); }
    w.Key("action", 3, &f); w.String(ActionName(c.action));
    w.Key("report_style", 3, &f); w.String(ReportStyleName(c.report_style));
    w.Key("values_truncated", 3, &f); o += c.values_truncated ? "true" : "false";
    w.Key("matches", 3, &f);
    o += '[';
    for (size_t i = 0; i < c.matches.size(); ++i) {
      const MatchRecord& m = c.matches[i];
      if (i) o += ',';
      w.Newline(4);
      // One match per line: reports can list many.
      JsonWriter mw(0);
      bool mf = true;
      mw.out() += '{';
      mw.Key("context", 0, &mf); mw.String(m.context);
      if (!m.path.empty()) { mw.Key("path", 0, &mf); mw.String(m.path); }
      mw.Key("offset", 0, &mf); mw.out() += std::to_string(m.offset);
      mw.Key("length", 0, &mf); mw.out() += std::to_string(m.length);
      mw.out() += '}';
      o += mw.out();
    }
    if (!c.matches.empty()) w.Newline(3);
    o += ']';
    w.Newline(2);
    o += '}';
  }
  if (!r.categories.empty()) w.Newline(1);
  o += '}';
  w.Key("warnings", 1, &first);
  o += '[';
  for (size_t i = 0; i < r.warnings.size(); ++i) {
    if (i) o += ", ";
    w.String(r.warnings[i]);
  }
  o += ']';
  w.Newline(0);
  o += '}';
  return o;
}

}  // namespace leakscope
