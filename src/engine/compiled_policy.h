// CompiledPolicy: a Policy turned into ready-to-run matchers plus endpoint resolution.
//
// Compilation happens once per policy (load or update); transactions share the result
// read-only. Every positive rule becomes a Finder; all RE2 finders also feed one RE2::Set that
// tells, in a single pass, which of them can match a piece of text at all, so the cost of a
// policy grows far slower than one pass per category.
#ifndef LEAKSCOPE_ENGINE_COMPILED_POLICY_H_
#define LEAKSCOPE_ENGINE_COMPILED_POLICY_H_

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/ascii.h"
#include "engine/byte_scan.h"
#include "engine/known_texts.h"
#include "engine/internal_matcher.h"
#include "engine/regex_summary.h"
#include "engine/string_map.h"
#include "engine/rule_filter.h"
#include "engine/path_glob.h"
#include "engine/policy.h"
#include "engine/span.h"
#include "engine/status.h"


namespace leakscope {

struct CompileOptions {
  // Longest match the streaming scanner guarantees to find across block boundaries; longer
  // matches may be cut at a block boundary. Also bounds per-stream memory.
  size_t max_match_bytes = 4096;
  // Bytes scanned per block of a long segment (memory per stream is ~ block + window).
  size_t block_bytes = 64 * 1024;
  // Backtracking limits for PCRE2 patterns (only patterns RE2 cannot express).
  uint32_t pcre2_match_limit = 200000;
  uint32_t pcre2_depth_limit = 2000;
  // PCRE2's JIT for whole-text scans. Anchored matches at located candidates (see LocatedFinder)
  // always use PCRE2's interpreter, which the JIT does not always agree with on odd patterns
  // (PCRE2 10.42: an empty match instead of a longer one after a lookahead); tests that compare
  // the two paths turn the JIT off.
  bool pcre2_jit = true;
  // Let regex finders skip text between their triggers (RegexSummary). Off: every finder scans
  // every byte; results are the same (tests compare both), only slower.
  bool trigger_search = true;
};

class CompiledPolicy;

// The trigger classes and sequences of a policy's finders (see RegexSummary), as TriggerIndex
// computes them. Built while compiling.
struct TriggerTables {
  // A trigger sequence whose occurrences are computed with bitmaps: elements of class ids, each
  // min to max bytes of its class.
  struct Element {
    int class_id;
    uint32_t min, max;
  };
  using Sequence = std::vector<Element>;

  std::vector<ByteSetScanner> classes;
  std::vector<ByteSet> class_sets;  // classes[i] scans class_sets[i]
  std::vector<double> class_density;  // ClassDensity(class_sets[i])
  std::vector<int> anchor_users;    // per class: finders whose scalar search is anchored on it
  std::vector<bool> common_byte;    // per class: one byte, common in traffic (TriggerIndex::Bits)
  // Per class: an earlier class that is its complement (a digit and a non-digit, say), whose
  // bitmap inverted is this one's: one marking pass less (TriggerIndex::ClassBits); else -1.
  std::vector<int> complement_of;
  std::vector<Sequence> sequences;
  // For a sequence whose every count is fixed, its elements rarest first, each with its offset
  // from the sequence's start (TriggerIndex::SequenceStarts); empty for the others.
  struct FixedPart {
    size_t element;
    uint32_t offset;  // < 64: sequences are at most 63 bytes long
  };
  std::vector<std::vector<FixedPart>> fixed_parts;

  // The id of `set`, added if new.
  int ClassId(const ByteSet& set);
  // The id of `sequence`, added if new.
  int SequenceId(const Sequence& sequence);
};

// Where a policy's trigger classes and sequences occur in one text, as bitmaps computed on first
// use and shared by every finder that needs them — one pass over the text per class rather than
// one per finder. Reusable across texts (its buffers keep their capacity).
class TriggerIndex {
 public:
  // Per-thread indexes for scans that index one text at a time and are done with it before
  // returning (a JSON batch, a block of a long text): their bitmaps keep their capacity across
  // texts and transactions instead of being allocated for each (allocations were a sixth of a
  // 1 KiB transaction's cost). Each kind of caller has its own, so one never resets another's.
  enum class Scratch { kBatch, kBlock };
  static TriggerIndex& ForThread(Scratch user);

