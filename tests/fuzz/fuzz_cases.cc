#include "fuzz/fuzz_cases.h"

#include <map>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "engine/compiled_policy.h"
#include "engine/content_decoder.h"
#include "engine/grpc_walker.h"
#include "engine/json_tokenizer.h"
#include "engine/policy.h"
#include "engine/report.h"
#include "engine/transaction.h"
#include "filter/command_protocol.h"
#include "filter/plugin_config.h"
#include "nlohmann/json.hpp"
#include "support/compress.h"
#include "support/files.h"

namespace leakscope::fuzz {
namespace {


std::shared_ptr<const CompiledPolicy> CompileOrDie(const std::string& yaml, const char* what) {
  auto policy = LoadPolicy(yaml);
  if (!policy.ok()) {
    fprintf(stderr, "fuzz: %s does not load: %s\n", what, policy.status().message().c_str());
    abort();
  }
  auto compiled = CompiledPolicy::Compile(std::move(*policy));
  if (!compiled.ok()) {
    fprintf(stderr, "fuzz: %s does not compile: %s\n", what, compiled.status().message().c_str());
    abort();
  }
  return *compiled;
}

const std::vector<std::shared_ptr<const CompiledPolicy>>& Policies() {
  static const auto* policies = [] {
    auto* v = new std::vector<std::shared_ptr<const CompiledPolicy>>();
    std::string reference = testing::ReadFileOrDie(testing::SharedDir() + "/conformance/reference-policy.yaml");
    if (!reference.empty()) v->push_back(CompileOrDie(reference, "the reference policy"));
    for (const char* file : {"/examples/policies/default.yaml", "/tests/fuzz/actions-policy.yaml"}) {
      v->push_back(CompileOrDie(testing::ReadFileOrDie(testing::SourceDir() + file), file));
    }
    return v;
  }();
  return *policies;
}

// Token extraction from a request header (`location` and `header` filled in per policy) and
// header matching in both directions.
constexpr char kHeadersPolicy[] = R"yaml(
categories:
  ssn:
    - regex: "\\b\\d{3}-\\d{2}-\\d{4}\\b"
  email:
    - regex: "[a-zA-Z0-9_.+-]{2,}@[a-zA-Z0-9-]{3,}\\.[a-zA-Z]{2,}"
  secret:
    - raw_insensitive: secret
endpoints:
  - matches: "**"
    token_extractor:
      location: LOCATION
      header: HEADER
      extractor:
        - regex: "(?i)bearer (.+)"
        - jwt_decode
        - metadata:
            subject:
              - json_path: $.sub
            tenant: !regex "t-[0-9]+"
            hashed:
              - json_path: $.claims[1].id
              - hash
        - json_path: $.name
    config:
      ssn:
        search: all
      email:
        search: all_header
        report_style: sha256
      secret:
        contexts: [{header: X-Debug}, {header: cookie}]
        search: all
)yaml";

std::shared_ptr<const CompiledPolicy> HeadersPolicy(const char* location, const char* header) {
  std::string yaml = kHeadersPolicy;
  yaml.replace(yaml.find("LOCATION"), 8, location);
  yaml.replace(yaml.find("HEADER"), 6, header);
  return CompileOrDie(yaml, "the headers policy");
}

struct Coding {
  const char* content_type;
  const char* header;  // a coding header, or nullptr
  const char* value;
};
constexpr Coding kCodings[] = {
    {"application/json", nullptr, nullptr},
    {"text/plain", nullptr, nullptr},
    {"application/grpc", nullptr, nullptr},
    {"application/grpc", "grpc-encoding", "gzip"},
    {"application/json", "content-encoding", "gzip"},
    {"text/plain", "content-encoding", "deflate, br"},
    {"application/json; charset=utf-8", nullptr, nullptr},
    {"application/octet-stream", nullptr, nullptr},
};

struct Run {
  DirectionReport full;
  std::string report;
  std::string out;
};

// One transaction over `body`, cut into chunks by `cuts` (chunk sizes, cycled; empty: whole).
Run Scan(const std::shared_ptr<const CompiledPolicy>& policy, Direction d, const Coding& coding,
         TransactionOptions options, PolicyCache* cache, std::string_view body, const std::vector<size_t>& cuts) {
  Transaction tx(policy, "api.example.com", "/api/customers", options, cache);
  HeaderList headers = {{"content-type", coding.content_type}};
  if (coding.header != nullptr) headers.emplace_back(coding.header, coding.value);
  tx.OnHeaders(d, headers);
  Run run;
  if (cuts.empty()) {
    tx.OnBody(d, body, true, &run.out);
  } else {
    size_t at = 0;
    for (size_t k = 0; at < body.size(); ++k) {
      const size_t n = std::min(cuts[k % cuts.size()], body.size() - at);
      tx.OnBody(d, body.substr(at, n), false, &run.out);
      at += n;
    }
    tx.OnBody(d, "", true, &run.out);
  }
  run.full = tx.report(d);
  run.report = DirectionReportToJson(run.full, 0);
  return run;
}

std::string Differ(const char* what, const Run& want, const Run& got) {
  if (want.report != got.report) {
    return std::string(what) + ": reports differ\n  whole:   " + want.report + "\n  " + what + ": " + got.report;
  }
  if (want.out != got.out) {
    return std::string(what) + ": forwarded bytes differ (" + std::to_string(want.out.size()) + " vs " +
           std::to_string(got.out.size()) + " bytes)";
  }
  return {};
}

// A scalar as the tokenizer or nlohmann/json saw it.
struct Scalar {
  bool is_key = false;
  bool is_number = false;
  std::string text;  // decoded; numbers' text is not compared (nlohmann keeps only floats')
  std::string path;
  uint64_t raw_begin = 0, raw_end = 0;  // body offsets (compared where there is a reference)
  bool rewritable = true;               // ScalarParser::rewritable() as it began
  bool operator==(const Scalar& o) const {
    return is_key == o.is_key && is_number == o.is_number && (is_number || text == o.text) && path == o.path;
  }
  std::string ToString() const {
    const std::string quoted = nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
    return std::string(is_key ? "key " : is_number ? "number " : "string ") + quoted + " at " + path;
  }
};

// Collects what a parser delivers, with its path as each scalar ends.
class ScalarRecorder final : public ScalarSink {
 public:
  const ScalarParser* parser = nullptr;
  std::vector<Scalar> scalars;
  void OnScalarBegin(bool is_key, bool is_number, uint64_t raw) override {
    scalars.push_back(Scalar{is_key, is_number, {}, {}, raw, raw, parser->rewritable()});
  }
  void OnScalarData(std::string_view decoded, uint64_t, uint64_t) override { scalars.back().text += decoded; }
  void OnScalarEnd(uint64_t raw) override {
    scalars.back().path = parser->CurrentPath();
    scalars.back().raw_end = raw;
  }
};

// nlohmann/json's SAX events as the same scalars, paths built as the tokenizer documents them
// (`a.b[3].c`; a key's path is the member it names).
class ExpectedScalars : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::vector<Scalar> scalars;
  bool long_key = false;  // the tokenizer truncates keys in paths past max_key_bytes

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Number(); }
  bool number_unsigned(number_unsigned_t) override { return Number(); }
  bool number_float(number_float_t, const string_t&) override { return Number(); }
  bool string(string_t& s) override {
    Value();
    scalars.push_back(Scalar{false, false, s, Path()});
    return true;
  }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override {
    Value();
    Push(false);
    return true;
  }
  bool key(string_t& k) override {
    frames_.back().key = k;
    long_key = long_key || k.size() > JsonTokenizer::Limits().max_key_bytes;
    scalars.push_back(Scalar{true, false, k, Path()});
    return true;
  }
  bool end_object() override { return Pop(); }
  bool start_array(std::size_t) override {
    Value();
    Push(true);
    return true;
  }
  bool end_array() override { return Pop(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  struct Frame {
    bool is_array;
    int64_t index;
    std::string key;
  };
  bool Value() {
    if (!frames_.empty() && frames_.back().is_array) ++frames_.back().index;
    return true;
  }
  bool Number() {
    Value();
    scalars.push_back(Scalar{false, true, {}, Path()});
    return true;
  }
  void Push(bool is_array) { frames_.push_back(Frame{is_array, -1, {}}); }
  bool Pop() {
    frames_.pop_back();
    return true;
  }
  std::string Path() const {
    std::string out;
    for (const Frame& f : frames_) {
      if (f.is_array) {
        out += "[" + std::to_string(f.index) + "]";
      } else {
        if (!out.empty()) out += ".";
        out += f.key;
      }
    }
    return out;
  }
  std::vector<Frame> frames_;
};

}  // namespace

