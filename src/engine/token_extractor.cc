#include "engine/token_extractor.h"

#include <re2/re2.h>

#include "engine/json_tokenizer.h"
#include "engine/regex_translate.h"
#include "engine/report.h"

namespace leakscope {

namespace {

// Converts a JSONPath (`$.a.b[0]['c d']`) into the tokenizer's path form (`a.b[0].c d`).
std::optional<std::string> NormalizeJsonPath(std::string_view p) {
  if (p.empty() || p[0] != '$') return std::nullopt;
  std::string out;
  size_t i = 1;
  while (i < p.size()) {
    if (p[i] == '.') {
      size_t j = i + 1;
      while (j < p.size() && p[j] != '.' && p[j] != '[') ++j;
      if (j == i + 1) return std::nullopt;
      if (!out.empty()) out += '.';
      out.append(p.substr(i + 1, j - i - 1));
      i = j;
    } else if (p[i] == '[') {
      size_t close = p.find(']', i);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view inner = p.substr(i + 1, close - i - 1);
      if (inner.size() >= 2 && (inner.front() == '\'' || inner.front() == '"') && inner.back() == inner.front()) {
        if (!out.empty()) out += '.';
        out.append(inner.substr(1, inner.size() - 2));
      } else if (!inner.empty() && inner.find_first_not_of("0123456789") == std::string_view::npos) {
        out += '[';
        out.append(inner);
        out += ']';
      } else {
        return std::nullopt;  // filters and wildcards are not supported
      }
      i = close + 1;
    } else {
      return std::nullopt;
    }
  }
  return out;
}

class PathFinder : public JsonTokenizer::Sink {
 public:
  JsonTokenizer* tokenizer = nullptr;
  std::string want;
  std::optional<std::string> found;
  void OnScalarBegin(bool is_key, bool, uint64_t) override {
    is_key_ = is_key;
    value_.clear();
  }
  void OnScalarData(std::string_view d, uint64_t, uint64_t) override {
    if (!is_key_ && value_.size() < 65536) value_.append(d);
  }
  void OnScalarEnd(uint64_t) override {
    if (!is_key_ && !found && tokenizer->CurrentPath() == want) found = value_;
  }

 private:
  bool is_key_ = false;
  std::string value_;
};

std::optional<std::string> RunStep(const TokenStep& step, std::string_view in,
                                   std::map<std::string, std::string>* metadata, int depth) {
  switch (step.kind) {
    case TokenStep::Kind::kRegex: {
      re2::StringPiece whole, group;
      re2::StringPiece text(in.data(), in.size());
      if (step.regex->NumberOfCapturingGroups() >= 1) {
        re2::StringPiece m[2];
        if (!step.regex->Match(text, 0, text.size(), RE2::UNANCHORED, m, 2)) return std::nullopt;
        if (m[1].data() != nullptr) return std::string(m[1].data(), m[1].size());
        return std::string(m[0].data(), m[0].size());
      }
      if (!step.regex->Match(text, 0, text.size(), RE2::UNANCHORED, &whole, 1)) return std::nullopt;
      return std::string(whole.data(), whole.size());
    }
    case TokenStep::Kind::kJwtDecode: {
      size_t a = in.find('.');
      if (a == std::string_view::npos) return std::nullopt;
      size_t b = in.find('.', a + 1);
      std::string_view payload = in.substr(a + 1, b == std::string_view::npos ? std::string_view::npos : b - a - 1);
      return DecodeBase64Url(payload);
    }
    case TokenStep::Kind::kJsonPath:
      return JsonPathScalar(in, step.argument);
    case TokenStep::Kind::kHash: {
      // Upper-case hex, as LeakSignal reports token hashes and lists them in blocked_tokens.
      std::string h = Sha256Hex(in);
      for (char& c : h) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return h;
    }
    case TokenStep::Kind::kMetadata:
      if (depth < 4) {
        for (const auto& [name, steps] : step.metadata) {
          std::string value(in);
          bool ok = true;
          for (const TokenStep& s : steps) {
            auto next = RunStep(s, value, metadata, depth + 1);
            if (!next) {
              ok = false;
              break;
            }
            value = std::move(*next);
          }
          if (ok) (*metadata)[name] = value;
        }
      }
      return std::string(in);  // a fork: the main chain continues with its input
  }
  return std::nullopt;
}

}  // namespace

StatusOr<TokenStep> MakeRegexStep(std::string_view pattern) {
  auto t = TranslateRegex(pattern);
  if (!t.ok()) return t.status();
  if (t->engine != RegexEngine::kRe2) {
    return InvalidArgumentError("token regex needs " + t->note + ", which only PCRE2 supports; not allowed here");
  }
  RE2::Options o;
  o.set_log_errors(false);
  auto re = std::make_shared<RE2>(t->pattern, o);
  if (!re->ok()) return InvalidArgumentError("invalid regex \"" + std::string(pattern) + "\": " + re->error());
  TokenStep step;
  step.kind = TokenStep::Kind::kRegex;
  step.argument = std::string(pattern);
  step.regex = std::move(re);
  return step;
}

std::optional<ExtractedToken> ExtractToken(const std::vector<TokenStep>& steps, std::string_view input) {
  ExtractedToken out;
  std::string value(input);
  for (const TokenStep& step : steps) {
    auto next = RunStep(step, value, &out.metadata, 0);
    if (!next) return std::nullopt;
    value = std::move(*next);
  }
  if (value.empty()) return std::nullopt;
  out.token = std::move(value);
  return out;
}

std::optional<std::string> CookieValue(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(pos, end - pos);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
      std::string_view v = pair.substr(eq + 1);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<std::string> DecodeBase64Url(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::optional<std::string> JsonPathScalar(std::string_view json, std::string_view path) {
  auto want = NormalizeJsonPath(path);
  if (!want) return std::nullopt;
  PathFinder finder;
  JsonTokenizer::Limits limits;
  limits.max_depth = 64;
  JsonTokenizer tokenizer(&finder, limits);
  finder.tokenizer = &tokenizer;
  finder.want = *want;
  tokenizer.Feed(json);
  tokenizer.Finish();
  return finder.found;
}

}  // namespace leakscope