  // Starts indexing `text`, which must stay valid while the index is used.
  void Reset(const CompiledPolicy* policy, std::string_view text);
  // Bit i of word i / 64 is set if the byte at position i is in anchor class `id`; nullptr when
  // only one finder is anchored on the class and it is not a common byte (its own scan is then as
  // cheap as marking it).
  const uint64_t* Bits(int id);
  // Bit i is set if sequence `id` occurs at position i (TriggerTables::Sequence).
  const uint64_t* SequenceStarts(int id);
  std::string_view text() const { return text_; }

 private:
  // Bitmap of class `id` over text_ (always built), with zero words up to Words().
  const uint64_t* ClassBits(int id);
  // Where runs of `length` bytes of class `id` start.
  const uint64_t* RunBits(int class_id, uint32_t length);
  // Words of every bitmap: position text_.size() included, plus one zero word.
  size_t Words() const { return text_.size() / 64 + 2; }

  const CompiledPolicy* policy_ = nullptr;
  std::string_view text_;
  std::vector<std::vector<uint64_t>> bits_;
  std::vector<char> built_;  // per class: 0 not yet, 1 built and empty, 2 built with bits set
  std::vector<std::vector<uint64_t>> sequence_bits_;
  std::vector<char> sequence_built_;
  struct Run {
    int class_id = 0;
    uint32_t length = 0;
    std::vector<uint64_t> bits;
  };
  std::vector<Run> runs_;  // [0, runs_used_) are built for text_
  size_t runs_used_ = 0;
  std::vector<uint64_t> tail_, next_;  // scratch for SequenceStarts
};

// Finds non-overlapping matches of one rule in text.
class Finder {
 public:
  virtual ~Finder() = default;
  // Appends matches starting at or after `start` (text before it is context). Sets *limit_hit
  // if a resource limit stopped the search early. `index`, if given, indexes exactly `text`.
  virtual void FindAll(std::string_view text, size_t start, std::vector<Span>* out, bool* limit_hit,
                       TriggerIndex* index = nullptr) const = 0;
  // The leftmost match starting at or after `start`, as FindAll would report it first.
  virtual bool FindFirst(std::string_view text, size_t start, Span* out, bool* limit_hit,
                         TriggerIndex* index = nullptr) const {
    std::vector<Span> all;
    FindAll(text, start, &all, limit_hit, index);
    if (all.empty()) return false;
    *out = all.front();
    return true;
  }
  // True if all of `text` is one match (used by except_regex and `and`).
  virtual bool MatchesWhole(std::string_view text) const = 0;
  virtual const char* engine_name() const = 0;
};

// A rule that filters a candidate match by its whole text (except*, `and` members): a literal
// compared as rule filters compare one (TextMatcher), or a finder's whole-text match for
// patterns and internal matchers.
struct WholeTextTest {
  TextMatcher literal;  // kRaw or kRawInsensitive, used when finder < 0
  int finder = -1;      // index into CompiledPolicy::finders()
  bool Test(const class CompiledPolicy& cp, std::string_view candidate) const;
};

struct CompiledCorrelate {
  CorrelateInterest interest = CorrelateInterest::kPrimary;
  uint64_t max_distance = 0;
  std::vector<int> finders;  // secondary finders (from `matches`)
  int match_group = -1;      // or: category index whose matches are the secondaries
};

struct CompiledCategory {
  std::string name;
  std::string tag;
  std::vector<int> finders;              // positive rules
  std::vector<WholeTextTest> excepts;    // drop the match if any test passes
  std::vector<std::vector<WholeTextTest>> ands;  // keep only if every test of every group passes
  std::vector<CompiledCorrelate> correlates;
  std::vector<int> correlated_by;        // categories using this one as match_group
};

// The configuration of one category for one endpoint, after general-to-specific overriding.
struct ResolvedCategory {
  int category = -1;        // index into CompiledPolicy::categories()
  std::string report_name;  // config key, or its `name:`
  // The first slot (index in ResolvedEndpoint::categories) with this report_name: the slots that
  // share a name count in one report entry, placed in that slot's order.
  int report_slot = -1;
  Action action = Action::kAlert;
  std::string redact_mask;
  std::vector<std::string> content_types;  // empty: all
  ContextFilter contexts;
  SearchMask search = kSearchBodies;
  ReportStyle report_style = ReportStyle::kRaw;
  uint32_t report_bits = 64;
  std::vector<std::string> ignore;
};

struct ResolvedEndpoint {
  bool matched = false;
  const TokenExtractorConfig* token_extractor = nullptr;  // most specific endpoint's, if any
  std::string policy_path;  // display form of the most specific matching glob
  std::vector<ResolvedCategory> categories;
};

// What one direction of a transaction scans a body for. It follows from the policy, the resolved
// endpoint, the direction and the body's content type alone, so a PolicyCache keeps one per
// (endpoint, direction, content type) instead of every transaction working it out again.
struct ScanPlan {
  std::string parser;  // CompiledPolicy::ParserForContentType: "text", "json", "grpc" or "none"
  // The same as flags, for the transaction's per-body dispatch (string comparisons there were
  // library calls on every body in the wasm build).
  bool json = false;
  bool grpc = false;
  bool none = false;
  // Finder ids for JSON keys, for JSON and gRPC values, and for text (and for structured bodies
  // that fail to parse): per configured category its finders, its correlate secondaries' and its
  // match_group categories'.
  std::vector<int> key_finders, value_finders, text_finders;
  std::vector<int> slot_of_category;  // index in ResolvedEndpoint::categories, or -1
  // Finder ids for this direction's header values: for any header, and for headers that
  // categories name (`contexts: - header: NAME`, lower-cased) those plus the naming categories'.
  std::vector<int> header_finders;
  std::vector<std::pair<std::string, std::vector<int>>> named_header_finders;
  // The finders for header `name` (any case), in endpoint category order.
  const std::vector<int>& HeaderFinders(std::string_view name) const {
    for (const auto& [named, finders] : named_header_finders) {
      if (AsciiEqualsIgnoreCase(named, name)) return finders;
    }
    return header_finders;
  }
  bool redacts = false;  // a redact or block action applies: the body needs the hold-back window
  bool blocks = false;   // a block action applies
  bool has_finders() const { return !key_finders.empty() || !value_finders.empty() || !text_finders.empty(); }
};

class CompiledPolicy {
 public:
  static StatusOr<std::shared_ptr<const CompiledPolicy>> Compile(Policy policy,
                                                                 CompileOptions options = {});
  ~CompiledPolicy();