std::string CheckDecoderCase(const uint8_t* data, size_t size) {
  if (size < 3) return {};
  struct Stack {
    const char* header;  // codings in the order they were applied
    std::string (*encode)(std::string_view);
    std::string (*first)(std::string_view);  // of two stacked codings, the first applied
  };
  static const Stack kStacks[] = {
      {"gzip", [](std::string_view p) { return testing::Gzip(p); }, nullptr},
      {"deflate", [](std::string_view p) { return testing::Deflate(p, testing::kZlibBits); }, nullptr},
      {"br", [](std::string_view p) { return testing::Brotli(p); }, nullptr},
      {"gzip, br", [](std::string_view p) { return testing::Brotli(testing::Gzip(p)); },
       [](std::string_view p) { return testing::Gzip(p); }},
      {"br, deflate", [](std::string_view p) { return testing::Deflate(testing::Brotli(p), testing::kZlibBits); },
       [](std::string_view p) { return testing::Brotli(p); }},
      {"GZIP,  identity", [](std::string_view p) { return testing::Gzip(p); }, nullptr},
  };
  const Stack& stack = kStacks[data[0] % std::size(kStacks)];
  ContentDecoderOptions options;
  if (data[2] < 32) options.max_decoded_bytes = 1 + data[2] * 37u;
  const std::string_view payload(reinterpret_cast<const char*>(data) + 3, size - 3);

  auto decode = [&](std::string_view encoded, std::string* out) {
    auto decoder = ContentDecoder::Create(stack.header, options);
    std::mt19937 rng(data[1]);
    Status s = decoder->status();
    for (size_t at = 0; at < encoded.size() && s.ok();) {
      const size_t n = std::min<size_t>(1 + rng() % 300, encoded.size() - at);
      s = decoder->Decode(encoded.substr(at, n), out);
      at += n;
    }
    if (s.ok()) s = decoder->Finish(out);
    return s;
  };
  std::string out;
  const Status s = decode(stack.encode(payload), &out);
  // The cap holds for every layer: two stacked codings need the intermediate stream under it too.
  const size_t largest_layer = std::max(payload.size(), stack.first ? stack.first(payload).size() : size_t{0});
  if (largest_layer <= options.max_decoded_bytes) {
    if (!s.ok()) return std::string(stack.header) + ": a valid stream failed: " + s.message();
    if (out != payload) return std::string(stack.header) + ": decoded bytes differ from the payload";
  } else {
    if (s.code() != StatusCode::kResourceExhausted) return std::string(stack.header) + ": past the cap, " + s.message();
    if (payload.substr(0, out.size()) != out) {
      return std::string(stack.header) + ": capped output is not the payload's start";
    }
    if (!stack.first && out.size() != options.max_decoded_bytes) {
      return std::string(stack.header) + ": capped at " + std::to_string(out.size()) + " bytes, not the cap";
    }
  }
  std::string garbage;
  (void)decode(payload, &garbage);
  if (garbage.size() > options.max_decoded_bytes) return std::string(stack.header) + ": garbage decoded past the cap";
  return {};
}

