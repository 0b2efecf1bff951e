// leakscope: command-line front end of the engine.
//
//   leakscope scan --policy P [--content-type T] [--path AUTHORITY/PATH]
//                  [--direction request|response] [--output-body OUT] [--format json|table]
//                  [--max-bytes N] [--fail-on-match] [FILE|-]
//   leakscope policy check P
//   leakscope bench --policy P [--content-type T] [--iterations N] FILE...
//
// Exit codes: 0 success; 1 matches found with --fail-on-match, or a block decision;
// 2 usage error; 3 invalid policy; 4 input/output error.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/compiled_policy.h"
#include "engine/policy.h"
#include "engine/transaction.h"

namespace leakscope {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitMatches = 1;
constexpr int kExitUsage = 2;
constexpr int kExitPolicy = 3;
constexpr int kExitIo = 4;

void PrintUsage(std::ostream& os) {
  os << "usage:\n"
        "  leakscope scan --policy P [--content-type T] [--path AUTHORITY/PATH]\n"
        "                 [--direction request|response] [--header NAME:VALUE]...\n"
        "                 [--output-body OUT]\n"
        "                 [--format json|table] [--max-bytes N] [--fail-on-match] [FILE|-]\n"
        "  leakscope policy check P\n"
        "  leakscope bench --policy P [--content-type T] [--path AUTHORITY/PATH]\n"
        "                  [--iterations N] FILE...  (several files: scanned in turn)\n"
        "exit codes: 0 ok, 1 matches with --fail-on-match (or a block decision),\n"
        "            2 usage, 3 invalid policy, 4 input/output error\n";
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

struct LoadedPolicy {
  std::shared_ptr<const CompiledPolicy> compiled;
  std::vector<PolicyWarning> warnings;
};

int LoadAndCompile(const std::string& path, LoadedPolicy* out) {
  std::string text;
  if (!ReadFile(path, &text)) {
    std::cerr << "leakscope: cannot read policy " << path << ": " << std::strerror(errno) << "\n";
    return kExitIo;
  }
  auto policy = LoadPolicy(text);
  if (!policy.ok()) {
    std::cerr << "leakscope: invalid policy " << path << ": " << policy.status().message() << "\n";
    return kExitPolicy;
  }
  out->warnings = policy->warnings;
  auto compiled = CompiledPolicy::Compile(std::move(*policy));
  if (!compiled.ok()) {
    std::cerr << "leakscope: invalid policy " << path << ": " << compiled.status().message() << "\n";
    return kExitPolicy;
  }
  out->compiled = *compiled;
  return kExitOk;
}

void SplitTarget(const std::string& target, std::string* authority, std::string* path) {
  size_t slash = target.find('/');
  if (slash == std::string::npos) {
    *authority = target;
    *path = "/";
  } else {
    *authority = target.substr(0, slash);
    *path = target.substr(slash);
  }
}

// A progress line on stderr for large inputs when a person is watching.
class Progress {
 public:
  Progress(uint64_t total, bool enabled) : total_(total), enabled_(enabled && total > (8u << 20)) {}
  void Update(uint64_t done) {
    if (!enabled_) return;
    int pct = static_cast<int>(done * 100 / total_);
    if (pct == last_) return;
    last_ = pct;
    int bars = pct / 4;
    std::fprintf(stderr, "\r[%-25s] %3d%% %llu/%llu MiB", std::string(bars, '#').c_str(), pct,
                 static_cast<unsigned long long>(done >> 20), static_cast<unsigned long long>(total_ >> 20));
    if (pct == 100) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  }

 private:
  uint64_t total_;
  bool enabled_;
  int last_ = -1;
};

std::string TableReport(const DirectionReport& r) {
  std::ostringstream os;
  os << "direction: " << DirectionName(r.direction) << "   endpoint: "
     << (r.policy_path.empty() ? "(none matched)" : r.policy_path) << "   parser: " << r.parser
     << "   bytes: " << r.body_bytes << "   decision: " << DecisionName(r.decision) << "\n";
  if (!r.parse_error.empty()) os << "parse error: " << r.parse_error << "\n";
  if (r.truncated) os << "truncated: analysis limit reached\n";
  size_t width = 8;
  for (const auto& c : r.categories) width = std::max(width, c.name.size());
  os << std::string(width - 8, ' ') << "category  count  action  values\n";
  if (r.categories.empty()) os << std::string(width, ' ') << "  (no matches)\n";
  for (const auto& c : r.categories) {
    os << std::string(width - c.name.size(), ' ') << c.name << "  ";
    std::string count = std::to_string(c.count);
    os << std::string(count.size() < 5 ? 5 - count.size() : 0, ' ') << count << "  ";
    std::string action = ActionName(c.action);
    os << action << std::string(action.size() < 6 ? 6 - action.size() : 0, ' ') << "  ";
    std::string values;
    for (size_t i = 0; i < c.values.size() && i < 4; ++i) {
      if (i) values += ", ";
      values += c.values[i];
    }
    if (c.values.size() > 4) values += ", ...";
    if (c.report_style == ReportStyle::kNone) values = "(report_style none)";
    os << values << "\n";
  }
  for (const auto& w : r.warnings) os << "warning: " << w << "\n";
  return os.str();
}

int Scan(int argc, char** argv) {
  std::string policy_path, content_type, target = "localhost/", direction = "response", output_body,
                                           format = "json", input = "-";
  uint64_t max_bytes = 0;
  bool fail_on_match = false;
  bool have_input = false;
  // --header fields, as the proxy would pass them: header matching, Content-Encoding, grpc-encoding
  std::vector<std::pair<std::string, std::string>> header_fields;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](std::string* dst) -> bool {
      if (i + 1 >= argc) {
        std::cerr << "leakscope scan: " << a << " needs a value\n";
        return false;
      }
      *dst = argv[++i];
      return true;
    };
    if (a == "--policy") { if (!value(&policy_path)) return kExitUsage; }
    else if (a == "--content-type") { if (!value(&content_type)) return kExitUsage; }
    else if (a == "--path") { if (!value(&target)) return kExitUsage; }
    else if (a == "--direction") { if (!value(&direction)) return kExitUsage; }
    else if (a == "--output-body") { if (!value(&output_body)) return kExitUsage; }
    else if (a == "--format") { if (!value(&format)) return kExitUsage; }
    else if (a == "--header") {
      std::string v;
      if (!value(&v)) return kExitUsage;
      // A pseudo-header (":authority: x") starts with its own colon.
      const size_t colon = v.find(':', v.empty() ? 0 : 1);
      if (colon == std::string::npos) {
        std::cerr << "leakscope scan: --header needs NAME:VALUE, not \"" << v << "\"\n";
        return kExitUsage;
      }
      const size_t value_begin = v.find_first_not_of(" \t", colon + 1);
      header_fields.emplace_back(v.substr(0, colon), value_begin == std::string::npos ? "" : v.substr(value_begin));
    }
    else if (a == "--max-bytes") {
      std::string v;
      if (!value(&v)) return kExitUsage;
      char* end = nullptr;
      max_bytes = std::strtoull(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0') {
        std::cerr << "leakscope scan: --max-bytes needs a number\n";
        return kExitUsage;
      }
    } else if (a == "--fail-on-match") fail_on_match = true;
    else if (a == "-h" || a == "--help") { PrintUsage(std::cout); return kExitOk; }
    else if (!a.empty() && a[0] == '-' && a != "-") {
      std::cerr << "leakscope scan: unknown option " << a << "\n";
      return kExitUsage;
    } else {
      if (have_input) {
        std::cerr << "leakscope scan: only one input file\n";
        return kExitUsage;
      }
      input = a;
      have_input = true;
    }
  }
  if (policy_path.empty()) {
    std::cerr << "leakscope scan: --policy is required\n";
    return kExitUsage;
  }
  if (direction != "request" && direction != "response") {
    std::cerr << "leakscope scan: --direction must be request or response\n";
    return kExitUsage;
  }
  if (format != "json" && format != "table") {
    std::cerr << "leakscope scan: --format must be json or table\n";
    return kExitUsage;
  }
  LoadedPolicy lp;
  if (int rc = LoadAndCompile(policy_path, &lp); rc != kExitOk) return rc;