  const Policy& policy() const { return policy_; }
  const CompileOptions& options() const { return options_; }
  const std::vector<std::unique_ptr<Finder>>& finders() const { return finders_; }
  const std::vector<CompiledCategory>& categories() const { return categories_; }
  // The category a searching finder belongs to (-1 for finders used only as whole-text tests).
  int finder_owner(int finder) const { return finder_owner_[finder]; }
  // -1 for a category's positive rule; j for a secondary rule of the owner's correlate j.
  int finder_correlate(int finder) const { return finder_correlate_[finder]; }

  // Trigger classes and sequences (TriggerIndex ids index these).
  const TriggerTables& triggers() const { return triggers_; }

  // Whether finder `f` skips text where it cannot match by itself (literal search, triggers)
  // rather than running its engine over every byte.
  bool skips_text(int f) const { return skips_text_[f]; }

  // Whether finder `f` searches for one of the policy's own words (`raw`, `raw_insensitive`):
  // its matches are those words, never data the policy would report by pattern.
  bool literal(int f) const { return literal_[f]; }

  // Whether finder `f` finds every match of a text also when texts are scanned joined by '\n'
  // (RegexSummary::separator_safe); the joined scan may find more, across the joins.
  bool joinable(int f) const { return joinable_[f]; }
  // Whether a match the joined scan finds inside one text is exactly a match of that text alone
  // (RegexSummary::separator_exact).
  bool joined_exact(int f) const { return joined_exact_[f]; }