std::string CheckGrpcCase(const uint8_t* data, size_t size) {
  if (size < 2) return {};
  GrpcWalker::Limits limits;
  switch ((data[0] >> 1) & 3) {
    case 1:  // fields classified from their first bytes early, and held briefly
      limits.probe_bytes = 16;
      limits.max_buffered_field = 64;
      break;
    case 2:
      limits.max_depth = 2;
      limits.max_decoded_bytes = 100;
      break;
    default: break;
  }
  const std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);
  struct Walked {
    std::vector<Scalar> scalars;
    bool ok;
    std::string error, unread;
    uint64_t error_offset;
  };
  auto walk = [&](const std::vector<size_t>& cuts) {
    ScalarRecorder recorder;
    GrpcWalker walker(&recorder, limits);
    recorder.parser = &walker;
    if (data[0] & 1) walker.SetMessageEncoding("gzip");
    bool ok = true;
    for (size_t at = 0, k = 0; at < body.size() && ok; ++k) {
      const size_t n = cuts.empty() ? body.size() : std::min(cuts[k % cuts.size()], body.size() - at);
      ok = walker.Feed(body.substr(at, n));
      at += n;
    }
    if (ok) ok = walker.Finish();
    return Walked{std::move(recorder.scalars), ok, walker.error(), walker.Unread(), walker.error_offset()};
  };
  std::mt19937 rng(data[1]);
  std::vector<size_t> cuts;
  for (int i = 0; i < 5; ++i) cuts.push_back(1 + rng() % 40);
  const Walked whole = walk({});
  for (const Walked& other : {walk(cuts), walk({1})}) {
    if (other.ok != whole.ok || other.error != whole.error || other.error_offset != whole.error_offset ||
        other.unread != whole.unread) {
      return "gRPC: chunked, the walk ends otherwise: " + other.error + " / " + other.unread + "\n  whole: " +
             whole.error + " / " + whole.unread;
    }
    if (other.scalars.size() != whole.scalars.size()) {
      return "gRPC: chunked, " + std::to_string(other.scalars.size()) + " scalars where whole gives " +
             std::to_string(whole.scalars.size());
    }
    for (size_t k = 0; k < whole.scalars.size(); ++k) {
      const Scalar& a = whole.scalars[k];
      const Scalar& b = other.scalars[k];
      if (!(a == b) || a.text != b.text || a.raw_begin != b.raw_begin || a.raw_end != b.raw_end) {
        return "gRPC: scalar " + std::to_string(k) + " chunked: " + b.ToString() + " @" + std::to_string(b.raw_begin) +
               "; whole: " + a.ToString() + " @" + std::to_string(a.raw_begin);
      }
      // A compressed message's scalars span the message as its prefix declared it (the walker
      // cannot know yet that the body will end first; the transaction clamps its matches).
      if ((a.rewritable && a.raw_end > body.size()) || a.raw_begin > a.raw_end || a.raw_begin > body.size()) {
        return "gRPC: a scalar's span lies outside the body";
      }
    }
  }
  return {};
}

