// Throughput, scaling and memory benchmarks for the LeakScope engine.
//
// Every benchmark drives the public API the way a proxy filter does: compile a policy once,
// then per HTTP response create a Transaction, pass the headers and feed the body in chunks.
// Inputs are generated deterministically (fixed seeds, our own PRNG rather than <random>
// distributions, whose output differs between standard libraries) so numbers are comparable
// across machines and runs. See bench/README.md for how to run them.

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/compiled_policy.h"
#include "engine/policy.h"
#include "engine/report.h"
#include "engine/transaction.h"
#include "support/protobuf_wire.h"

namespace leakscope {
namespace {

constexpr char kAuthority[] = "api.example.com";
constexpr char kPath[] = "/api/customers";
// Envoy hands body data to filters in buffers of about this size.
constexpr size_t kProxyChunkBytes = 16 * 1024;
// The streaming benchmarks use larger chunks, as a proxy does under sustained load.
constexpr size_t kStreamChunkBytes = 64 * 1024;
constexpr uint64_t kMiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Deterministic data generation.

// SplitMix64: tiny, fast, and its output is fully specified, unlike std:: distributions.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  // True with probability `percent`/100.
  bool Chance(int percent) { return Below(100) < static_cast<uint64_t>(percent); }
  template <typename T, size_t N>
  const T& Pick(const T (&items)[N]) {
    return items[Below(N)];
  }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(static_cast<char>('0' + Below(10)));
    return s;
  }
  std::string Hex(int n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(kHex[Below(16)]);
    return s;
  }
  std::string Upper(int n) {
    static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    std::string s;
    for (int i = 0; i < n; ++i) s.push_back(kChars[Below(32)]);
    return s;
  }

 private:
  uint64_t state_;
};

constexpr const char* kFirstNames[] = {"Maria", "James", "Wei", "Aisha", "Olga", "Carlos",
                                       "Priya", "John", "Fatima", "Liam", "Sofia", "Kenji",
                                       "Amara", "Lucas", "Elena", "Noah"};
constexpr const char* kLastNames[] = {"Garcia", "Smith", "Chen", "Khan", "Ivanova", "Silva",
                                      "Patel", "Johnson", "Haddad", "Murphy", "Rossi", "Tanaka",
                                      "Okafor", "Martin", "Novak", "Brown"};
constexpr const char* kStreetNames[] = {"Oak", "Maple", "Main", "Cedar", "Elm", "Washington",
                                        "Lake", "Hill", "Park", "Pine"};
constexpr const char* kStreetTypes[] = {"Street", "Avenue", "Road", "Lane", "Drive", "Blvd"};
constexpr const char* kCities[] = {"Springfield", "Portland", "Austin", "Denver", "Columbus",
                                   "Madison", "Raleigh", "Boise"};
constexpr const char* kStates[] = {"IL", "OR", "TX", "CO", "OH", "WI", "NC", "ID"};
constexpr const char* kDomains[] = {"gmail.com", "yahoo.com", "outlook.com", "example.net",
                                    "fastmail.fm", "acme-corp.com"};
constexpr const char* kTags[] = {"vip", "newsletter", "wholesale", "beta", "churn-risk",
                                 "referral", "enterprise", "trial"};
constexpr const char* kLanguages[] = {"en-US", "es-MX", "fr-FR", "de-DE", "ja-JP", "pt-BR"};
constexpr const char* kCurrencies[] = {"USD", "EUR", "GBP", "JPY", "BRL", "CAD"};
// Support notes: mostly harmless prose; a few carry data a policy should catch in free text.
constexpr const char* kPlainNotes[] = {
    "Prefers contact by email. Renewal due next quarter.",
    "Requested invoice copies for the last three months; sent via portal.",
    "Shipping delayed by carrier, customer informed and offered a discount code.",
    "Upgraded to the annual plan after the trial period ended.",
    "Asked about bulk pricing for 250 units, forwarded to sales.",
    "Account merged with duplicate created during the 2022 migration.",
    "No issues reported. Satisfaction survey score 9 of 10.",
    "Returned item #4471 (wrong size); refund processed to original payment method.",
};

std::string Name(Rng& rng) {
  return std::string(rng.Pick(kFirstNames)) + " " + rng.Pick(kLastNames);
}

