// Deterministic benchmark inputs (bench_data.h).

#include "bench_data.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/files.h"
#include "support/protobuf_wire.h"

namespace leakscope {


namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

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

namespace {

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

}  // namespace

// Log text of exactly `target` bytes (the last line may be cut, as in a truncated log tail).
std::string GenerateLogText(size_t target, uint64_t seed) {
  Rng rng(seed);
  std::string out;
  out.reserve(target + 512);
  while (out.size() < target) out += LogLine(rng);
  out.resize(target);
  return out;
}

std::string GenerateNumbersJson(size_t target, uint64_t seed) {
  Rng rng(seed);
  std::string out = "[";
  out.reserve(target + 32);
  while (out.size() + 21 < target) {
    if (out.size() > 1) out.push_back(',');
    out.push_back(static_cast<char>('1' + rng.Below(9)));
    for (uint64_t digits = rng.Below(19); digits > 0; --digits) out.push_back(static_cast<char>('0' + rng.Below(10)));
  }
  out.push_back(']');
  return out;
}

std::string GenerateSsnText(size_t target, uint64_t seed) {
  Rng rng(seed);
  std::string out;
  out.reserve(target + 16);
  while (out.size() < target) {
    char ssn[16];
    std::snprintf(ssn, sizeof(ssn), "%03d-%02d-%04d", static_cast<int>(rng.Below(1000)),
                  static_cast<int>(rng.Below(100)), static_cast<int>(rng.Below(10000)));
    out += ssn;
    out.push_back(rng.Chance(10) ? '\n' : ' ');
  }
  out.resize(target);
  return out;
}

std::string GenerateCorrelatedText(size_t target, uint64_t seed) {
  Rng rng(seed);
  std::string out;
  out.reserve(target + 32);
  while (out.size() < target) {
    char line[48];
    const int kind = static_cast<int>(rng.Below(4));
    if (kind < 2) {
      std::snprintf(line, sizeof(line), "%s %010llu\n", kind == 0 ? "phone" : "id",
                    static_cast<unsigned long long>(rng.Below(10000000000ULL)));
    } else {
      std::snprintf(line, sizeof(line), "%s %d/%d/%d\n", kind == 2 ? "dob" : "seen", static_cast<int>(1 + rng.Below(12)),
                    static_cast<int>(1 + rng.Below(28)), static_cast<int>(1940 + rng.Below(80)));
    }
    out += line;
  }
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


namespace {

// One cache for every generator: bodies by generator and size.
const Bodies& CachedBodies(size_t size, uint64_t seed, std::string (*generate)(size_t, uint64_t)) {
  static auto* cache = new std::map<std::pair<uintptr_t, size_t>, Bodies>();
  const std::pair<uintptr_t, size_t> key(reinterpret_cast<uintptr_t>(generate), size);
  auto it = cache->find(key);
  if (it == cache->end()) {
    Bodies bodies;
    for (size_t i = 0; i < BodyVariants(size); ++i) bodies.push_back(generate(size, seed + i));
    it = cache->emplace(key, std::move(bodies)).first;
  }
  return it->second;
}

}  // namespace

const Bodies& CachedJson(size_t size) { return CachedBodies(size, 42, GenerateCustomersJson); }
const Bodies& CachedGrpc(size_t size) { return CachedBodies(size, 42, GenerateCustomersGrpc); }
const Bodies& CachedText(size_t size) { return CachedBodies(size, 7, GenerateLogText); }
const Bodies& CachedNumbersJson(size_t size) { return CachedBodies(size, 11, GenerateNumbersJson); }
const Bodies& CachedSsnText(size_t size) { return CachedBodies(size, 13, GenerateSsnText); }
const Bodies& CachedCorrelatedText(size_t size) { return CachedBodies(size, 17, GenerateCorrelatedText); }

const std::string& ReferencePolicyText() {
  static const std::string* text = [] {
    // Empty when the file cannot be read (a policy file is never empty).
    auto* s = new std::string(testing::ReadFileOrDie(testing::SharedDir() + "/conformance/reference-policy.yaml"));
    if (s->empty()) *s = testing::ReadFileOrDie(testing::SourceDir() + "/examples/policies/default.yaml");
    return s;
  }();
  return *text;
}

}  // namespace leakscope