std::string CheckJsonCase(const uint8_t* data, size_t size) {
  if (size < 1) return {};
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::mt19937 rng(data[0]);
  ScalarRecorder got;
  JsonTokenizer tokenizer(&got);
  got.parser = &tokenizer;
  bool ok = true;
  for (size_t at = 0; at < text.size() && ok;) {
    const size_t n = std::min<size_t>(1 + rng() % 64, text.size() - at);
    ok = tokenizer.Feed(text.substr(at, n));
    at += n;
  }
  if (ok) ok = tokenizer.Finish();

  // nlohmann/json takes a raw NUL byte (never valid JSON) for the end of its input.
  if (text.find('\0') != std::string_view::npos) return {};
  ExpectedScalars want;
  if (!nlohmann::json::sax_parse(text, &want, nlohmann::json::input_format_t::json, /*strict=*/true)) return {};
  if (!ok) {
    if (tokenizer.error().find("deeper than") != std::string::npos) return {};  // its depth limit
    return "the tokenizer refused a document nlohmann/json accepts: " + tokenizer.error();
  }
  if (want.long_key) {  // paths differ by design (truncated keys): compare the rest
    for (Scalar& s : want.scalars) s.path.clear();
    for (Scalar& s : got.scalars) s.path.clear();
  }
  for (size_t k = 0; k < std::max(want.scalars.size(), got.scalars.size()); ++k) {
    if (k >= got.scalars.size()) return "scalar " + std::to_string(k) + " missing: " + want.scalars[k].ToString();
    if (k >= want.scalars.size()) return "scalar " + std::to_string(k) + " extra: " + got.scalars[k].ToString();
    if (!(got.scalars[k] == want.scalars[k])) {
      return "scalar " + std::to_string(k) + ": " + got.scalars[k].ToString() + " where nlohmann/json has " +
             want.scalars[k].ToString();
    }
  }
  return {};
}