std::string Email(Rng& rng) {
  std::string s = rng.Pick(kFirstNames);
  s += ".";
  s += rng.Pick(kLastNames);
  s += std::to_string(rng.Below(100));
  s += "@";
  s += rng.Pick(kDomains);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Phone(Rng& rng) {
  std::string area = std::to_string(200 + rng.Below(800));
  std::string mid = std::to_string(200 + rng.Below(800));
  std::string last = rng.Digits(4);
  switch (rng.Below(3)) {
    case 0: return "+1 " + area + "-" + mid + "-" + last;
    case 1: return "(" + area + ") " + mid + "-" + last;
    default: return area + "." + mid + "." + last;
  }
}

std::string Ssn(Rng& rng) {
  return std::to_string(100 + rng.Below(565)) + "-" + std::to_string(10 + rng.Below(90)) + "-" +
         std::to_string(1000 + rng.Below(9000));
}

// A Luhn-valid card number, so native card matchers accept it like a real one.
std::string CardNumber(Rng& rng) {
  static constexpr const char* kPrefixes[] = {"4", "51", "55", "6011", "4111"};
  std::string digits = rng.Pick(kPrefixes);
  while (digits.size() < 15) digits.push_back(static_cast<char>('0' + rng.Below(10)));
  int sum = 0;
  for (int i = 14, pos = 0; i >= 0; --i, ++pos) {
    int d = digits[i] - '0';
    if (pos % 2 == 0) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  digits.push_back(static_cast<char>('0' + (10 - sum % 10) % 10));
  if (rng.Chance(50)) return digits;
  const char sep = rng.Chance(50) ? ' ' : '-';
  return digits.substr(0, 4) + sep + digits.substr(4, 4) + sep + digits.substr(8, 4) + sep +
         digits.substr(12, 4);
}

std::string AwsKey(Rng& rng) { return "AKIA" + rng.Upper(16); }

std::string Timestamp(Rng& rng) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "2024-%02d-%02dT%02d:%02d:%02d.%03dZ",
                static_cast<int>(1 + rng.Below(12)), static_cast<int>(1 + rng.Below(28)),
                static_cast<int>(rng.Below(24)), static_cast<int>(rng.Below(60)),
                static_cast<int>(rng.Below(60)), static_cast<int>(rng.Below(1000)));
  return buf;
}

std::string Note(Rng& rng) {
  switch (rng.Below(20)) {
    case 0: return "Customer asked to update phone to " + Phone(rng) + " and confirm by SMS.";
    case 1: return "Secondary contact: " + Email(rng) + " (spouse).";
    case 2: return "Verbal verification done, last digits of SSN " + Ssn(rng) + " matched.";
    case 3:
      return "Paid over the phone with card " + CardNumber(rng) + ", receipt sent.";
    case 4:
      return "Moved to " + std::to_string(10 + rng.Below(9990)) + " " + rng.Pick(kStreetNames) +
             " " + rng.Pick(kStreetTypes) + ", new billing address pending.";
    default: return rng.Pick(kPlainNotes);
  }
}

// One customer record as an API returns it: a dozen top-level fields, nested objects, numbers,
// booleans. Most values are harmless; names, emails and (often) phones are present on every
// record, full card numbers and SSNs on a minority, as in real customer endpoints.
std::string CustomerJson(Rng& rng, uint64_t id) {
  std::string first = rng.Pick(kFirstNames);
  std::string last = rng.Pick(kLastNames);
  std::string o;
  o.reserve(1024);
  o += "{\"id\":" + std::to_string(id);
  o += ",\"uuid\":\"" + rng.Hex(8) + "-" + rng.Hex(4) + "-4" + rng.Hex(3) + "-a" + rng.Hex(3) +
       "-" + rng.Hex(12) + "\"";
  o += ",\"first_name\":\"" + first + "\",\"last_name\":\"" + last + "\"";
  o += ",\"email\":\"" + Email(rng) + "\"";
  if (rng.Chance(70)) o += ",\"phone\":\"" + Phone(rng) + "\"";
  o += ",\"address\":{\"street\":\"" + std::to_string(1 + rng.Below(9999)) + " " +
       rng.Pick(kStreetNames) + " " + rng.Pick(kStreetTypes) + "\",\"city\":\"" +
       rng.Pick(kCities) + "\",\"state\":\"" + rng.Pick(kStates) + "\",\"zip\":\"" +
       rng.Digits(5) + "\",\"country\":\"US\"}";
  o += ",\"payment\":{\"brand\":\"visa\"";
  if (rng.Chance(15)) {
    o += ",\"card_number\":\"" + CardNumber(rng) + "\"";
  } else {
    o += ",\"last4\":\"" + rng.Digits(4) + "\"";
  }
  o += ",\"exp\":\"" + std::to_string(1 + rng.Below(12)) + "/" + std::to_string(25 + rng.Below(6)) +
       "\",\"default\":" + (rng.Chance(80) ? "true" : "false") + "}";
  if (rng.Chance(8)) o += ",\"ssn\":\"" + Ssn(rng) + "\"";
  if (rng.Chance(30)) {
    o += ",\"date_of_birth\":\"" + std::to_string(1950 + rng.Below(55)) + "-0" +
         std::to_string(1 + rng.Below(9)) + "-1" + std::to_string(rng.Below(10)) + "\"";
  }
  o += ",\"created_at\":\"" + Timestamp(rng) + "\",\"updated_at\":\"" + Timestamp(rng) + "\"";
  o += ",\"is_active\":";
  o += rng.Chance(90) ? "true" : "false";
  o += ",\"email_verified\":";
  o += rng.Chance(75) ? "true" : "false";
  o += ",\"balance\":" + std::to_string(rng.Below(100000)) + "." + rng.Digits(2);
  o += ",\"loyalty_points\":" + std::to_string(rng.Below(20000));
  o += ",\"tags\":[\"" + std::string(rng.Pick(kTags)) + "\",\"" + rng.Pick(kTags) + "\"]";
  o += ",\"preferences\":{\"language\":\"" + std::string(rng.Pick(kLanguages)) +
       "\",\"currency\":\"" + rng.Pick(kCurrencies) + "\",\"marketing_opt_in\":" +
       (rng.Chance(40) ? "true" : "false") + ",\"theme\":\"" + (rng.Chance(50) ? "dark" : "light") +
       "\"}";
  o += ",\"orders\":{\"count\":" + std::to_string(rng.Below(200)) + ",\"last_order_id\":\"ORD-" +
       rng.Digits(8) + "\",\"total_spent\":" + std::to_string(rng.Below(50000)) + "." +
       rng.Digits(2) + "}";
  o += ",\"notes\":\"" + Note(rng) + "\"";
  o += ",\"metadata\":null}";
  return o;
}