  FILE* in = input == "-" ? stdin : std::fopen(input.c_str(), "rb");
  if (in == nullptr) {
    std::cerr << "leakscope: cannot open " << input << ": " << std::strerror(errno) << "\n";
    return kExitIo;
  }
  FILE* body_out = nullptr;
  if (!output_body.empty()) {
    body_out = output_body == "-" ? stdout : std::fopen(output_body.c_str(), "wb");
    if (body_out == nullptr) {
      std::cerr << "leakscope: cannot write " << output_body << ": " << std::strerror(errno) << "\n";
      if (in != stdin) std::fclose(in);
      return kExitIo;
    }
  }
  uint64_t total = 0;
  if (in != stdin && std::fseek(in, 0, SEEK_END) == 0) {
    long size = std::ftell(in);
    total = size > 0 ? static_cast<uint64_t>(size) : 0;
    std::fseek(in, 0, SEEK_SET);
  }
  Progress progress(total, isatty(STDOUT_FILENO) && isatty(STDERR_FILENO));

  std::string authority, path;
  SplitTarget(target, &authority, &path);
  TransactionOptions topts;
  topts.max_analyzed_bytes = max_bytes;
  Transaction tx(lp.compiled, authority, path, topts);
  Direction d = direction == "request" ? Direction::kRequest : Direction::kResponse;
  HeaderList headers(header_fields.begin(), header_fields.end());
  if (!content_type.empty()) headers.emplace_back("content-type", content_type);
  tx.OnHeaders(d, headers);