std::string CheckBodyCase(const uint8_t* data, size_t size) {
  if (size < 3) return {};
  const auto& policies = Policies();
  const uint8_t mode = data[0];
  const auto& policy = policies[(mode & 3) % policies.size()];
  const Coding& coding = kCodings[(mode >> 2) & 7];
  const Direction d = (mode & 0x20) ? Direction::kRequest : Direction::kResponse;
  TransactionOptions options;
  options.max_values_per_category = 50;
  if (mode & 0x40) options.max_analyzed_bytes = 1 + data[1] * 8;
  if (mode & 0x80) options.hold_bodies = true;
  std::mt19937 rng(static_cast<uint32_t>(data[1]) << 8 | data[2]);
  const std::string_view body(reinterpret_cast<const char*>(data) + 3, size - 3);

  const Run whole = Scan(policy, d, coding, options, nullptr, body, {});
  // What the report and the forwarded bytes say of themselves.
  const bool decoded = coding.header != nullptr && std::string_view(coding.header) == "content-encoding";
  for (const CategoryReport& c : whole.full.categories) {
    if (c.count < c.matches.size()) return "category " + c.name + ": count below its matches";
    for (const MatchRecord& m : c.matches) {
      // Offsets are the body's (a Content-Encoding's are the decoded body's).
      if (!decoded && m.context != "header" && m.offset + m.length > body.size()) {
        return "category " + c.name + ": a match at " + std::to_string(m.offset) + "+" + std::to_string(m.length) +
               " lies past the body's " + std::to_string(body.size()) + " bytes";
      }
    }
  }
  if (whole.full.decision != Decision::kRedact && whole.full.decision != Decision::kBlock && whole.out != body) {
    return "the body was changed without a redact or block decision";
  }
  if (whole.full.decision == Decision::kRedact && whole.full.parser == "json" && !decoded &&
      nlohmann::json::accept(body) && !nlohmann::json::accept(whole.out)) {
    return "redaction made a valid JSON body invalid:\n  " + std::string(body) + "\n  " + whole.out;
  }
  // Redaction leaves nothing it masked: a redacted text occurs in the forwarded body at most as
  // often as in the received one, less the times it was redacted. (Scanning the redacted body
  // again is no test: a mask can give a neighbour the word boundary its match needed.) The masks
  // hold no byte of those texts, so they cannot make new occurrences. Counts are of matches the
  // report kept (`max_values_per_category`), at most the ones redacted: a weaker bound, still
  // true. Only where the body was analysed whole, as the bytes it came as.
  if (whole.full.decision == Decision::kRedact && coding.header == nullptr && !whole.full.truncated &&
      whole.full.parse_error.empty()) {
    std::map<std::string, size_t> redacted;
    for (const CategoryReport& c : whole.full.categories) {
      if (c.action != Action::kRedact) continue;
      for (const MatchRecord& m : c.matches) {
        if (m.context != "header") ++redacted[std::string(body.substr(m.offset, m.length))];
      }
    }
    auto occurrences = [](std::string_view in, const std::string& text) {
      size_t n = 0;
      for (size_t at = in.find(text); at != std::string_view::npos; at = in.find(text, at + text.size())) ++n;
      return n;
    };
    for (const auto& [text, times] : redacted) {
      const size_t before = occurrences(body, text);
      const size_t after = occurrences(whole.out, text);
      if (after + times > before) {
        return "redaction left \"" + text + "\": " + std::to_string(before) + " in the body, " +
               std::to_string(times) + " redacted, " + std::to_string(after) + " forwarded";
      }
    }
  }
  // Small chunks, one byte among them, then larger ones.
  std::vector<size_t> small, mixed;
  for (int i = 0; i < 7; ++i) small.push_back(1 + rng() % 9);
  for (int i = 0; i < 5; ++i) mixed.push_back(1 + rng() % 700);
  PolicyCache cache;
  if (std::string e = Differ("chunked", whole, Scan(policy, d, coding, options, &cache, body, small)); !e.empty()) {
    return e;
  }
  // Again on the same cache: its clean texts now remember this body's.
  if (std::string e = Differ("cached", whole, Scan(policy, d, coding, options, &cache, body, mixed)); !e.empty()) {
    return e;
  }
  TransactionOptions unbatched = options;
  unbatched.batch_values = false;
  if (std::string e = Differ("unbatched", whole, Scan(policy, d, coding, unbatched, nullptr, body, {1})); !e.empty()) {
    return e;
  }
  return {};
}