// A JSON array of customers padded with whitespace to exactly `target` bytes (when at least one
// record fits), so bytes/s is computed on the advertised size.
std::string GenerateCustomersJson(size_t target, uint64_t seed) {
  Rng rng(seed);
  std::string out = "[";
  out.reserve(target + 1024);
  uint64_t id = 100000;
  bool first = true;
  while (true) {
    std::string obj = CustomerJson(rng, id++);
    const size_t needed = out.size() + (first ? 0 : 1) + obj.size() + 1;
    if (needed > target && !first) break;
    if (!first) out += ",";
    out += obj;
    first = false;
    if (needed > target) break;
  }
  if (out.size() + 1 < target) out.append(target - out.size() - 1, ' ');
  out += "]";
  return out;
}

// The same kind of customer record as CustomerJson, as a protobuf message (field numbers in the
// order of the JSON fields; nested objects are nested messages, numbers varints or fixed64).
std::string CustomerProto(Rng& rng, uint64_t id) {
  using testing::Bytes;
  using testing::Fixed64Field;
  using testing::VarintField;
  std::string o = VarintField(1, id);
  o += Bytes(2, rng.Hex(8) + "-" + rng.Hex(4) + "-4" + rng.Hex(3) + "-a" + rng.Hex(3) + "-" + rng.Hex(12));
  o += Bytes(3, rng.Pick(kFirstNames)) + Bytes(4, rng.Pick(kLastNames)) + Bytes(5, Email(rng));
  if (rng.Chance(70)) o += Bytes(6, Phone(rng));
  o += Bytes(7, Bytes(1, std::to_string(1 + rng.Below(9999)) + " " + rng.Pick(kStreetNames) + " " +
                         rng.Pick(kStreetTypes)) +
                    Bytes(2, rng.Pick(kCities)) + Bytes(3, rng.Pick(kStates)) + Bytes(4, rng.Digits(5)) +
                    Bytes(5, "US"));
  std::string payment = Bytes(1, "visa");
  payment += rng.Chance(15) ? Bytes(2, CardNumber(rng)) : Bytes(3, rng.Digits(4));
  payment += Bytes(4, std::to_string(1 + rng.Below(12)) + "/" + std::to_string(25 + rng.Below(6)));
  payment += VarintField(5, rng.Chance(80) ? 1 : 0);
  o += Bytes(8, payment);
  if (rng.Chance(8)) o += Bytes(9, Ssn(rng));
  if (rng.Chance(30)) {
    o += Bytes(10, std::to_string(1950 + rng.Below(55)) + "-0" + std::to_string(1 + rng.Below(9)) + "-1" +
                       std::to_string(rng.Below(10)));
  }
  o += Bytes(11, Timestamp(rng)) + Bytes(12, Timestamp(rng));
  o += VarintField(13, rng.Chance(90) ? 1 : 0) + VarintField(14, rng.Chance(75) ? 1 : 0);
  o += Fixed64Field(15, rng.Below(100000) * 100 + rng.Below(100)) + VarintField(16, rng.Below(20000));
  o += Bytes(17, rng.Pick(kTags)) + Bytes(17, rng.Pick(kTags));
  o += Bytes(18, Bytes(1, rng.Pick(kLanguages)) + Bytes(2, rng.Pick(kCurrencies)) +
                     VarintField(3, rng.Chance(40) ? 1 : 0) + Bytes(4, rng.Chance(50) ? "dark" : "light"));
  o += Bytes(19, VarintField(1, rng.Below(200)) + Bytes(2, "ORD-" + rng.Digits(8)) +
                     Fixed64Field(3, rng.Below(50000) * 100 + rng.Below(100)));
  o += Bytes(20, Note(rng));
  return o;
}