  std::vector<char> buf(1 << 16);
  std::string out;
  uint64_t done = 0;
  int rc = kExitOk;
  while (true) {
    size_t n = std::fread(buf.data(), 1, buf.size(), in);
    bool eof = n < buf.size();
    if (eof && std::ferror(in)) {
      std::cerr << "leakscope: read error on " << input << "\n";
      rc = kExitIo;
    }
    out.clear();
    // Without --output-body the forwarded bytes matter only while the body may be held back.
    tx.OnBody(d, std::string_view(buf.data(), n), eof, body_out != nullptr || tx.may_hold_body(d) ? &out : nullptr);
    if (body_out != nullptr && !out.empty() && std::fwrite(out.data(), 1, out.size(), body_out) != out.size()) {
      std::cerr << "leakscope: write error on " << output_body << "\n";
      rc = kExitIo;
      break;
    }
    done += n;
    if (total) progress.Update(std::min(done, total));
    if (eof) break;
  }
  if (in != stdin) std::fclose(in);
  if (body_out != nullptr && body_out != stdout && std::fclose(body_out) != 0) rc = kExitIo;
  if (rc != kExitOk) return rc;

  const DirectionReport& report = tx.report(d);
  if (body_out != stdout) {
    if (format == "json") {
      std::cout << DirectionReportToJson(report) << "\n";
    } else {
      std::cout << TableReport(report);
    }
  }
  for (const auto& w : lp.warnings) std::cerr << "policy warning: " << w.ToString() << "\n";
  if (report.decision == Decision::kBlock) return kExitMatches;
  if (fail_on_match && !report.categories.empty()) return kExitMatches;
  return kExitOk;
}

int PolicyCheck(int argc, char** argv) {
  if (argc != 1) {
    std::cerr << "leakscope policy check: exactly one policy file\n";
    return kExitUsage;
  }
  LoadedPolicy lp;
  if (int rc = LoadAndCompile(argv[0], &lp); rc != kExitOk) return rc;
  const Policy& p = lp.compiled->policy();
  std::cout << argv[0] << ": ok: " << p.categories.size() << " categories, " << p.endpoints.size()
            << " endpoints, " << lp.compiled->finders().size() << " matchers";
  int pcre = 0;
  int skipping = 0;
  const auto& finders = lp.compiled->finders();
  for (size_t f = 0; f < finders.size(); ++f) {
    pcre += std::string(finders[f]->engine_name()) == "pcre2";
    skipping += lp.compiled->skips_text(static_cast<int>(f));
  }
  std::cout << " (" << skipping << " skip text between their triggers";
  if (pcre) std::cout << ", " << pcre << " on PCRE2";
  std::cout << ")\n";
  if (!p.command_rules.empty()) {
    std::cout << "  " << p.command_rules.size()
              << " ratelimits/rules loaded; they are evaluated by Command across transactions\n";
  }
  for (const auto& w : lp.warnings) std::cout << "warning: " << w.ToString() << "\n";
  return kExitOk;
}