std::string CheckHeadersCase(const uint8_t* data, size_t size) {
  if (size < 1) return {};
  static const auto* policies = new std::vector<std::shared_ptr<const CompiledPolicy>>{
      HeadersPolicy("request", "authorization"), HeadersPolicy("request_cookie", "session"),
      HeadersPolicy("response", "x-token")};
  const auto& policy = (*policies)[data[0] % policies->size()];
  HeaderList headers;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!rest.empty()) {
    const size_t eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    const size_t colon = line.find(':');
    headers.emplace_back(line.substr(0, colon), colon == std::string_view::npos ? "" : line.substr(colon + 1));
  }
  auto run = [&](PolicyCache* cache) {
    Transaction tx(policy, "api.example.com", "/api/customers", {}, cache);
    std::string out;
    for (Direction d : {Direction::kRequest, Direction::kResponse}) {
      tx.OnHeaders(d, headers);
      tx.OnBody(d, "", true, &out);
    }
    std::string result = DirectionReportToJson(tx.report(Direction::kRequest), 0) +
                         DirectionReportToJson(tx.report(Direction::kResponse), 0);
    if (tx.token()) {
      result += "token=" + tx.token()->token;
      for (const auto& [name, value] : tx.token()->metadata) result += ";" + name + "=" + value;
    }
    return result;
  };
  PolicyCache cache;
  const std::string fresh = run(&cache);
  const std::string again = run(&cache);
  if (fresh != again) return "headers: a second transaction on the same cache differs\n  " + fresh + "\n  " + again;
  return {};
}

std::string CheckPolicyCase(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  // A refusal names the field and its line (only an empty document has neither).
  auto located = [](const Status& s) -> std::string {
    const std::string& m = s.message();
    if (m == "policy: empty policy" || m.find(" (line ") != std::string::npos) return {};
    return "a policy was refused without saying where: " + m;
  };
  auto policy = LoadPolicy(yaml);
  if (!policy.ok()) return located(policy.status());
  auto compiled = CompiledPolicy::Compile(std::move(*policy));
  if (!compiled.ok()) return located(compiled.status());
  static const char kBody[] = R"({"ssn":"123-45-6789","email":"a.b@example.com","n":[4111111111111111,1e3],"t":"x"})";
  for (const char* type : {"application/json", "text/plain"}) {
    Transaction tx(*compiled, "api.example.com", "/api/x");
    tx.OnHeaders(Direction::kResponse, {{"content-type", type}});
    std::string out;
    tx.OnBody(Direction::kResponse, kBody, true, &out);
    (void)DirectionReportToJson(tx.report(Direction::kResponse), 0);
  }
  return {};
}

std::string CheckFilterInputCase(const uint8_t* data, size_t size) {
  if (size < 1) return {};
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto config = ParsePluginConfig(text);
    if (!config.ok()) return config.status().message().empty() ? "a configuration was refused without a message" : "";
    if (!config->policy_yaml.empty()) {
      const std::string& yaml = config->policy_yaml;
      return CheckPolicyCase(reinterpret_cast<const uint8_t*>(yaml.data()), yaml.size());
    }
    return {};
  }
  auto update = ParsePolicyResponse(text);
  if (!update.ok()) return update.status().message().empty() ? "a policy response was refused without a message" : "";
  return {};
}

}  // namespace leakscope::fuzz