// A gRPC response stream of about `target` bytes: messages of up to 20 customers each (a
// repeated field 1), each behind its 5-byte prefix.
std::string GenerateCustomersGrpc(size_t target, uint64_t seed) {
  Rng rng(seed);
  std::string out;
  out.reserve(target + 64 * 1024);
  uint64_t id = 100000;
  while (out.size() < target) {
    std::string message;
    for (int i = 0; i < 20 && out.size() + message.size() < target; ++i) {
      message += testing::Bytes(1, CustomerProto(rng, id++));
    }
    out += testing::GrpcFrame(message);
  }
  return out;
}

// One application log line; about one line in ten carries sensitive data. Never contains '"'
// or '\' so the same text can be embedded in a JSON string with only newline escaping.
std::string LogLine(Rng& rng) {
  static constexpr const char* kThreads[] = {"http-nio-8080-exec-3", "http-nio-8080-exec-7",
                                             "worker-2", "scheduler-1", "kafka-consumer-0"};
  static constexpr const char* kLoggers[] = {"c.e.api.CustomerController",
                                             "c.e.billing.InvoiceService",
                                             "c.e.auth.SessionFilter", "o.h.engine.jdbc.batch"};
  static constexpr const char* kRoutes[] = {"/api/customers/", "/api/orders/", "/api/invoices/",
                                            "/api/products/", "/healthz?id="};
  std::string ts = Timestamp(rng);
  std::string head = ts + " ";
  std::string line;
  switch (rng.Below(40)) {
    case 0:
      line = head + "WARN  [" + rng.Pick(kThreads) + "] c.e.billing.PaymentService - card " +
             CardNumber(rng) + " declined for customer " + Email(rng);
      break;
    case 1:
      line = head + "DEBUG [" + rng.Pick(kThreads) + "] c.e.api.ProfileMapper - profile name=" +
             Name(rng) + " ssn=" + Ssn(rng) + " phone=" + Phone(rng);
      break;
    case 2:
      line = head + "INFO  [" + rng.Pick(kThreads) + "] c.e.mail.Notifier - sent receipt to " +
             Email(rng);
      break;
    case 3:
      line = head + "ERROR [" + rng.Pick(kThreads) +
             "] c.e.storage.S3Client - upload failed with access key " + AwsKey(rng) +
             ": AccessDenied\n    at com.example.storage.S3Client.put(S3Client.java:" +
             std::to_string(40 + rng.Below(400)) +
             ")\n    at com.example.storage.BlobStore.save(BlobStore.java:" +
             std::to_string(20 + rng.Below(200)) + ")";
      break;
    default:
      line = head + (rng.Chance(85) ? "INFO  [" : "DEBUG [") + rng.Pick(kThreads) + "] " +
             rng.Pick(kLoggers) + " - GET " + rng.Pick(kRoutes) + std::to_string(rng.Below(99999)) +
             " status=" + (rng.Chance(95) ? "200" : "404") +
             " duration_ms=" + std::to_string(rng.Below(900)) + " request_id=" + rng.Hex(16) +
             " bytes=" + std::to_string(rng.Below(65536));
      break;
  }
  line += "\n";
  return line;
}

// Log text of exactly `target` bytes (the last line may be cut, as in a truncated log tail).
std::string GenerateLogText(size_t target, uint64_t seed) {
  Rng rng(seed);
  std::string out;
  out.reserve(target + 512);
  while (out.size() < target) out += LogLine(rng);
  out.resize(target);
  return out;
}

// Inputs are cached per size: benchmark functions run several times while the library picks
// an iteration count, and generating 10 MiB each time would dominate a short run.
//
// Each size has several bodies (different seeds, 4 MiB in all, at most 64), scanned in turn: a
// host's PolicyCache remembers clean texts across transactions, so one small body scanned over
// and over would find every text of it remembered, which real traffic (new ids, names, emails in
// every response; the same keys and enums) does not.
size_t BodyVariants(size_t size) { return std::clamp<size_t>((4 * kMiB) / std::max<size_t>(size, 1), 1, 64); }

using Bodies = std::vector<std::string>;