int Bench(int argc, char** argv) {
  std::string policy_path, content_type = "application/json", target = "localhost/";
  std::vector<std::string> inputs;
  int iterations = 20;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 < argc && a == "--policy") policy_path = argv[++i];
    else if (i + 1 < argc && a == "--content-type") content_type = argv[++i];
    else if (i + 1 < argc && a == "--path") target = argv[++i];
    else if (i + 1 < argc && a == "--iterations") iterations = std::max(1, std::atoi(argv[++i]));
    else if (!a.empty() && a[0] != '-') inputs.push_back(a);
    else {
      PrintUsage(std::cerr);
      return kExitUsage;
    }
  }
  if (policy_path.empty() || inputs.empty()) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  LoadedPolicy lp;
  if (int rc = LoadAndCompile(policy_path, &lp); rc != kExitOk) return rc;
  // Several bodies are scanned in turn, one per iteration, as a proxy sees a stream of
  // different responses: the PolicyCache remembers clean texts across transactions, so one small
  // body scanned over and over would measure a best case real traffic does not give.
  std::vector<std::string> bodies(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!ReadFile(inputs[i], &bodies[i])) {
      std::cerr << "leakscope: cannot read " << inputs[i] << "\n";
      return kExitIo;
    }
  }
  std::string authority, path;
  SplitTarget(target, &authority, &path);
  PolicyCache cache;  // as a proxy keeps one per policy
  // Each transaction's time too, for the latency a proxy adds (its median and 99th percentile):
  // a clock read per transaction, ~30 ns against the microseconds a transaction takes.
  std::vector<double> micros(static_cast<size_t>(iterations));
  auto start = std::chrono::steady_clock::now();
  uint64_t matches = 0;
  uint64_t bytes = 0;
  for (int it = 0; it < iterations; ++it) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string& body = bodies[static_cast<size_t>(it) % bodies.size()];
    Transaction tx(lp.compiled, authority, path, {}, &cache);
    tx.OnHeaders(Direction::kResponse, {{"content-type", content_type}});
    std::string out;  // what leaves, needed only while the body may be held back (as in a proxy)
    tx.OnBody(Direction::kResponse, body, true, tx.may_hold_body(Direction::kResponse) ? &out : nullptr);
    for (const auto& c : tx.report(Direction::kResponse).categories) matches += c.count;
    bytes += body.size();
    micros[static_cast<size_t>(it)] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::sort(micros.begin(), micros.end());
  const double p50 = micros[micros.size() / 2];
  const double p99 = micros[std::min(micros.size() - 1, micros.size() * 99 / 100)];
  const std::string label = inputs.size() == 1 ? inputs[0] : std::to_string(inputs.size()) + " files";
  std::printf("%s: %d iterations of %llu bytes in %.3f s: %.1f MB/s, %llu matches per iteration; "
              "per transaction p50 %.1f us, p99 %.1f us\n",
              label.c_str(), iterations, static_cast<unsigned long long>(bytes / static_cast<uint64_t>(iterations)),
              secs, static_cast<double>(bytes) / 1e6 / secs, static_cast<unsigned long long>(matches / iterations), p50,
              p99);
  return kExitOk;
}

}  // namespace
}  // namespace leakscope

int main(int argc, char** argv) {
  using namespace leakscope;
  if (argc < 2) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  std::string cmd = argv[1];
  if (cmd == "scan") return Scan(argc - 2, argv + 2);
  if (cmd == "policy" && argc >= 3 && std::string(argv[2]) == "check") return PolicyCheck(argc - 3, argv + 3);
  if (cmd == "bench") return Bench(argc - 2, argv + 2);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    PrintUsage(std::cout);
    return kExitOk;
  }
  if (cmd == "--version" || cmd == "version") {
    std::cout << "leakscope 0.1.0\n";
    return kExitOk;
  }
  std::cerr << "leakscope: unknown command " << cmd << "\n";
  PrintUsage(std::cerr);
  return kExitUsage;
}