  // Endpoint configuration for `target` = authority + path.
  ResolvedEndpoint Resolve(std::string_view target) const;

  // Two RE2::Set prefilters tell in one pass which finders can match somewhere in a text (a
  // superset filter). kShortText holds every regex finder: for a short text (a JSON value, a
  // header) one set pass is cheaper than each finder's own start-up. kLongText holds only the
  // finders that cannot skip text by themselves (see TriggeredFinder): on a long text the
  // others' trigger search is far cheaper than any DFA pass.
  enum class PrefilterKind { kShortText = 0, kLongText = 1 };
  // Returns false if the prefilter could not run (no such set, or its DFA memory budget was
  // exceeded); callers then run every finder.
  bool Prefilter(PrefilterKind kind, std::string_view text, std::vector<bool>* may_match) const;
  bool prefiltered(PrefilterKind kind, int finder) const {
    return sets_[static_cast<int>(kind)] != nullptr && prefiltered_[static_cast<int>(kind)][finder];
  }

  // Parser for a Content-Type header value ("text", "json", "grpc", "none").
  std::string ParserForContentType(std::string_view content_type) const;

  // Appends to *out (once each) the finders that scanning for `category` runs: its own, its
  // correlate secondaries' and its match_group categories'.
  void AddCategoryFinders(int category, std::vector<int>* out) const;

  // What a body of `content_type` in direction `body_scope` (SearchScope::kRequestBody or
  // kResponseBody) is scanned for under `endpoint`.
  ScanPlan PlanScan(const ResolvedEndpoint& endpoint, SearchScope body_scope, std::string_view content_type) const;

 private:
  CompiledPolicy() = default;
  Status Build();
  StatusOr<int> AddFinder(const MatchRule& rule, int owner);
  StatusOr<WholeTextTest> AddWholeTextTest(const MatchRule& rule, int owner);

  Policy policy_;
  CompileOptions options_;
  std::vector<std::unique_ptr<Finder>> finders_;
  std::vector<int> finder_owner_;
  std::vector<int> finder_correlate_;
  std::vector<CompiledCategory> categories_;
  struct EndpointGlob {
    PathGlob glob;
    int endpoint;
  };
  std::vector<EndpointGlob> globs_;  // sorted general -> specific
  void BuildPrefilter(PrefilterKind kind);