const Bodies& CachedBodies(std::map<size_t, Bodies>* cache, size_t size, uint64_t seed,
                           std::string (*generate)(size_t, uint64_t)) {
  auto it = cache->find(size);
  if (it == cache->end()) {
    Bodies bodies;
    for (size_t i = 0; i < BodyVariants(size); ++i) bodies.push_back(generate(size, seed + i));
    it = cache->emplace(size, std::move(bodies)).first;
  }
  return it->second;
}

const Bodies& CachedJson(size_t size) {
  static auto* cache = new std::map<size_t, Bodies>();
  return CachedBodies(cache, size, 42, GenerateCustomersJson);
}

const Bodies& CachedGrpc(size_t size) {
  static auto* cache = new std::map<size_t, Bodies>();
  return CachedBodies(cache, size, 42, GenerateCustomersGrpc);
}

const Bodies& CachedText(size_t size) {
  static auto* cache = new std::map<size_t, Bodies>();
  return CachedBodies(cache, size, 7, GenerateLogText);
}

// ---------------------------------------------------------------------------------------------
// Policies.

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// The policy text benchmarks use: the shared conformance reference policy (LeakSignal's own
// example, so numbers compare with LeakSignal), else LeakScope's default example policy.
const std::string& ReferencePolicyText() {
  static const std::string* text = [] {
    auto* s = new std::string();
    if (!ReadFile(LEAKSCOPE_SHARED_DIR "/conformance/reference-policy.yaml", s) &&
        !ReadFile(LEAKSCOPE_SOURCE_DIR "/examples/policies/default.yaml", s)) {
      s->clear();
    }
    return s;
  }();
  return *text;
}

// Compiles `yaml`; on failure returns null and sets *error.
std::shared_ptr<const CompiledPolicy> CompileYaml(const std::string& yaml, std::string* error) {
  if (yaml.empty()) {
    *error = "policy file not found";
    return nullptr;
  }
  StatusOr<Policy> policy = LoadPolicy(yaml);
  if (!policy.ok()) {
    *error = "LoadPolicy: " + policy.status().message();
    return nullptr;
  }
  auto compiled = CompiledPolicy::Compile(std::move(policy).value());
  if (!compiled.ok()) {
    *error = "Compile: " + compiled.status().message();
    return nullptr;
  }
  return std::move(compiled).value();
}

struct PolicyOrError {
  std::shared_ptr<const CompiledPolicy> policy;
  std::string error;
};

const PolicyOrError& ReferencePolicy() {
  static const PolicyOrError* p = [] {
    auto* r = new PolicyOrError();
    r->policy = CompileYaml(ReferencePolicyText(), &r->error);
    return r;
  }();
  return *p;
}

// Single-quoted YAML scalars keep regex backslashes literal; only quotes need doubling.
std::string YamlSingleQuoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "''";
    else out += c;
  }
  out += "'";
  return out;
}

// A policy of `n` distinct categories cycling through the rule shapes real policies use:
// digit-pattern regexes, email-like regexes, token-prefix regexes, raw keywords and
// case-insensitive keywords. Variants are parameterised by index so no two are identical
// (identical rules could be deduplicated and would understate the cost of a category).
std::string GeneratePolicyYaml(int n) {
  static constexpr const char* kTokenPrefixes[] = {"AKIA", "ASIA", "AGPA", "AIDA", "AROA",
                                                   "ANPA", "ANVA", "APKA", "ABIA", "ACCA"};
  static constexpr const char* kKeywords[] = {"api_key", "client_secret", "private_key",
                                              "refresh_token", "session_id", "x-api-token",
                                              "db_password", "signing_key", "webhook_secret",
                                              "auth_code"};
  static constexpr const char* kInsensitive[] = {"password", "passwd", "authorization",
                                                 "bearer", "secret", "credential", "passphrase",
                                                 "pin_code", "security_answer", "otp"};
  std::string categories = "categories:\n";
  std::string config;
  for (int i = 0; i < n; ++i) {
    const int v = i / 5;  // variant within the rule shape
    std::string kind;
    std::string rule;
    switch (i % 5) {
      case 0:
        kind = "regex";
        rule = v == 0 ? "\\b\\d{3}-\\d{2}-\\d{4}\\b"
                      : "\\b\\d{" + std::to_string(2 + v % 4) + "}-\\d{" +
                            std::to_string(3 + v % 3) + "}-\\d{4}\\b";
        break;
      case 1:
        kind = "regex";
        rule = v == 0 ? "\\b[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}\\b"
                      : "\\b[a-zA-Z0-9._%+-]+@[a-zA-Z0-9-]*corp" + std::to_string(v) +
                            "\\.(?:com|net|org)\\b";
        break;
      case 2:
        kind = "regex";
        rule = std::string("\\b") + kTokenPrefixes[v % 10] + "[A-Z0-9]{16}\\b";
        break;
      case 3:
        kind = "raw";
        rule = kKeywords[v % 10] + (v >= 10 ? "_" + std::to_string(v) : std::string());
        break;
      default:
        kind = "raw_insensitive";
        rule = kInsensitive[v % 10] + (v >= 10 ? "_" + std::to_string(v) : std::string());
        break;
    }
    const std::string name = "cat_" + std::to_string(i);
    categories += "  " + name + ":\n    - " + kind + ": " + YamlSingleQuoted(rule) + "\n";
    config += "      " + name + ": {}\n";
  }
  return categories + "endpoints:\n  - matches: '**'\n    config:\n" + config;
}