  struct PrefilterSet;  // wraps re2::RE2::Set, a nested class that cannot be forward-declared
  std::unique_ptr<PrefilterSet> sets_[2];
  std::vector<bool> prefiltered_[2];        // per finder: in that set
  std::vector<std::string> set_patterns_;   // per finder; empty: no RE2 form
  std::vector<bool> literal_;               // per finder: see literal()
  std::vector<bool> skips_text_;            // per finder: a TriggeredFinder
  std::vector<bool> joinable_;              // per finder: see joinable()
  std::vector<bool> joined_exact_;          // per finder: see joined_exact()
  TriggerTables triggers_;
};

// Buffers a transaction works in, given back to its PolicyCache when it ends so that the next
// transaction reuses their capacity (PolicyCache::TakeScratch). What they hold is the owner's
// business: a scratch comes back emptied.
class TransactionScratch {
 public:
  virtual ~TransactionScratch() = default;
  // The bytes its buffers keep allocated: a scratch a large body grew is freed, not kept.
  virtual size_t CapacityBytes() const = 0;
};

// What the transactions a host runs under one policy share, so that traffic that repeats itself
// is not analysed from scratch each time:
//  - endpoint resolutions, per target (authority + path). Resolving merges every matching
//    endpoint's configuration — measured at a sixth of a 1 KiB transaction's cost — while
//    traffic repeats a few targets. At most `capacity` entries (then it starts over), so hostile
//    unique paths cost no more than resolving each;
//  - scan plans, per endpoint, direction and content type (at most kMaxPlans);
//  - KnownTexts tables, per set of finders (an endpoint's keys or values, say): keys and enum
//    values recur in every response of an API, not only within one body;
//  - the scratch buffers of ended transactions, for the next ones: allocating and freeing them
//    was a tenth of a 1 KiB transaction's cost, more in wasm's allocator. Kept across policy
//    changes (they hold no policy data).
// A different policy than last time starts over. Not thread-safe: one per thread, or per
// Proxy-WASM VM (which is single-threaded).
class PolicyCache {
 public:
  explicit PolicyCache(size_t capacity = 1024) : capacity_(capacity) {}
  // The resolution of `target` under `policy`; a different policy than last time starts over.
  std::shared_ptr<const ResolvedEndpoint> Get(const std::shared_ptr<const CompiledPolicy>& policy,
                                              std::string_view target);
  // The scan plan of `endpoint` (resolved by Get) for a body of `content_type` in `body_scope`,
  // made once per combination; made afresh, not kept, under a policy the cache does not serve.
  std::shared_ptr<const ScanPlan> Plan(const CompiledPolicy& policy, const std::shared_ptr<const ResolvedEndpoint>& endpoint,
                                       SearchScope body_scope, std::string_view content_type);
  // The known texts of JSON keys (`keys`) or of values for `finders` (finder ids of `policy`):
  // keys and values keep apart even under the same finders, as in a transaction without a
  // cache (keys repeat most and would crowd values out); nullptr when `policy` is not the one
  // the cache serves (a transaction begun before a policy update). The table stays valid until
  // the policy changes or kKnownTables other finder sets have been asked for since: callers ask
  // again for every body chunk rather than keep it.
  KnownTexts* KnownTextsFor(const CompiledPolicy* policy, bool keys, const std::vector<int>& finders);

  // A scratch an ended transaction gave back, or nullptr (the caller then makes its own).
  std::unique_ptr<TransactionScratch> TakeScratch();
  // Keeps an emptied `scratch` for TakeScratch: at most kPooledScratches, each of at most
  // kMaxPooledScratchBytes, so that what a VM keeps does not follow its largest bodies or its
  // busiest moment.
  void ReturnScratch(std::unique_ptr<TransactionScratch> scratch);

  static constexpr size_t kKnownTables = 8;
  static constexpr size_t kPooledScratches = 8;
  static constexpr size_t kMaxPooledScratchBytes = 128 * 1024;
  static constexpr size_t kMaxPlans = 64;  // content types come from clients: bounded

 private:
  struct PlanEntry {
    std::shared_ptr<const ResolvedEndpoint> endpoint;  // kept alive: its address is the key
    SearchScope body_scope;
    std::string content_type;
    std::shared_ptr<const ScanPlan> plan;
  };
  struct KnownTable {
    bool keys;
    std::vector<int> finders;
    std::unique_ptr<KnownTexts> texts;
  };
  void StartOver(const std::shared_ptr<const CompiledPolicy>& policy);

  size_t capacity_;
  std::shared_ptr<const CompiledPolicy> policy_;  // kept alive: entries point into it
  StringMap<std::shared_ptr<const ResolvedEndpoint>> entries_;
  std::vector<PlanEntry> plans_;
  std::vector<KnownTable> known_tables_;
  size_t next_replaced_ = 0;  // the known-texts table to reuse when all are taken (round robin)
  std::vector<std::unique_ptr<TransactionScratch>> scratches_;
};

// Lower-cased MIME type without parameters: "Application/JSON; charset=utf-8" -> "application/json".
std::string NormalizeMimeType(std::string_view content_type);

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_COMPILED_POLICY_H_