const PolicyOrError& GeneratedPolicy(int n) {
  static auto* cache = new std::map<int, PolicyOrError>();
  auto it = cache->find(n);
  if (it == cache->end()) {
    PolicyOrError p;
    p.policy = CompileYaml(GeneratePolicyYaml(n), &p.error);
    it = cache->emplace(n, std::move(p)).first;
  }
  return it->second;
}

// ---------------------------------------------------------------------------------------------
// Driving the engine.

uint64_t TotalMatches(const DirectionReport& report) {
  uint64_t n = 0;
  for (const CategoryReport& c : report.categories) n += c.count;
  return n;
}

// Scans one response body as a proxy would: fresh transaction (its endpoint resolved through the
// proxy's cache), headers, then fixed-size chunks. The forwarded output is discarded after each
// chunk, as a proxy hands it on. Returns false if the engine did not analyse the body (a
// misconfigured benchmark).
bool ScanResponse(const std::shared_ptr<const CompiledPolicy>& policy, std::string_view body,
                  const char* content_type, std::string* out, uint64_t* matches) {
  static auto* cache = new PolicyCache();
  Transaction tx(policy, kAuthority, kPath, {}, cache);
  tx.OnHeaders(Direction::kResponse, {{"content-type", content_type}});
  size_t pos = 0;
  do {
    const size_t n = std::min(kProxyChunkBytes, body.size() - pos);
    out->clear();
    tx.OnBody(Direction::kResponse, body.substr(pos, n), pos + n == body.size(), out);
    benchmark::DoNotOptimize(out->data());
    pos += n;
  } while (pos < body.size());
  const DirectionReport& report = tx.report(Direction::kResponse);
  *matches = TotalMatches(report);
  return report.analyzed;
}

void RunScan(benchmark::State& state, const PolicyOrError& policy, const Bodies& bodies,
             const char* content_type) {
  if (!policy.policy) {
    state.SkipWithError(policy.error.c_str());
    return;
  }
  std::string out;
  out.reserve(kProxyChunkBytes * 2);
  uint64_t matches = 0;
  uint64_t total_matches = 0;
  int64_t total_bytes = 0;
  bool analyzed = true;
  size_t next = 0;
  for (auto _ : state) {
    analyzed = ScanResponse(policy.policy, bodies[next], content_type, &out, &matches) && analyzed;
    total_matches += matches;
    total_bytes += static_cast<int64_t>(bodies[next].size());
    next = (next + 1) % bodies.size();
  }
  if (!analyzed) {
    state.SkipWithError("engine did not analyse the body (endpoint or content type mismatch)");
    return;
  }
  state.SetBytesProcessed(total_bytes);
  // Matches per body: a sanity check that the data exercises the policy (0 would mean the
  // benchmark measures only the fast path).
  state.counters["matches"] = static_cast<double>(total_matches) / static_cast<double>(std::max<int64_t>(state.iterations(), 1));
  state.counters["bodies"] = static_cast<double>(bodies.size());
}

// ---------------------------------------------------------------------------------------------
// 1-3: throughput.

// Whole engine, reference policy, API-like JSON responses of state.range(0) bytes.
void BM_Json(benchmark::State& state) {
  RunScan(state, ReferencePolicy(), CachedJson(static_cast<size_t>(state.range(0))), "application/json");
}
BENCHMARK(BM_Json)->Arg(1024)->Arg(64 * 1024)->Arg(10 * 1024 * 1024);

// Whole engine, reference policy, log-like text/plain responses.
void BM_Text(benchmark::State& state) {
  RunScan(state, ReferencePolicy(), CachedText(static_cast<size_t>(state.range(0))), "text/plain");
}
BENCHMARK(BM_Text)->Arg(64 * 1024)->Arg(10 * 1024 * 1024);

// Whole engine, reference policy, gRPC responses carrying the same kind of records as BM_Json
// (protobuf without a schema: GrpcWalker).
void BM_Grpc(benchmark::State& state) {
  RunScan(state, ReferencePolicy(), CachedGrpc(static_cast<size_t>(state.range(0))), "application/grpc");
}
BENCHMARK(BM_Grpc)->Arg(64 * 1024)->Arg(10 * 1024 * 1024);

// How cost grows with the number of categories: 1 MiB JSON, generated N-category policy.
void BM_Categories(benchmark::State& state) {
  RunScan(state, GeneratedPolicy(static_cast<int>(state.range(0))), CachedJson(kMiB), "application/json");
}
BENCHMARK(BM_Categories)->Arg(1)->Arg(10)->Arg(50);

// ---------------------------------------------------------------------------------------------
// 4: memory while streaming a large body.

// Resident set size figures in KiB from /proc/self/status ("VmHWM", "VmRSS"); -1 if unavailable.
long ReadProcStatusKiB(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.compare(0, prefix.size(), prefix) == 0) {
      return std::strtol(line.c_str() + prefix.size(), nullptr, 10);
    }
  }
  return -1;
}

long PeakRssKiB() {
  const long hwm = ReadProcStatusKiB("VmHWM");
  if (hwm >= 0) return hwm;
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

// Resets the kernel's peak-RSS mark (Linux >= 4.0) so the peak measured afterwards belongs to
// this benchmark, not to an earlier one that held a 10 MiB body. Returns false if unsupported.
bool ResetPeakRss() {
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) return false;
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

uint64_t StreamBytesTarget() {
  uint64_t mib = 1024;
  if (const char* env = std::getenv("LEAKSCOPE_BENCH_STREAM_MIB")) {
    const uint64_t v = std::strtoull(env, nullptr, 10);
    if (v > 0) mib = v;
  }
  return mib * kMiB;
}

// A body made of a prefix, a cycled middle, and a suffix, so gigabytes can be streamed from a
// few MiB of distinct generated data.
struct StreamBody {
  const char* content_type;
  std::string prefix;
  std::string cycle;  // repeated; the streamed middle is cycled_bytes of it, wrapping around
  std::string suffix;
  uint64_t cycled_bytes = 0;
};

enum class StreamKind { kText, kJsonBlob, kJsonArray };

constexpr size_t kCycleBytes = 4 * kMiB;

StreamBody MakeStreamBody(StreamKind kind, uint64_t total) {
  StreamBody b;
  switch (kind) {
    case StreamKind::kText:
      b.content_type = "text/plain";
      b.cycle = GenerateLogText(kCycleBytes, 11);
      break;
    case StreamKind::kJsonBlob: {
      // One huge string value: the tokenizer must not buffer the whole value to scan it.
      b.content_type = "application/json";
      b.prefix = "{\"blob\":\"";
      b.suffix = "\"}";
      const std::string text = GenerateLogText(kCycleBytes, 13);
      b.cycle.reserve(text.size() + text.size() / 50);
      for (char c : text) {
        if (c == '\n') b.cycle += "\\n";  // escaped, as a JSON-embedded log would be
        else b.cycle += c;
      }
      break;
    }
    case StreamKind::kJsonArray: {
      // Many small objects: per-value overhead (paths, contexts) dominates here. The cycle is
      // whole records each followed by ',', so the middle must end on a record boundary.
      b.content_type = "application/json";
      b.prefix = "[";
      b.suffix = "{\"id\":0,\"end\":true}]";
      Rng rng(17);
      uint64_t id = 1;
      std::vector<size_t> record_ends;
      while (b.cycle.size() < kCycleBytes) {
        b.cycle += CustomerJson(rng, id++) + ",";
        record_ends.push_back(b.cycle.size());
      }
      const uint64_t middle = total - std::min<uint64_t>(total, b.prefix.size() + b.suffix.size());
      const uint64_t rest = middle % b.cycle.size();
      auto last = std::upper_bound(record_ends.begin(), record_ends.end(), rest);
      b.cycled_bytes = middle - rest + (last == record_ends.begin() ? 0 : *(last - 1));
      return b;
    }
  }
  b.cycled_bytes = total - std::min<uint64_t>(total, b.prefix.size() + b.suffix.size());
  return b;
}

// Streams `body` through one fresh Transaction in 64 KiB chunks, cycling `ring` (the cycle
// followed by its own first chunk, so every window starting inside the cycle is contiguous and
// every chunk has the full size wherever the cycle wraps). Returns the number of matches.
uint64_t StreamThrough(const std::shared_ptr<const CompiledPolicy>& policy, const StreamBody& body,
                       std::string_view ring, uint64_t cycled_bytes, std::string* out) {
  Transaction tx(policy, kAuthority, kPath);
  tx.OnHeaders(Direction::kResponse, {{"content-type", body.content_type}});
  out->clear();
  tx.OnBody(Direction::kResponse, body.prefix, false, out);
  uint64_t remaining = cycled_bytes;
  size_t pos = 0;
  while (remaining > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kStreamChunkBytes, remaining));
    out->clear();
    tx.OnBody(Direction::kResponse, ring.substr(pos, n), false, out);
    benchmark::DoNotOptimize(out->data());
    remaining -= n;
    pos = (pos + n) % body.cycle.size();
  }
  out->clear();
  tx.OnBody(Direction::kResponse, body.suffix, true, out);
  return TotalMatches(tx.report(Direction::kResponse));
}

// Streams ~LEAKSCOPE_BENCH_STREAM_MIB (default 1024) MiB through one Transaction and reports
// how much the peak RSS grew: per-stream memory must stay bounded (block + window), not grow
// with the body.
void BM_StreamMemory(benchmark::State& state, StreamKind kind) {
  const PolicyOrError& policy = ReferencePolicy();
  if (!policy.policy) {
    state.SkipWithError(policy.error.c_str());
    return;
  }
  const StreamBody body = MakeStreamBody(kind, StreamBytesTarget());
  std::string ring = body.cycle;
  ring.append(body.cycle, 0, std::min(kStreamChunkBytes, body.cycle.size()));
  const uint64_t streamed = body.prefix.size() + body.cycled_bytes + body.suffix.size();
  std::string out;
  out.reserve(kStreamChunkBytes * 2);

  // Warm-up on one cycle of the data: the compiled policy grows shared caches lazily (RE2 DFA
  // states, up to its memory budget), a one-off cost per policy that would otherwise be
  // mistaken for per-stream memory. Reported separately as warmup_rss_growth_MiB.
  bool reset_ok = ResetPeakRss();
  long before = reset_ok ? ReadProcStatusKiB("VmRSS") : PeakRssKiB();
  StreamThrough(policy.policy, body, ring, std::min<uint64_t>(body.cycle.size(), body.cycled_bytes),
                &out);
  const long warm = PeakRssKiB();
  const double warmup_growth_mib = warm > before ? static_cast<double>(warm - before) / 1024 : 0;

  uint64_t matches = 0;
  double seconds = 0;
  double rss_growth_mib = 0;
  for (auto _ : state) {
    // Baseline: current RSS when the peak mark could be reset, else the previous peak (which
    // then hides growth below it; reported as peak_reset=0).
    reset_ok = ResetPeakRss() && reset_ok;
    before = reset_ok ? ReadProcStatusKiB("VmRSS") : PeakRssKiB();
    const auto start = std::chrono::steady_clock::now();
    matches = StreamThrough(policy.policy, body, ring, body.cycled_bytes, &out);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const long after = PeakRssKiB();
    rss_growth_mib = after > before ? static_cast<double>(after - before) / 1024 : 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(streamed));
  state.counters["peak_rss_growth_MiB"] = rss_growth_mib;
  state.counters["warmup_rss_growth_MiB"] = warmup_growth_mib;
  state.counters["MB/s"] = seconds > 0 ? static_cast<double>(streamed) / 1e6 / seconds : 0;
  state.counters["body_MiB"] = static_cast<double>(streamed) / kMiB;
  state.counters["matches"] = static_cast<double>(matches);
  state.counters["peak_reset"] = reset_ok ? 1 : 0;
}
BENCHMARK_CAPTURE(BM_StreamMemory, text, StreamKind::kText)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_StreamMemory, json_blob, StreamKind::kJsonBlob)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_StreamMemory, json_array, StreamKind::kJsonArray)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);

// ---------------------------------------------------------------------------------------------
// 5: policy compilation (paid on every policy load or update).

void BM_CompilePolicy(benchmark::State& state) {
  StatusOr<Policy> parsed = LoadPolicy(ReferencePolicyText());
  if (!parsed.ok()) {
    state.SkipWithError(ReferencePolicyText().empty() ? "policy file not found"
                                                      : parsed.status().message().c_str());
    return;
  }
  const Policy& policy = parsed.value();
  for (auto _ : state) {
    // Compile takes the Policy by value; the copy is tiny next to building RE2/PCRE2 programs,
    // and pausing the timer around it would cost more than it hides.
    auto compiled = CompiledPolicy::Compile(policy);
    if (!compiled.ok()) {
      state.SkipWithError(compiled.status().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(compiled.value().get());
  }
  // Bytes of policy YAML per second: only so every benchmark reports a rate; time/op is the
  // figure that matters here.
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(ReferencePolicyText().size()));
}
BENCHMARK(BM_CompilePolicy)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace leakscope

BENCHMARK_MAIN();
