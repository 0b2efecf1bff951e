#include "engine/compiled_policy.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <optional>

#include "engine/ascii.h"
#include "engine/byte_scan.h"
#include "engine/regex_summary.h"
#include "engine/regex_translate.h"
#include "engine/short_bytes.h"
#include "engine/utf8.h"

namespace leakscope {

namespace {

// RE2's memory budget per pattern (program + lazily built DFA states). A Proxy-WASM VM runs per
// Envoy worker, so its memory multiplies: the wasm build trades some DFA cache hits for a VM that
// stays small. Past the budget RE2 resets its cache (still linear time), it never fails a search.
#if defined(__wasi__)
constexpr int64_t kFinderRegexMemory = 1 << 20;
constexpr int64_t kPrefilterSetMemory = 6 << 20;
#else
constexpr int64_t kFinderRegexMemory = 32 << 20;
constexpr int64_t kPrefilterSetMemory = 64 << 20;
#endif

RE2::Options Re2Options() {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(kFinderRegexMemory);
  return o;
}

// A finder backed by one regex engine, able to search one region of a text with the rest of the
// text as context (for \b, lookbehind and the like).
class RegexFinder : public Finder {
 public:
  // The leftmost match starting at or after `begin` that ends at or before `end`.
  virtual bool FindFirstIn(std::string_view text, size_t begin, size_t end, Span* out,
                           bool* limit_hit) const = 0;
  // Whether a match starts exactly at `begin` (and ends by `end`; *out is then the one
  // FindFirstIn would give), for engines that find it cheaper that way than FindFirstIn does;
  // false for the others, which are then asked FindFirstIn.
  virtual bool MatchAtIn(std::string_view, size_t, size_t, Span*) const { return false; }
  // Whether MatchAtIn answers for every start (false from it then means no match there).
  virtual bool matches_at() const { return false; }
};

class Re2Finder : public RegexFinder {
 public:
  explicit Re2Finder(std::unique_ptr<RE2> re) : re_(std::move(re)) {
    anchored_ = std::make_unique<RE2>("(?:" + re_->pattern() + ")", Re2Options());
  }
  void FindAll(std::string_view text, size_t start, std::vector<Span>* out, bool*,
               TriggerIndex* = nullptr) const override {
    re2::StringPiece sp(text.data(), text.size());
    re2::StringPiece m;
    size_t pos = start;
    while (pos <= text.size()) {
      if (!re_->Match(sp, pos, text.size(), RE2::UNANCHORED, &m, 1)) break;
      size_t b = static_cast<size_t>(m.data() - text.data());
      size_t e = b + m.size();
      if (e == b) {  // empty matches carry no data; step past them
        pos = b + 1;
        continue;
      }
      out->push_back(Span{b, e});
      pos = e;
    }
  }
  bool FindFirst(std::string_view text, size_t start, Span* out, bool* limit_hit,
                 TriggerIndex* = nullptr) const override {
    return FindFirstIn(text, start, text.size(), out, limit_hit);
  }
  bool FindFirstIn(std::string_view text, size_t begin, size_t end, Span* out, bool*) const override {
    re2::StringPiece m;
    if (!re_->Match(re2::StringPiece(text.data(), text.size()), begin, end, RE2::UNANCHORED, &m, 1)) return false;
    out->begin = static_cast<size_t>(m.data() - text.data());
    out->end = out->begin + m.size();
    return true;
  }
  // Anchored, RE2 makes one forward pass; unanchored, a forward pass to find where the leftmost
  // match ends and a reverse one to find where it starts.
  bool matches_at() const override { return true; }
  bool MatchAtIn(std::string_view text, size_t begin, size_t end, Span* out) const override {
    re2::StringPiece m;
    if (!re_->Match(re2::StringPiece(text.data(), text.size()), begin, end, RE2::ANCHOR_START, &m, 1)) return false;
    out->begin = begin;
    out->end = begin + m.size();
    return true;
  }
  bool MatchesWhole(std::string_view text) const override {
    return RE2::FullMatch(re2::StringPiece(text.data(), text.size()), *anchored_);
  }
  const char* engine_name() const override { return "re2"; }
  const RE2& re() const { return *re_; }

 private:
  std::unique_ptr<RE2> re_;
  std::unique_ptr<RE2> anchored_;
};

// Whether byte `i` of `text` is inside a valid multi-byte UTF-8 character that starts at or after
// `from` (not its first byte). PCRE2 in UTF mode moves through a subject a character at a time
// and never starts a match inside one, but started at such an offset it reads the rest of the
// character as invalid bytes and may match there: searches that start at arbitrary offsets
// must not start inside a character.
bool InsideUtf8Char(std::string_view text, size_t from, size_t i) {
  const auto* b = reinterpret_cast<const unsigned char*>(text.data());
  if (i >= text.size() || (b[i] & 0xC0) != 0x80) return false;
  size_t lead = i;
  while (lead > from && i - lead < 3 && (b[lead] & 0xC0) == 0x80) --lead;
  const size_t len = Utf8CharLength(text, lead);
  return len > 1 && lead + len > i;
}

// PCRE2 runs only patterns RE2 rejects (lookaround, backreferences), with match and depth limits
// so a hostile body cannot make a scan take more than bounded work.
class Pcre2Finder : public RegexFinder {
 public:
  static StatusOr<std::unique_ptr<Pcre2Finder>> Make(const std::string& pattern, uint32_t match_limit,
                                                     uint32_t depth_limit, bool jit) {
    int err = 0;
    PCRE2_SIZE err_off = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(err, buf, sizeof(buf));
      return InvalidArgumentError("invalid regex \"" + pattern + "\": " + reinterpret_cast<char*>(buf));
    }
    auto f = std::unique_ptr<Pcre2Finder>(new Pcre2Finder());
    f->code_ = code;
    f->pattern_ = pattern;
    if (jit) pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // best effort; the interpreter is the fallback
    f->mctx_ = pcre2_match_context_create(nullptr);
    pcre2_set_match_limit(f->mctx_, match_limit);
    pcre2_set_depth_limit(f->mctx_, depth_limit);
    pcre2_set_heap_limit(f->mctx_, 20 * 1024);  // KiB
    return f;
  }
  ~Pcre2Finder() override {
    pcre2_match_context_free(mctx_);
    pcre2_code_free(code_);
  }
  void FindAll(std::string_view text, size_t start, std::vector<Span>* out, bool* limit_hit,
               TriggerIndex* = nullptr) const override {
    pcre2_match_data* md = MatchData();
    size_t pos = start;
    while (pos <= text.size()) {
      int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos, 0, md, mctx_);
      if (rc < 0) {
        if (rc != PCRE2_ERROR_NOMATCH && limit_hit != nullptr) *limit_hit = true;
        break;
      }
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      size_t b = ov[0], e = ov[1];
      if (e <= b) {
        pos = std::max(b, pos) + 1;
        continue;
      }
      out->push_back(Span{b, e});
      pos = e;
    }
  }
  // PCRE2 has no end position: the subject is cut `end_context` bytes after `end`, enough for
  // everything a match ending by `end` can look at (see Pcre2EndContext), and never inside a
  // UTF-8 sequence (a cut one would be invalid UTF-8, which PCRE2 treats as a barrier).
  size_t SubjectEnd(std::string_view text, size_t from) const {
    if (end_context_ >= text.size() - from) return text.size();
    size_t e = from + static_cast<size_t>(end_context_);
    while (e < text.size() && (static_cast<unsigned char>(text[e]) & 0xC0) == 0x80) ++e;
    return e;
  }
  bool FindFirstIn(std::string_view text, size_t begin, size_t end, Span* out, bool* limit_hit) const override {
    while (begin < end && InsideUtf8Char(text, 0, begin)) ++begin;
    const size_t subject_end = SubjectEnd(text, end);
    pcre2_match_data* md = MatchData();
    int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), subject_end, begin, 0, md, mctx_);
    if (rc < 0) {
      if (rc != PCRE2_ERROR_NOMATCH && limit_hit != nullptr) *limit_hit = true;
      return false;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[1] <= ov[0] || ov[1] > end) return false;
    out->begin = ov[0];
    out->end = ov[1];
    return true;
  }
  // A match starting exactly at `begin` (the subject cut as for FindFirstIn).
  bool MatchAt(std::string_view text, size_t begin, Span* out, bool* limit_hit) const {
    if (InsideUtf8Char(text, 0, begin)) return false;
    const size_t subject_end = SubjectEnd(text, begin);
    pcre2_match_data* md = MatchData();
    int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), subject_end, begin, PCRE2_ANCHORED, md,
                         mctx_);
    if (rc < 0) {
      if (rc != PCRE2_ERROR_NOMATCH && limit_hit != nullptr) *limit_hit = true;
      return false;
    }
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    if (ov[1] <= ov[0]) return false;
    out->begin = ov[0];
    out->end = ov[1];
    return true;
  }
  void set_end_context(uint64_t bytes) { end_context_ = bytes; }
  bool MatchesWhole(std::string_view text) const override {
    int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0,
                         PCRE2_ANCHORED | PCRE2_ENDANCHORED, MatchData(), mctx_);
    return rc >= 0;
  }
  const char* engine_name() const override { return "pcre2"; }

 private:
  // One match-data block per thread, sized for the whole match only: allocating one per call
  // showed up in profiles, and a finder is shared read-only between transactions.
  // A trivially destructible thread_local (a raw pointer, one small block kept per thread):
  // wasm32 without threads has no __cxa_thread_atexit for thread_local destructors.
  static pcre2_match_data* MatchData() {
    static thread_local pcre2_match_data* md = nullptr;
    if (md == nullptr) md = pcre2_match_data_create(1, nullptr);
    return md;
  }

  Pcre2Finder() = default;
 public:
  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  uint64_t end_context_ = UINT64_MAX;
  pcre2_code* code_ = nullptr;
  pcre2_match_context* mctx_ = nullptr;
};

// A case-sensitive `raw` literal, with the same leftmost, non-overlapping matches as a regex
// engine but faster (RE2 would stop at every occurrence of the literal's first byte): memchr for
// its rarest byte (ByteWeight), then a comparison of the whole literal around it. Bodies are
// short and searched by several literals each: glibc's memmem set-up per call cost more than the
// search (measured), and a rare byte skips further than the first.
class LiteralFinder : public Finder {
 public:
  explicit LiteralFinder(std::string literal) : literal_(std::move(literal)) {
    for (size_t i = 1; i < literal_.size(); ++i) {
      if (ByteWeight(static_cast<unsigned char>(literal_[i])) <
          ByteWeight(static_cast<unsigned char>(literal_[anchor_]))) {
        anchor_ = i;
      }
    }
  }
  void FindAll(std::string_view text, size_t start, std::vector<Span>* out, bool* limit_hit,
               TriggerIndex* = nullptr) const override {
    Span m;
    while (FindFirst(text, start, &m, limit_hit)) {
      out->push_back(m);
      start = static_cast<size_t>(m.end);
    }
  }
  bool FindFirst(std::string_view text, size_t start, Span* out, bool*, TriggerIndex* = nullptr) const override {
    const size_t len = literal_.size();
    if (len == 0 || start >= text.size() || text.size() - start < len) return false;
    // Where the anchor byte of a match starting at p is: p + anchor_, for p <= size - len.
    const size_t last = text.size() - len + anchor_;
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t from = start + anchor_; from <= last;) {
      const unsigned char* hit = FindByte(bytes + from, last + 1 - from, static_cast<unsigned char>(literal_[anchor_]));
      if (hit == nullptr) return false;
      const size_t at = static_cast<size_t>(hit - bytes);
      const size_t begin = at - anchor_;
      if (EqualBytes(text.data() + begin, literal_.data(), len)) {
        out->begin = begin;
        out->end = begin + len;
        return true;
      }
      from = at + 1;
    }
    return false;
  }
  bool MatchesWhole(std::string_view text) const override { return text == literal_; }
  const char* engine_name() const override { return "literal"; }

 private:
  std::string literal_;
  size_t anchor_ = 0;  // index of its rarest byte
};

class InternalFinder : public Finder {
 public:
  explicit InternalFinder(std::unique_ptr<InternalMatcher> m) : m_(std::move(m)) {}
  void FindAll(std::string_view text, size_t start, std::vector<Span>* out, bool*,
               TriggerIndex* = nullptr) const override {
    m_->FindAll(text, start, out);
  }
  bool MatchesWhole(std::string_view text) const override { return m_->MatchesWhole(text); }
  const char* engine_name() const override { return "internal"; }

 private:
  std::unique_ptr<InternalMatcher> m_;
};

// Runs a regex only around its trigger (RegexSummary): the text between triggers is skipped by
// a byte-set search (or a shared TriggerIndex bitmap) instead of a DFA. Same matches as scanning
// the whole text, by construction:
//
// Let p be the first trigger position at or after `pos` (where the trigger sequence occurs).
// Every match contains an occurrence starting at most `max_lead` bytes after its start, so a
// match starting in [pos, p] has p as its first trigger position: it starts at or after
// p - max_lead, contains p, and ends by p + max_reach; it consumes only alphabet bytes, so it
// also ends before the first byte outside the alphabet after p. The region between those
// bounds therefore holds the whole of every match starting in [pos, p], and searching it (the
// rest of the text as context) finds the leftmost one with the same extent as a whole-text
// search. A region may reach further (`settled`: every match starting by it lies inside), so one
// search serves the triggers that follow closely; matches starting later are found from later
// triggers.
class TriggeredFinder : public Finder {
 public:
  // A region reaches kSlackBytes further when its next trigger is closer than kJoinGapBytes.
  static constexpr size_t kSlackBytes = 256;
  static constexpr size_t kJoinGapBytes = 48;
  // How far past a region's slack RegionEnd follows an alphabet run to find where it ends.
  static constexpr size_t kRunWalkBytes = 64;

  // `anchor_class` indexes the anchor's class in TriggerIndex::Bits; `sequence` (or -1) the
  // sequence in TriggerIndex::SequenceStarts, used instead when there is an index.
  TriggeredFinder(std::unique_ptr<RegexFinder> inner, const RegexSummary& s, int anchor_class, int sequence)
      : inner_(std::move(inner)), anchor_(AnchorSet(s)), anchor_class_(anchor_class), sequence_id_(sequence),
        lead_(s.max_lead), reach_(s.max_reach), min_length_(s.min_length),
        use_alphabet_(s.alphabet_restricted()), has_prefix_(s.trigger_prefix.has_value()) {
    for (int b = 0; b < 256; ++b) {
      alphabet_[b] = s.alphabet.test(b);
      first_[b] = s.first.test(b);
    }
    if (has_prefix_) {
      for (int b = 0; b < 256; ++b) {
        prefix_first_[b] = s.trigger_prefix->first.test(b);
        prefix_run_[b] = s.trigger_prefix->run.test(b);
      }
    }
    // The sequence, and where its rarest element starts: the scan looks for that one.
    const std::vector<TriggerElement> all = Sequence(s);
    const size_t anchor = AnchorIndex(s);
    size_t offset = 0;
    for (size_t i = 0; i < all.size(); ++i) {
      SequenceElement e;
      for (int b = 0; b < 256; ++b) e.set[b] = all[i].set.test(b);
      e.count = all[i].count;
      e.max = all[i].max_count;
      if (all[i].next != nullptr) {
        // One lookup for the byte, its pair and the next element's class (the sequence check
        // runs at every anchor: a space, in the street-word case).
        e.pairs.assign(65536 / 64, 0);
        for (int a = 0; a < 256; ++a) {
          if (!all[i].set.test(a)) continue;
          for (int b = 0; b < 256; ++b) {
            if ((*all[i].next)[a][b] && all[i + 1].set[b]) e.pairs[(a << 8 | b) >> 6] |= uint64_t{1} << (b & 63);
          }
        }
      }
      if (i == anchor) anchor_offset_ = offset;
      offset += e.count;
      fixed_ = fixed_ && e.count == e.max;
      sequence_.push_back(e);
    }
    sequence_bytes_ = offset;
    word_start_ = s.starts_at_word_boundary;
    first_pairs_ = s.first_pairs;
    searches_each_start_ = inner_->matches_at() && use_alphabet_ && reach_ <= kMaxEachStartReach &&
                           min_length_ > 0 && StartsOnlySomeOfAClass(s, all);
  }

  // The trigger sequence of `s` as the finder checks it: at most 63 bytes long at its longest
  // (a shorter prefix of a sequence is a weaker but still necessary condition).
  static std::vector<TriggerElement> Sequence(const RegexSummary& s) {
    std::vector<TriggerElement> all = {TriggerElement{s.trigger, s.trigger_run, s.trigger_run, nullptr}};
    uint64_t longest = s.trigger_run;
    for (const TriggerElement& e : s.trigger_rest) {
      if (longest + e.max_count > 63) break;
      longest += e.max_count;
      all.push_back(e);
    }
    all.back().next = nullptr;  // a last element's pairs would name a byte the sequence cut off
    return all;
  }

  // The leftmost match in [lo, hi) that starts by `last` (<= hi - min_length_), for
  // searches_each_start_: the first an anchored search finds, trying in order each start that
  // MayStartAt allows and that has room for the shortest match in its alphabet run (a region
  // that takes in close triggers holds many short numbers, say). Each search follows one start,
  // so its DFA stays small, and ends within the pattern's reach (kMaxEachStartReach bytes),
  // mostly a few bytes in.
  bool LeftmostFromEachStart(std::string_view text, size_t lo, size_t last, size_t hi, Span* out) const {
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    for (size_t run = lo; run <= last;) {
      size_t run_stop = run;  // where this alphabet run ends (within the region)
      while (run_stop < hi && alphabet_[bytes[run_stop]]) ++run_stop;
      if (run_stop - run >= min_length_) {
        const size_t run_last = std::min(last, run_stop - static_cast<size_t>(min_length_));
        for (size_t start = run; start <= run_last; ++start) {
          if (MayStartAt(bytes, start) && inner_->MatchAtIn(text, start, hi, out)) return true;
        }
      }
      run = run_stop + 1;  // past the byte that ends the run
    }
    return false;
  }
  // Whether a match may start at bytes[i], with min_length_ bytes of the text from there (so
  // bytes[i + 1] is there whenever first_pairs_ is: every match then has two): its first byte,
  // its second after the first (first_pairs_), and `\b` before it (word_start_).
  bool MayStartAt(const unsigned char* bytes, size_t i) const {
    if (!first_[bytes[i]]) return false;
    if (first_pairs_ != nullptr && !(*first_pairs_)[bytes[i]].test(bytes[i + 1])) return false;
    return !word_start_ || (i > 0 && IsAsciiWordByte(bytes[i - 1])) != IsAsciiWordByte(bytes[i]);
  }

  // Whether a class of the trigger sequence holds bytes that start a match and bytes that do not
  // (the digits of a card pattern, of which only some begin a card number). Then the threads an
  // unanchored search carries from the starts it passed differ with the bytes they started on,
  // not only with how far back they started, and its DFA meets new states wherever such runs
  // vary: RE2 built states all the way through random digit runs, ~1,700 instructions per byte
  // for the reference policy's card pattern (2-3 MB/s), against ~16 per byte for patterns whose
  // every class byte may start a match.
  static bool StartsOnlySomeOfAClass(const RegexSummary& s, const std::vector<TriggerElement>& sequence) {
    for (const TriggerElement& e : sequence) {
      const ByteSet starting = e.set & s.first;
      if (starting.any() && starting != e.set) return true;
    }
    return false;
  }

  // The byte class a finder for `s` searches for (TriggerIndex classes are these).
  static ByteSet AnchorSet(const RegexSummary& s) {
    size_t i = AnchorIndex(s);
    return Sequence(s)[i].set;
  }

  // Whether the summary bounds every match on both sides (else the whole text must be scanned).
  static bool Usable(const RegexSummary& s) {
    if (s.can_be_empty || s.trigger.all()) return false;
    bool left = s.max_lead != RegexSummary::kUnbounded || s.alphabet_restricted();
    bool right = s.max_reach != RegexSummary::kUnbounded || s.alphabet_restricted();
    return left && right;
  }

  // Whether the sequence is worth computing with bitmaps when there is an index: it is more than
  // one byte (a run such as \d{16} included: checking each digit of digit-dense text for a run
  // cost more than the run's bitmap, measured) and its anchor is not one byte (memchr finds a
  // rare byte faster than a class can be marked).
  static bool UsesSequenceBitmap(const RegexSummary& s) {
    return (Sequence(s).size() > 1 || s.trigger_run > 1) && AnchorSet(s).count() > 1;
  }

  void FindAll(std::string_view text, size_t start, std::vector<Span>* out, bool* limit_hit,
               TriggerIndex* index = nullptr) const override {
    SearchState state;
    const Triggers triggers = TriggersIn(index);
    Span m;
    while (start < text.size() && Next(text, start, triggers, &state, &m, limit_hit)) {
      out->push_back(m);
      start = static_cast<size_t>(m.end);
    }
  }
  bool FindFirst(std::string_view text, size_t start, Span* out, bool* limit_hit,
                 TriggerIndex* index = nullptr) const override {
    SearchState state;
    return Next(text, start, TriggersIn(index), &state, out, limit_hit);
  }
  bool MatchesWhole(std::string_view text) const override { return inner_->MatchesWhole(text); }
  const char* engine_name() const override { return inner_->engine_name(); }

 private:
  // Bitmaps from an index: where the whole sequence occurs, or else where the anchor class does.
  struct Triggers {
    const uint64_t* sequence = nullptr;
    const uint64_t* anchor = nullptr;
  };
  Triggers TriggersIn(TriggerIndex* index) const {
    Triggers t;
    if (index == nullptr) return t;
    if (sequence_id_ >= 0) {
      t.sequence = index->SequenceStarts(sequence_id_);
    } else {
      t.anchor = index->Bits(anchor_class_);
    }
    return t;
  }

  // What one FindAll carries from one match's search to the next.
  struct SearchState {
    // The end of the last alphabet run measured to its end (runs are maximal, so later triggers
    // inside it reuse it).
    size_t run_end = 0;
    // Whether an anchored search at the start of a dense region's run found matches lately:
    // each miss skips the next kSkipsPerMiss chances, each hit earns one more (up to
    // kMaxCredit). Either way the region's match is the same; only the cost differs.
    static constexpr int kSkipsPerMiss = 4, kMaxCredit = 4;
    int dense_credit = 0;
    bool DenseAnchoredSearchPays() {
      if (dense_credit >= 0) return true;
      ++dense_credit;
      return false;
    }
    void CountDenseAnchoredSearch(bool found) {
      dense_credit = found ? std::min(dense_credit + 1, kMaxCredit) : std::min(dense_credit, 0) - kSkipsPerMiss;
    }
  };

  // The leftmost match starting at or after `pos`.
  bool Next(std::string_view text, size_t pos, const Triggers& triggers, SearchState* state, Span* out,
            bool* limit_hit) const {
    const size_t n = text.size();
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    size_t& run_end = state->run_end;
    // The first trigger at or after a position, remembered: looking ahead for triggers to take
    // into a region finds the one the next turn starts from.
    size_t ahead_from = n + 1, ahead = n;
    auto trigger_from = [&](size_t from) {
      if (from != ahead_from) {
        ahead_from = from;
        ahead = triggers.sequence != nullptr ? NextBit(triggers.sequence, n, from)
                                             : NextTrigger(bytes, n, from, triggers.anchor);
      }
      return ahead;
    };
    while (pos < n) {
      size_t p = trigger_from(pos);
      // Every match's own trigger has the prefix. A trigger without it is skipped, but not the
      // positions before it: a match may start there and have its trigger further on.
      while (has_prefix_ && p < n && !PrefixBefore(bytes, p)) p = trigger_from(p + 1);
      if (p == n) break;
      size_t lo = pos;
      if (lead_ != RegexSummary::kUnbounded && p - pos > lead_) lo = p - static_cast<size_t>(lead_);
      // `run_start`: lo begins the alphabet run around p, where a match that contains p starts
      // if any starts at its first possible byte (an email's local part, a house number), and
      // a match may start with the byte there.
      bool run_start = false;
      if (use_alphabet_) {
        size_t a = p;
        while (a > lo && alphabet_[bytes[a - 1]]) --a;
        run_start = (a == 0 || !alphabet_[bytes[a - 1]]) && first_[bytes[a]];
        lo = a;
      }
      // `confined`: no match crosses hi, so the region's result is final; otherwise only
      // matches starting by `settled` are known to lie in it. A lone trigger gets a region just
      // big enough for its matches. Where the next trigger is close, the region takes a slack of
      // kSlackBytes instead, so one search serves the triggers in it: RE2's per-call cost (~650
      // instructions, measured) buys about kJoinGapBytes of its scan (~16 per byte). A slack
      // for every trigger had RE2 scan ~250 bytes past each lone one in vain; regions grown
      // trigger by trigger cost more in trigger searches where triggers are dense (measured).
      size_t hi = 0;
      bool confined = false;
      bool dense = false;  // the region takes the next triggers in too
      RegionEnd(bytes, n, p, 0, &run_end, &hi, &confined);
      size_t settled = confined ? hi : hi - static_cast<size_t>(reach_);
      if (hi < n) {
        const size_t q = trigger_from(settled + (confined ? 0 : 1));
        if (q < n && q <= hi + kJoinGapBytes) {
          RegionEnd(bytes, n, p, kSlackBytes, &run_end, &hi, &confined);
          settled = confined ? hi : hi - static_cast<size_t>(reach_);
          // Triggers close together: in log lines of digits (a phone pattern's) the first is
          // seldom a match's start, and the anchored search cost more than it saved; in a list
          // of numbers (a card pattern's) each is. Asked while it keeps finding matches there.
          run_start = run_start && state->DenseAnchoredSearchPays();
          dense = true;
        }
      }
      if (hi - lo < min_length_) {  // too short for any match: no need to ask the engine
        pos = std::max(p + 1, settled + (confined ? 0 : 1));
        continue;
      }
      Span m;
      bool found = false;
      if (searches_each_start_) {
        // Starts after `settled` would not be taken from this region anyway.
        found = LeftmostFromEachStart(text, lo, std::min(settled, hi - static_cast<size_t>(min_length_)), hi, &m);
      } else {
        // A match at lo is the leftmost in the region: one anchored search finds it. Asked
        // only for a lone trigger: where triggers are dense (log lines of digits for a phone
        // pattern), the first run rarely starts a match and the anchored search cost more
        // than it saved.
        if (run_start) {
          found = inner_->MatchAtIn(text, lo, hi, &m);
          if (dense) state->CountDenseAnchoredSearch(found);
        }
        found = found || inner_->FindFirstIn(text, lo, hi, &m, limit_hit);
      }
      if (!found) {
        pos = std::max(p + 1, settled + (confined ? 0 : 1));
        continue;
      }
      if (m.begin <= settled) {  // settled >= p
        *out = m;
        return true;
      }
      pos = settled + 1;  // not confined: a match starting after settled may reach past hi
    }
    return false;
  }
  // The end of a region holding every match that contains trigger t (lo as Next computes it),
  // reaching at least `slack` bytes further: t + reach + slack, or the end of the alphabet run
  // there, which no match crosses (*confined). The text's end when neither bounds it. The run
  // is followed kRunWalkBytes (or the reach) past the slack: its end there confines the region
  // (API JSON's short values; a bound of the reach alone measured 0.7 % more work, on one heap
  // layout), and a longer walk into a run that goes on (a text of nothing but digits, dashes
  // and spaces, the SSN pattern's alphabet: 768 bytes per trigger then) was half of such a
  // text's scan.
  void RegionEnd(const unsigned char* bytes, size_t n, size_t t, size_t slack, size_t* run_end, size_t* hi,
                 bool* confined) const {
    const bool bounded = reach_ != RegexSummary::kUnbounded;
    *hi = n;
    *confined = true;
    if (bounded && n - t > reach_ + slack) {
      *hi = t + static_cast<size_t>(reach_) + slack;
      *confined = false;
    }
    if (!use_alphabet_) return;
    const size_t from = n - t > slack ? t + slack : n;
    if (*run_end <= t || *run_end < from) {
      size_t e = from;
      const size_t walk = std::max<size_t>(static_cast<size_t>(reach_) + 1, kRunWalkBytes);
      const size_t limit = bounded && n - e > walk ? e + walk : n;
      while (e < limit && alphabet_[bytes[e]]) ++e;
      *run_end = (e < limit || e == n) ? e : 0;  // 0: stopped in a long run, no end known
    }
    if (*run_end > t) {
      *hi = *run_end;
      *confined = true;
    }
  }
  // Whether the bytes before trigger t end with the summary's TriggerPrefix: a `prefix_first_`
  // byte, then `prefix_run_` bytes up to t. True when the text (which may start inside a match:
  // a block's context) or a long run ends the look back first.
  bool PrefixBefore(const unsigned char* bytes, size_t t) const {
    constexpr size_t kMaxLookBack = 256;
    for (size_t q = t; q > 0 && t - q < kMaxLookBack; --q) {
      const unsigned char b = bytes[q - 1];
      if (prefix_first_[b]) return true;
      if (!prefix_run_[b]) return false;
    }
    return true;
  }

  // The rarest element of the trigger sequence (by byte count: a smaller class is rarer) among
  // those that always start at the same offset and cannot be empty.
  static size_t AnchorIndex(const RegexSummary& s) {
    const std::vector<TriggerElement> all = Sequence(s);
    size_t best = 0;
    for (size_t i = 1; i < all.size() && all[i - 1].count == all[i - 1].max_count; ++i) {
      if (all[i].count > 0 && all[i].set.count() < all[best].set.count()) best = i;
    }
    return best;
  }

  // First position >= from where the anchor class occurs: from the index's bitmap if there is
  // one, else by scanning.
  size_t NextAnchor(const unsigned char* bytes, size_t n, size_t from, const uint64_t* bits) const {
    if (bits == nullptr) return anchor_.Find(bytes, n, from);
    return NextBit(bits, n, from);
  }
  // First position >= from whose bit is set (positions < n), or n.
  static size_t NextBit(const uint64_t* bits, size_t n, size_t from) {
    if (from >= n) return n;
    size_t w = from / 64;
    uint64_t word = bits[w] & (~uint64_t{0} << (from % 64));
    const size_t words = (n + 63) / 64;
    while (word == 0) {
      if (++w == words) return n;
      word = bits[w];
    }
    return w * 64 + static_cast<size_t>(__builtin_ctzll(word));
  }

  // First position >= from where the trigger sequence occurs, or n.
  size_t NextTrigger(const unsigned char* bytes, size_t n, size_t from, const uint64_t* bits) const {
    if (sequence_.size() > 1) {
      // Find the anchor element's class, then check the whole sequence around it.
      for (size_t r = from + anchor_offset_; r < n; ++r) {
        r = NextAnchor(bytes, n, r, bits);
        if (r == n || n - (r - anchor_offset_) < sequence_bytes_) return n;
        if (SequenceAt(bytes + (r - anchor_offset_), n - (r - anchor_offset_))) return r - anchor_offset_;
      }
      return n;
    }
    const size_t run = sequence_[0].count;
    size_t p = from;
    while (p < n) {
      p = NextAnchor(bytes, n, p, bits);  // a one-element sequence is its own anchor
      if (p == n || n - p < run) return n;
      // Check the run's far end first, then backwards: a non-trigger byte at p + k rules out
      // every run starting at or before it, so long required runs skip most bytes.
      size_t k = run - 1;
      while (k > 0 && sequence_[0].set[bytes[p + k]]) --k;
      if (k == 0) return p;
      p += k + 1;
    }
    return n;
  }
  // Whether the sequence occurs at `at`, which has `avail` >= sequence_bytes_ bytes after it.
  bool SequenceAt(const unsigned char* at, size_t avail) const {
    if (fixed_) {
      for (const SequenceElement& e : sequence_) {
        // An element with pairs is one byte, followed by another element: at[1] is there.
        if (!e.pairs.empty()) {
          if (!PairAt(e, at)) return false;
          ++at;
          continue;
        }
        for (uint32_t i = 0; i < e.count; ++i) {
          if (!e.set[*at++]) return false;
        }
      }
      return true;
    }
    // Count ranges: bit o of `ends` says the elements so far can end at offset o (< 64).
    uint64_t ends = 1;
    for (const SequenceElement& e : sequence_) {
      uint64_t after = e.count == 0 ? ends : 0;
      uint64_t cur = ends;
      for (uint32_t j = 1; j <= e.max && cur != 0; ++j) {
        uint64_t stepped = 0;
        for (uint64_t rest = cur; rest != 0; rest &= rest - 1) {
          const auto o = static_cast<size_t>(__builtin_ctzll(rest));
          if (o < avail && (e.pairs.empty() ? e.set[at[o]] : o + 1 < avail && PairAt(e, at + o))) {
            stepped |= uint64_t{1} << (o + 1);
          }
        }
        cur = stepped;
        if (j >= e.count) after |= cur;
      }
      ends = after;
      if (ends == 0) return false;
    }
    return true;
  }

  struct SequenceElement {
    bool set[256];
    uint32_t count;  // bytes of `set`: count to max
    uint32_t max;
    // With TriggerElement::next (then count is 1): bit (a << 8 | b) says a may start the element
    // followed by b (b also in the next element's class). Empty otherwise.
    std::vector<uint64_t> pairs;
  };
  static bool PairAt(const SequenceElement& e, const unsigned char* at) {
    const unsigned k = static_cast<unsigned>(at[0]) << 8 | at[1];
    return (e.pairs[k >> 6] >> (k & 63)) & 1;
  }
  std::unique_ptr<RegexFinder> inner_;
  ByteSetScanner anchor_;   // the trigger sequence's rarest element
  int anchor_class_;        // TriggerIndex class id of anchor_
  int sequence_id_;         // TriggerIndex sequence id, or -1
  std::vector<SequenceElement> sequence_;
  size_t anchor_offset_ = 0;
  size_t sequence_bytes_ = 0;  // the sequence's shortest length
  bool fixed_ = true;          // every element has a fixed count
  uint64_t lead_;
  uint64_t reach_;
  uint64_t min_length_;
  bool use_alphabet_;
  bool alphabet_[256];
  bool first_[256];               // RegexSummary::first
  bool has_prefix_;
  // Find a region's leftmost match by an anchored search at each byte that may start one, not
  // by one unanchored search (StartsOnlySomeOfAClass); for patterns whose matches are at most
  // kMaxEachStartReach bytes, which bounds each search.
  static constexpr uint64_t kMaxEachStartReach = 32;
  bool searches_each_start_ = false;
  // Only where `\b` holds (RegexSummary::starts_at_word_boundary): in a digit run, its start.
  bool word_start_ = false;
  // RegexSummary::first_pairs: a start's second byte must be one of these (half the card
  // pattern's starts in random digits fail it), else null.
  std::shared_ptr<const BytePairs> first_pairs_;
  bool prefix_first_[256] = {};  // RegexSummary::trigger_prefix
  bool prefix_run_[256] = {};
};

// A PCRE2 pattern located by its RE2 relaxation (RelaxToRe2): every PCRE2 match is a match of
// the relaxation starting at the same byte, so no PCRE2 match starts before the relaxation's
// leftmost match start, and PCRE2 runs anchored there (then one byte on, and so on) exactly as
// its own unanchored search would try those starts. The backtracking engine thus runs only
// where the linear-time one found a candidate.
class LocatedFinder : public Finder {
 public:
  LocatedFinder(std::unique_ptr<Pcre2Finder> exact, std::unique_ptr<Finder> locator)
      : exact_(std::move(exact)), locator_(std::move(locator)) {}

  void FindAll(std::string_view text, size_t start, std::vector<Span>* out, bool* limit_hit,
               TriggerIndex* index = nullptr) const override {
    Span m;
    while (start < text.size() && FindFirst(text, start, &m, limit_hit, index)) {
      out->push_back(m);
      start = static_cast<size_t>(m.end);
    }
  }
  bool FindFirst(std::string_view text, size_t start, Span* out, bool* limit_hit,
                 TriggerIndex* index = nullptr) const override {
    Span candidate;
    size_t pos = start;
    while (pos < text.size() && locator_->FindFirst(text, pos, &candidate, limit_hit, index)) {
      if (exact_->MatchAt(text, static_cast<size_t>(candidate.begin), out, limit_hit)) return true;
      pos = static_cast<size_t>(candidate.begin) + 1;
    }
    return false;
  }
  bool MatchesWhole(std::string_view text) const override { return exact_->MatchesWhole(text); }
  const char* engine_name() const override { return exact_->engine_name(); }

 private:
  std::unique_ptr<Pcre2Finder> exact_;
  std::unique_ptr<Finder> locator_;
};

// How far past a match PCRE2's subject must go for the match to see the same text as in the
// whole subject: its reach (longest match plus lookahead), then two bytes, because PCRE2's $
// also matches before a newline that ends the subject.
uint64_t Pcre2EndContext(const RegexSummary& s) { return s.max_reach + 2; }

// Wraps a regex finder in a TriggeredFinder when its pattern's summary `s` bounds its matches;
// such a finder skips text on its own (*skips_text). Its anchor class and, if it is checked with
// bitmaps, its trigger sequence join `tables`.
std::unique_ptr<Finder> Guided(std::unique_ptr<RegexFinder> finder, const std::optional<RegexSummary>& s,
                               RegexDialect dialect, const CompileOptions& options, TriggerTables* tables,
                               bool* skips_text) {
  if (!options.trigger_search) return finder;
  if (!s || !TriggeredFinder::Usable(*s) || s->leading_literal) return finder;
  if (dialect == RegexDialect::kPcre2) {
    // PCRE2 searches to the end of its subject: only a bounded reach keeps regions small.
    if (s->max_reach == RegexSummary::kUnbounded) return finder;
    static_cast<Pcre2Finder*>(finder.get())->set_end_context(Pcre2EndContext(*s));
  }
  *skips_text = true;
  int sequence = -1;
  if (TriggeredFinder::UsesSequenceBitmap(*s)) {
    TriggerTables::Sequence elements;
    for (const TriggerElement& e : TriggeredFinder::Sequence(*s)) {
      elements.push_back(TriggerTables::Element{tables->ClassId(e.set), e.count, e.max_count});
    }
    sequence = tables->SequenceId(elements);
  }
  const int anchor = tables->ClassId(TriggeredFinder::AnchorSet(*s));
  if (sequence < 0) ++tables->anchor_users[static_cast<size_t>(anchor)];
  return std::make_unique<TriggeredFinder>(std::move(finder), *s, anchor, sequence);
}

// Copies the '[' at re[i], with a following '^' and a ']' right after it (a literal there), to
// *out; returns the index of the last byte copied.
size_t CopyClassOpening(std::string_view re, size_t i, std::string* out) {
  *out += re[i];
  if (i + 1 < re.size() && re[i + 1] == '^') *out += re[++i];
  if (i + 1 < re.size() && re[i + 1] == ']') *out += re[++i];
  return i;
}

// `re` (RE2 syntax) without its zero-width assertions (\b, \B, \A, \z, ^, $). A backreference
// repeats the text its group matched without checking the group's assertions again, so its
// stand-in must not check them either.
std::string WithoutAssertions(std::string_view re) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char n = re[i + 1];
      ++i;
      if (!in_class && (n == 'b' || n == 'B' || n == 'A' || n == 'z')) continue;
      out += c;
      out += n;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      i = CopyClassOpening(re, i, &out);
      continue;
    }
    if (c == '^' || c == '$') continue;
    out += c;
  }
  return out;
}

// A pattern RE2 accepts whose language contains the PCRE pattern's: lookaround groups are
// dropped (they only narrow matches) and a backreference becomes a copy of its group (any text
// the group can match). PCRE2-only patterns then join the RE2::Set prefilter and are located by
// RE2 (LocatedFinder), so the backtracking engine runs only where the relaxed form matches.
// Returns "" when the pattern uses syntax this does not handle.
std::string RelaxToRe2(const std::string& p) {
  std::string out;
  struct Group {
    size_t out_begin = 0;
    size_t out_end = 0;
    bool closed = false;
    bool dropped = false;  // inside a lookaround that was dropped
  };
  std::vector<Group> groups;
  std::vector<int> open;  // per open '(' in the output: its capturing group index, or -1
  bool in_class = false;
  // Case-insensitive \w, \W, \b and \B differ between the engines: RE2 folds U+212A (KELVIN
  // SIGN) and U+017F into \w, PCRE2 without UCP keeps \w ASCII. With both, no relaxation.
  bool case_insensitive = false;
  bool word_classes = false;
  // A '(' at p[i] opens a capturing group (PCRE numbering counts these).
  auto capturing = [&p](size_t i) {
    if (i + 1 >= p.size() || p[i + 1] != '?') return true;
    if (p.compare(i + 1, 3, "?P<") == 0) return true;
    if (p.compare(i + 1, 2, "?'") == 0) return true;
    return p.compare(i + 1, 2, "?<") == 0 && i + 3 < p.size() && p[i + 3] != '=' && p[i + 3] != '!';
  };
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return "";
      char n = p[i + 1];
      if (!in_class && n >= '1' && n <= '9') {
        size_t k = static_cast<size_t>(n - '0');
        ++i;
        while (i + 1 < p.size() && p[i + 1] >= '0' && p[i + 1] <= '9') k = k * 10 + static_cast<size_t>(p[++i] - '0');
        if (k == 0 || k > groups.size() || !groups[k - 1].closed || groups[k - 1].dropped) return "";
        const Group& g = groups[k - 1];
        out += "(?:" + WithoutAssertions(std::string_view(out).substr(g.out_begin, g.out_end - g.out_begin)) + ")";
        continue;
      }
      if (n == 'k' || n == 'g') return "";
      if (n == 'w' || n == 'W' || n == 'b' || n == 'B') word_classes = true;
      out += c;
      out += n;
      ++i;
      continue;
    }
    if (in_class) {
      if (c == ']') in_class = false;
      out += c;
      continue;
    }
    if (p.compare(i, 2, "(?") == 0) {
      for (size_t k = i + 2; k < p.size() && p[k] != ':' && p[k] != ')'; ++k) {
        if (p[k] == 'i') case_insensitive = true;
        if (!std::isalpha(static_cast<unsigned char>(p[k])) && p[k] != '-') break;
      }
    }
    if (c == '[') {
      in_class = true;
      i = CopyClassOpening(p, i, &out);
      continue;
    }
    if (p.compare(i, 3, "(?=") == 0 || p.compare(i, 3, "(?!") == 0 || p.compare(i, 4, "(?<=") == 0 ||
        p.compare(i, 4, "(?<!") == 0) {
      // Skip the whole group, honouring escapes, classes and nesting; groups inside it still
      // count for numbering but cannot be copied.
      int depth = 0;
      bool cls = false;
      for (; i < p.size(); ++i) {
        char d = p[i];
        if (d == '\\') { ++i; continue; }
        if (cls) { if (d == ']') cls = false; continue; }
        if (d == '[') { cls = true; continue; }
        if (d == '(') {
          if (depth > 0 && capturing(i)) groups.push_back(Group{0, 0, true, true});
          ++depth;
        }
        if (d == ')' && --depth == 0) break;
      }
      if (depth != 0) return "";
      // A quantifier on a dropped zero-width group would now apply to nothing.
      if (i + 1 < p.size() && (p[i + 1] == '*' || p[i + 1] == '+' || p[i + 1] == '?' || p[i + 1] == '{')) return "";
      continue;
    }
    if (c == '(') {
      if (capturing(i)) {
        groups.push_back(Group{out.size(), 0, false, false});
        open.push_back(static_cast<int>(groups.size() - 1));
      } else {
        open.push_back(-1);
      }
      out += c;
      continue;
    }
    if (c == '$') {
      // PCRE's $ also matches before a final newline, RE2's only at the end: the multi-line
      // form matches before every newline, a superset.
      out += "(?m:$)";
      continue;
    }
    if (c == ')') {
      if (open.empty()) return "";
      out += c;
      if (open.back() >= 0) {
        Group& g = groups[static_cast<size_t>(open.back())];
        g.out_end = out.size();
        g.closed = true;
      }
      open.pop_back();
      continue;
    }
    out += c;
  }
  if (case_insensitive && word_classes) return "";
  return out;
}

}  // namespace

bool WholeTextTest::Test(const CompiledPolicy& cp, std::string_view candidate) const {
  return finder >= 0 ? cp.finders()[finder]->MatchesWhole(candidate) : literal.Matches(candidate);
}

std::string NormalizeMimeType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  return AsciiToLower(t);
}

struct CompiledPolicy::PrefilterSet {
  explicit PrefilterSet(const RE2::Options& o) : set(o, RE2::UNANCHORED) {}
  RE2::Set set;
  std::vector<int> finder_of_index;
};

CompiledPolicy::~CompiledPolicy() = default;

StatusOr<std::shared_ptr<const CompiledPolicy>> CompiledPolicy::Compile(Policy policy, CompileOptions options) {
  std::shared_ptr<CompiledPolicy> cp(new CompiledPolicy());
  cp->policy_ = std::move(policy);
  cp->options_ = options;
  Status s = cp->Build();
  if (!s.ok()) return s;
  return std::shared_ptr<const CompiledPolicy>(std::move(cp));
}

StatusOr<int> CompiledPolicy::AddFinder(const MatchRule& rule, int owner) {
  std::unique_ptr<Finder> finder;
  std::string set_pattern;  // the pattern the RE2::Set prefilters run for it, if any
  bool skips_text = false;
  std::optional<RegexSummary> summary;  // of the pattern the finder runs
  switch (rule.kind) {
    case RuleKind::kRaw:
    case RuleKind::kRawInsensitive:
    case RuleKind::kExcept:
    case RuleKind::kExceptInsensitive: {
      // Case-insensitive literals run on RE2 (Unicode case folding, as for regexes); all join the
      // RE2::Set prefilters.
      bool insensitive = rule.kind == RuleKind::kRawInsensitive || rule.kind == RuleKind::kExceptInsensitive;
      std::string pattern = (insensitive ? "(?i)" : "") + RE2::QuoteMeta(rule.text);
      auto re = std::make_unique<RE2>(pattern, Re2Options());
      if (!re->ok()) return InternalError(rule.field_path + ": " + re->error());
      set_pattern = pattern;
      summary = SummarizeRegex(pattern, RegexDialect::kRe2);
      if (!insensitive && options_.trigger_search) {
        finder = std::make_unique<LiteralFinder>(rule.text);
        skips_text = true;
      } else {
        finder = Guided(std::make_unique<Re2Finder>(std::move(re)), summary, RegexDialect::kRe2, options_, &triggers_, &skips_text);
      }
      break;
    }
    case RuleKind::kRegex:
    case RuleKind::kExceptRegex: {
      auto t = TranslateRegex(rule.text);
      if (!t.ok()) return InvalidArgumentError(rule.field_path + ": " + t.status().message());
      if (t->engine == RegexEngine::kRe2) {
        auto re = std::make_unique<RE2>(t->pattern, Re2Options());
        if (!re->ok()) return InvalidArgumentError(rule.field_path + ": invalid regex: " + re->error());
        set_pattern = t->pattern;
        summary = SummarizeRegex(t->pattern, RegexDialect::kRe2);
        finder = Guided(std::make_unique<Re2Finder>(std::move(re)), summary, RegexDialect::kRe2, options_, &triggers_, &skips_text);
      } else {
        auto p = Pcre2Finder::Make(t->pattern, options_.pcre2_match_limit, options_.pcre2_depth_limit,
                                   options_.pcre2_jit);
        if (!p.ok()) return InvalidArgumentError(rule.field_path + ": " + p.status().message());
        set_pattern = RelaxToRe2(t->pattern);
        summary = SummarizeRegex(t->pattern, RegexDialect::kPcre2);
        auto relaxed = std::make_unique<RE2>(set_pattern, Re2Options());
        if (set_pattern.empty() || !relaxed->ok()) {
          set_pattern.clear();
          finder = Guided(std::move(*p), summary, RegexDialect::kPcre2, options_, &triggers_, &skips_text);
        } else if (options_.trigger_search) {
          if (summary && summary->max_reach != RegexSummary::kUnbounded) (*p)->set_end_context(Pcre2EndContext(*summary));
          auto locator = Guided(std::make_unique<Re2Finder>(std::move(relaxed)),
                                SummarizeRegex(set_pattern, RegexDialect::kRe2), RegexDialect::kRe2, options_, &triggers_, &skips_text);
          finder = std::make_unique<LocatedFinder>(std::move(*p), std::move(locator));
        } else {
          finder = std::move(*p);
        }
      }
      break;
    }
    case RuleKind::kInternal: {
      auto m = MakeInternalMatcher(rule.internal_name, rule.internal_options);
      if (!m.ok()) return Status(m.status().code(), rule.field_path + ": " + m.status().message());
      finder = std::make_unique<InternalFinder>(std::move(*m));
      break;
    }
    default:
      return InternalError(rule.field_path + ": not a finder rule");
  }
  finders_.push_back(std::move(finder));
  finder_owner_.push_back(owner);
  finder_correlate_.push_back(-1);
  set_patterns_.push_back(std::move(set_pattern));
  skips_text_.push_back(skips_text);
  literal_.push_back(rule.kind == RuleKind::kRaw || rule.kind == RuleKind::kRawInsensitive);
  joinable_.push_back(summary.has_value() && summary->separator_safe);
  joined_exact_.push_back(summary.has_value() && summary->separator_exact);
  return static_cast<int>(finders_.size() - 1);
}

StatusOr<WholeTextTest> CompiledPolicy::AddWholeTextTest(const MatchRule& rule, int owner) {
  WholeTextTest t;
  switch (rule.kind) {
    case RuleKind::kRaw:
    case RuleKind::kExcept:
      t.literal.kind = TextMatcher::Kind::kRaw;
      t.literal.text = rule.text;
      return t;
    case RuleKind::kRawInsensitive:
    case RuleKind::kExceptInsensitive:
      t.literal.kind = TextMatcher::Kind::kRawInsensitive;
      t.literal.text = rule.text;
      return t;
    default: {
      auto f = AddFinder(rule, owner);
      if (!f.ok()) return f.status();
      t.finder = *f;
      return t;
    }
  }
}

Status CompiledPolicy::Build() {
  const int n = static_cast<int>(policy_.categories.size());
  categories_.resize(n);
  for (int c = 0; c < n; ++c) {
    const Category& cat = policy_.categories[c];
    CompiledCategory& cc = categories_[c];
    cc.name = cat.name;
    cc.tag = cat.tag;
    for (const MatchRule& rule : cat.rules) {
      switch (rule.kind) {
        case RuleKind::kRaw:
        case RuleKind::kRawInsensitive:
        case RuleKind::kRegex:
        case RuleKind::kInternal: {
          auto f = AddFinder(rule, c);
          if (!f.ok()) return f.status();
          cc.finders.push_back(*f);
          break;
        }
        case RuleKind::kExcept:
        case RuleKind::kExceptInsensitive:
        case RuleKind::kExceptRegex: {
          auto t = AddWholeTextTest(rule, -1);
          if (!t.ok()) return t.status();
          cc.excepts.push_back(*t);
          break;
        }
        case RuleKind::kAnd: {
          std::vector<WholeTextTest> group;
          for (const MatchRule& r : rule.nested) {
            auto t = AddWholeTextTest(r, -1);
            if (!t.ok()) return t.status();
            group.push_back(*t);
          }
          cc.ands.push_back(std::move(group));
          break;
        }
        case RuleKind::kCorrelate: {
          CompiledCorrelate corr;
          corr.interest = rule.interest;
          corr.max_distance = rule.max_distance;
          if (!rule.match_group.empty()) {
            for (int k = 0; k < n; ++k) {
              if (policy_.categories[k].name == rule.match_group) corr.match_group = k;
            }
          } else {
            for (const MatchRule& r : rule.nested) {
              if (r.kind == RuleKind::kExcept || r.kind == RuleKind::kExceptInsensitive ||
                  r.kind == RuleKind::kExceptRegex || r.kind == RuleKind::kAnd) {
                return UnimplementedError("not supported yet: " + r.field_path + " (" + RuleKindName(r.kind) +
                                          " inside correlate matches)");
              }
              auto f = AddFinder(r, c);
              if (!f.ok()) return f.status();
              finder_correlate_[*f] = static_cast<int>(cc.correlates.size());
              corr.finders.push_back(*f);
            }
          }
          cc.correlates.push_back(std::move(corr));
          break;
        }
      }
    }
  }
  for (int c = 0; c < n; ++c) {
    for (const CompiledCorrelate& corr : categories_[c].correlates) {
      if (corr.match_group >= 0) categories_[corr.match_group].correlated_by.push_back(c);
    }
  }

  // Endpoint globs, general -> specific.
  for (size_t e = 0; e < policy_.endpoints.size(); ++e) {
    for (const std::string& g : policy_.endpoints[e].matches) {
      auto glob = PathGlob::Parse(g);
      if (!glob.ok()) return glob.status();
      globs_.push_back(EndpointGlob{std::move(*glob), static_cast<int>(e)});
    }
  }
  std::stable_sort(globs_.begin(), globs_.end(), [](const EndpointGlob& a, const EndpointGlob& b) {
    return PathGlob::CompareSpecificity(a.glob, b.glob) < 0;
  });

  BuildPrefilter(PrefilterKind::kShortText);
  BuildPrefilter(PrefilterKind::kLongText);
  return Status::Ok();
}

int TriggerTables::ClassId(const ByteSet& set) {
  auto known = std::find(class_sets.begin(), class_sets.end(), set);
  if (known != class_sets.end()) return static_cast<int>(known - class_sets.begin());
  class_sets.push_back(set);
  classes.emplace_back(set);
  anchor_users.push_back(0);
  class_density.push_back(ClassDensity(set));
  common_byte.push_back(set.count() == 1 && class_density.back() >= 0.04);
  auto complement = std::find(class_sets.begin(), class_sets.end() - 1, ~set);
  complement_of.push_back(complement != class_sets.end() - 1 ? static_cast<int>(complement - class_sets.begin()) : -1);
  return static_cast<int>(class_sets.size() - 1);
}

int TriggerTables::SequenceId(const Sequence& sequence) {
  auto same = [](const Element& a, const Element& b) {
    return a.class_id == b.class_id && a.min == b.min && a.max == b.max;
  };
  for (size_t i = 0; i < sequences.size(); ++i) {
    if (std::equal(sequences[i].begin(), sequences[i].end(), sequence.begin(), sequence.end(), same)) {
      return static_cast<int>(i);
    }
  }
  sequences.push_back(sequence);
  std::vector<FixedPart> parts;
  std::vector<double> density;  // of each part's run
  uint32_t offset = 0;
  bool fixed = true;
  for (size_t k = 0; k < sequence.size() && fixed; ++k) {
    const Element& e = sequence[k];
    fixed = e.min == e.max && e.min >= 1;
    parts.push_back(FixedPart{k, offset});
    double d = 1;
    for (uint32_t j = 0; j < e.min; ++j) d *= class_density[static_cast<size_t>(e.class_id)];
    density.push_back(d);
    offset += e.min;
  }
  if (fixed) {
    std::stable_sort(parts.begin(), parts.end(),
                     [&](const FixedPart& a, const FixedPart& b) { return density[a.element] < density[b.element]; });
  } else {
    parts.clear();
  }
  fixed_parts.push_back(std::move(parts));
  return static_cast<int>(sequences.size() - 1);
}

TriggerIndex& TriggerIndex::ForThread(Scratch user) {
  static thread_local TriggerIndex* indexes[2] = {nullptr, nullptr};  // see Pcre2Finder::MatchData
  TriggerIndex*& index = indexes[user == Scratch::kBatch ? 0 : 1];
  if (index == nullptr) index = new TriggerIndex();
  return *index;
}

void TriggerIndex::Reset(const CompiledPolicy* policy, std::string_view text) {
  policy_ = policy;
  text_ = text;
  const TriggerTables& t = policy->triggers();
  if (bits_.size() < t.classes.size()) bits_.resize(t.classes.size());
  built_.assign(t.classes.size(), 0);
  if (sequence_bits_.size() < t.sequences.size()) sequence_bits_.resize(t.sequences.size());
  sequence_built_.assign(t.sequences.size(), 0);
  runs_used_ = 0;
}

// A class bitmap pays for itself once two finders search the class, or at once for a byte that
// is common in traffic (a space or a quote: ByteWeight 8 and 4): memchr for a space stopped every
// few bytes of log text and cost more than marking the text once (measured; for classes of
// several bytes, which are searched with vectors, not).
const uint64_t* TriggerIndex::Bits(int id) {
  const TriggerTables& t = policy_->triggers();
  if (t.anchor_users[static_cast<size_t>(id)] < 2 && !t.common_byte[static_cast<size_t>(id)]) return nullptr;
  return ClassBits(id);
}

const uint64_t* TriggerIndex::ClassBits(int id) {
  std::vector<uint64_t>& bits = bits_[static_cast<size_t>(id)];
  if (!built_[static_cast<size_t>(id)]) {
    const size_t words = Words();
    bits.resize(words);
    const size_t marked = (text_.size() + 63) / 64;  // Mark overwrites these
    const int complement = policy_->triggers().complement_of[static_cast<size_t>(id)];
    if (complement >= 0) {
      const uint64_t* other = ClassBits(complement);  // builds bits_[complement]: `bits` stays valid
      for (size_t w = 0; w < marked; ++w) bits[w] = ~other[w];
      if (text_.size() % 64 != 0) bits[marked - 1] &= (uint64_t{1} << (text_.size() % 64)) - 1;
    } else {
      policy_->triggers().classes[static_cast<size_t>(id)].Mark(
          reinterpret_cast<const unsigned char*>(text_.data()), text_.size(), bits.data());
    }
    uint64_t any = 0;
    for (size_t w = 0; w < marked; ++w) any |= bits[w];
    for (size_t w = marked; w < words; ++w) bits[w] = 0;
    built_[static_cast<size_t>(id)] = any != 0 ? 2 : 1;
  }
  return bits.data();
}

// Bit p of x >> j over a whole bitmap (bit p + j of x), for 0 < j < 64.
static inline uint64_t ShiftedWord(const uint64_t* x, size_t w, unsigned j) {
  return (x[w] >> j) | (x[w + 1] << (64 - j));
}

const uint64_t* TriggerIndex::RunBits(int class_id, uint32_t length) {
  if (length <= 1) return ClassBits(class_id);
  for (size_t i = 0; i < runs_used_; ++i) {
    if (runs_[i].class_id == class_id && runs_[i].length == length) return runs_[i].bits.data();
  }
  // A run of `length` starts where one of `half` (the largest power of two below `length`) does
  // and one of length - half does half on: a run of 16 takes four passes (runs of 8, 4, 2, 1),
  // not fifteen.
  uint32_t half = 1;
  while (half * 2 < length) half *= 2;
  const uint64_t* head = RunBits(class_id, half);
  const uint64_t* rest = RunBits(class_id, length - half);
  if (runs_used_ == runs_.size()) runs_.emplace_back();  // moving bitmaps keeps their data
  Run& run = runs_[runs_used_++];
  run.class_id = class_id;
  run.length = length;
  const size_t words = Words();
  run.bits.resize(words);
  for (size_t w = 0; w + 1 < words; ++w) run.bits[w] = head[w] & ShiftedWord(rest, w, half);
  run.bits[words - 1] = 0;
  return run.bits.data();
}

// Where the sequence can start, computed backwards from its last element: `tail_` holds the
// positions where the elements after the current one can start (at first every position up to
// the text's end); a position starts the current element with j bytes if j bytes of its class
// begin there (RunBits, shared by every sequence using that run) and the position j on starts
// the rest. One pass per element, 64 positions per word operation. Hand-written: this is the
// bit-parallel ("shift-and") technique of multi-pattern scanners, which no packaged library
// offers for wasm32.
const uint64_t* TriggerIndex::SequenceStarts(int id) {
  std::vector<uint64_t>& starts = sequence_bits_[static_cast<size_t>(id)];
  if (sequence_built_[static_cast<size_t>(id)]) return starts.data();
  const size_t words = Words();
  const size_t n = text_.size();
  const TriggerTables::Sequence& seq = policy_->triggers().sequences[static_cast<size_t>(id)];
  // A class the sequence needs that does not occur (digits in keys, say): it occurs nowhere.
  for (const TriggerTables::Element& e : seq) {
    if (e.min == 0) continue;
    ClassBits(e.class_id);
    if (built_[static_cast<size_t>(e.class_id)] == 1) {
      starts.assign(words, 0);
      sequence_built_[static_cast<size_t>(id)] = 1;
      return starts.data();
    }
  }
  // Every count fixed: element k starts at a fixed offset from the sequence's start, and a start
  // is where each element's run begins at its offset. Word by word, rarest element first
  // (TriggerTables::fixed_parts), so most words are decided after one or two elements
  // (digit-dense JSON kept every element busy in the general pass below: measured).
  const std::vector<TriggerTables::FixedPart>& fixed = policy_->triggers().fixed_parts[static_cast<size_t>(id)];
  if (!fixed.empty()) {
    const uint64_t* bits[64];
    for (size_t k = 0; k < fixed.size(); ++k) {
      const TriggerTables::Element& e = seq[fixed[k].element];
      bits[k] = RunBits(e.class_id, e.min);
    }
    starts.assign(words, 0);
    for (size_t w = 0; w + 1 < words; ++w) {
      uint64_t any = ~uint64_t{0};
      for (size_t k = 0; k < fixed.size() && any != 0; ++k) {
        const uint32_t offset = fixed[k].offset;
        any &= offset == 0 ? bits[k][w] : ShiftedWord(bits[k], w, offset);
      }
      starts[w] = any;
    }
    sequence_built_[static_cast<size_t>(id)] = 1;
    return starts.data();
  }
  const uint64_t* runs[64];
  // The last element first: what may follow it is every position up to the text's end, so it
  // starts wherever its shortest run does (a run of j bytes at p already ends by n, and longer
  // runs start where shorter ones do): no shifts.
  auto e = seq.rbegin();
  tail_.resize(words);
  if (e->min == 0) {  // positions up to n itself
    std::fill(tail_.begin(), tail_.end(), 0);
    for (size_t w = 0; w < n / 64; ++w) tail_[w] = ~uint64_t{0};
    tail_[n / 64] = (uint64_t{2} << (n % 64)) - 1;
  } else {
    const uint64_t* shortest = RunBits(e->class_id, e->min);
    std::copy(shortest, shortest + words, tail_.begin());
  }
  tail_[words - 1] = 0;
  for (++e; e != seq.rend(); ++e) {
    for (uint32_t j = std::max<uint32_t>(e->min, 1); j <= e->max; ++j) runs[j] = RunBits(e->class_id, j);
    next_.resize(words);
    for (size_t w = 0; w + 1 < words; ++w) {
      // After the first elements the tail is mostly empty: skip its empty words cheaply.
      if ((tail_[w] | tail_[w + 1]) == 0) {
        next_[w] = 0;
        continue;
      }
      uint64_t any = e->min == 0 ? tail_[w] : 0;
      for (uint32_t j = std::max<uint32_t>(e->min, 1); j <= e->max; ++j) any |= runs[j][w] & ShiftedWord(tail_.data(), w, j);
      next_[w] = any;
    }
    next_[words - 1] = 0;
    tail_.swap(next_);
  }
  starts.swap(tail_);
  sequence_built_[static_cast<size_t>(id)] = 1;
  return starts.data();
}

// Over the regex finders that search (owner >= 0); on long texts only those that cannot skip.
void CompiledPolicy::BuildPrefilter(PrefilterKind kind) {
  const int k = static_cast<int>(kind);
  RE2::Options opts = Re2Options();
  opts.set_max_mem(kPrefilterSetMemory);
  auto set = std::make_unique<PrefilterSet>(opts);
  prefiltered_[k].assign(finders_.size(), false);
  for (size_t f = 0; f < finders_.size(); ++f) {
    if (finder_owner_[f] < 0 || set_patterns_[f].empty()) continue;
    if (kind == PrefilterKind::kLongText && skips_text_[f]) continue;
    std::string err;
    if (set->set.Add(set_patterns_[f], &err) < 0) continue;  // not fatal: the finder always runs
    prefiltered_[k][f] = true;
    set->finder_of_index.push_back(static_cast<int>(f));
  }
  if (set->finder_of_index.empty() || !set->set.Compile()) {
    prefiltered_[k].assign(finders_.size(), false);
    return;
  }
  sets_[k] = std::move(set);
}

bool CompiledPolicy::Prefilter(PrefilterKind kind, std::string_view text, std::vector<bool>* may_match) const {
  const PrefilterSet* set = sets_[static_cast<int>(kind)].get();
  if (set == nullptr) return false;
  // Reused per thread: this runs once per scanned value.
  static thread_local std::vector<int>* hits_storage = nullptr;  // see Pcre2Finder::MatchData
  if (hits_storage == nullptr) hits_storage = new std::vector<int>();
  std::vector<int>& hits = *hits_storage;
  hits.clear();
  RE2::Set::ErrorInfo info;
  const re2::StringPiece sp(text.data(), text.size());
  may_match->assign(finders_.size(), false);
  // Most texts match nothing: asking only whether anything matches stops at the first match and
  // spares the per-call allocation RE2 makes to collect which patterns matched.
  if (!set->set.Match(sp, nullptr, &info)) return info.kind == RE2::Set::kNoError;
  bool any = set->set.Match(sp, &hits, &info);
  if (!any && info.kind != RE2::Set::kNoError) return false;
  for (int h : hits) (*may_match)[set->finder_of_index[h]] = true;
  return true;
}

ResolvedEndpoint CompiledPolicy::Resolve(std::string_view target) const {
  ResolvedEndpoint out;
  struct Merged {
    MatchConfig config;
    int order = 0;
  };
  std::map<std::string, Merged> merged;
  std::optional<ReportStyle> ep_style;
  std::optional<uint32_t> ep_bits;
  int order = 0;
  std::vector<bool> applied(policy_.endpoints.size(), false);
  for (const EndpointGlob& eg : globs_) {
    if (!eg.glob.Matches(target)) continue;
    out.matched = true;
    out.policy_path = eg.glob.Display(target);
    if (applied[eg.endpoint]) continue;
    applied[eg.endpoint] = true;
    const Endpoint& ep = policy_.endpoints[eg.endpoint];
    if (ep.token_extractor) out.token_extractor = &*ep.token_extractor;
    if (ep.report_style) ep_style = ep.report_style;
    if (ep.report_bits) ep_bits = ep.report_bits;
    for (const std::string& key : ep.config_order) {
      const MatchConfig& mc = ep.config.at(key);
      auto it = merged.find(key);
      if (it == merged.end()) {
        merged[key] = Merged{mc, order++};
        continue;
      }
      MatchConfig& m = it->second.config;
      if (mc.action) { m.action = mc.action; m.redact_mask = mc.redact_mask; }
      if (mc.content_types) m.content_types = mc.content_types;
      if (mc.contexts) m.contexts = mc.contexts;
      if (mc.search) m.search = mc.search;
      if (mc.report_style) m.report_style = mc.report_style;
      if (mc.report_bits) m.report_bits = mc.report_bits;
      if (mc.matcher) m.matcher = mc.matcher;
      if (mc.name) m.name = mc.name;
      if (!mc.ignore.empty()) m.ignore = mc.ignore;
    }
  }
  std::vector<std::pair<int, ResolvedCategory>> ordered;
  for (const auto& [key, mg] : merged) {
    const MatchConfig& m = mg.config;
    ResolvedCategory rc;
    std::string cat_name = m.matcher.value_or(key);
    for (size_t c = 0; c < categories_.size(); ++c) {
      if (categories_[c].name == cat_name) rc.category = static_cast<int>(c);
    }
    if (rc.category < 0) continue;  // validated at load; defensive
    rc.report_name = m.name.value_or(key);
    rc.action = m.action.value_or(Action::kAlert);
    if (rc.action == Action::kIgnore) continue;
    rc.redact_mask = m.redact_mask.value_or("");
    if (m.content_types) rc.content_types = *m.content_types;
    if (m.contexts) rc.contexts = *m.contexts;
    rc.search = m.search.value_or(kSearchBodies);
    rc.report_style = m.report_style ? *m.report_style : ep_style ? *ep_style : policy_.report_style;
    rc.report_bits = m.report_bits ? *m.report_bits : ep_bits ? *ep_bits : policy_.report_bits;
    rc.ignore = m.ignore;
    ordered.emplace_back(mg.order, std::move(rc));
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [o, rc] : ordered) {
    rc.report_slot = static_cast<int>(out.categories.size());
    for (size_t s = 0; s < out.categories.size(); ++s) {
      if (out.categories[s].report_name == rc.report_name) {
        rc.report_slot = static_cast<int>(s);
        break;
      }
    }
    out.categories.push_back(std::move(rc));
  }
  return out;
}

std::shared_ptr<const ResolvedEndpoint> PolicyCache::Get(const std::shared_ptr<const CompiledPolicy>& policy,
                                                           std::string_view target) {
  if (policy != policy_) StartOver(policy);
  auto it = entries_.find(target);  // no key string made for a hit (most lookups)
  if (it != entries_.end()) return it->second;
  if (entries_.size() >= capacity_) entries_.clear();
  auto resolved = std::make_shared<const ResolvedEndpoint>(policy->Resolve(target));
  entries_.emplace(std::string(target), resolved);
  return resolved;
}

void PolicyCache::StartOver(const std::shared_ptr<const CompiledPolicy>& policy) {
  entries_.clear();
  plans_.clear();
  known_tables_.clear();
  next_replaced_ = 0;
  policy_ = policy;
}

std::shared_ptr<const ScanPlan> PolicyCache::Plan(const CompiledPolicy& policy,
                                                  const std::shared_ptr<const ResolvedEndpoint>& endpoint,
                                                  SearchScope body_scope, std::string_view content_type) {
  if (&policy != policy_.get()) {
    return std::make_shared<const ScanPlan>(policy.PlanScan(*endpoint, body_scope, content_type));
  }
  for (const PlanEntry& e : plans_) {
    if (e.endpoint == endpoint && e.body_scope == body_scope && e.content_type == content_type) return e.plan;
  }
  if (plans_.size() >= kMaxPlans) plans_.clear();
  auto plan = std::make_shared<const ScanPlan>(policy.PlanScan(*endpoint, body_scope, content_type));
  plans_.push_back(PlanEntry{endpoint, body_scope, std::string(content_type), plan});
  return plan;
}

KnownTexts* PolicyCache::KnownTextsFor(const CompiledPolicy* policy, bool keys, const std::vector<int>& finders) {
  if (policy != policy_.get() || policy == nullptr) return nullptr;
  for (KnownTable& t : known_tables_) {
    if (t.keys == keys && t.finders == finders) return t.texts.get();
  }
  if (known_tables_.size() < kKnownTables) {
    known_tables_.push_back(KnownTable{keys, finders, std::make_unique<KnownTexts>()});
    return known_tables_.back().texts.get();
  }
  KnownTable& reused = known_tables_[next_replaced_];
  next_replaced_ = (next_replaced_ + 1) % kKnownTables;
  reused.keys = keys;
  reused.finders = finders;
  reused.texts->Clear();
  return reused.texts.get();
}

std::unique_ptr<TransactionScratch> PolicyCache::TakeScratch() {
  if (scratches_.empty()) return nullptr;
  std::unique_ptr<TransactionScratch> scratch = std::move(scratches_.back());
  scratches_.pop_back();
  return scratch;
}

void PolicyCache::ReturnScratch(std::unique_ptr<TransactionScratch> scratch) {
  if (scratch == nullptr || scratches_.size() >= kPooledScratches || scratch->CapacityBytes() > kMaxPooledScratchBytes) {
    return;
  }
  scratches_.push_back(std::move(scratch));
}

namespace {

// Whether a `content_types` whitelist admits a body: an entry names a parser ("json", "text")
// or a MIME subtype word ("html" admits text/html, "xml" admits application/soap+xml).
bool ContentTypeAllowed(const std::vector<std::string>& allowed, const std::string& parser,
                        const std::string& mime) {
  if (allowed.empty()) return true;
  std::string subtype = mime.substr(mime.find('/') == std::string::npos ? 0 : mime.find('/') + 1);
  for (const std::string& a : allowed) {
    std::string e = AsciiToLower(a);
    if (e == parser || e == mime) return true;
    size_t pos = 0;
    while (pos <= subtype.size()) {
      size_t end = subtype.find_first_of("+.-", pos);
      if (end == std::string::npos) end = subtype.size();
      if (subtype.compare(pos, end - pos, e) == 0) return true;
      pos = end + 1;
    }
  }
  return false;
}

}  // namespace

void CompiledPolicy::AddCategoryFinders(int category, std::vector<int>* out) const {
  auto add = [out](int f) {
    if (std::find(out->begin(), out->end(), f) == out->end()) out->push_back(f);
  };
  const CompiledCategory& cat = categories_[static_cast<size_t>(category)];
  for (int f : cat.finders) add(f);
  for (const CompiledCorrelate& corr : cat.correlates) {
    for (int f : corr.finders) add(f);
    if (corr.match_group >= 0) {
      for (int f : categories_[static_cast<size_t>(corr.match_group)].finders) add(f);
    }
  }
}

ScanPlan CompiledPolicy::PlanScan(const ResolvedEndpoint& endpoint, SearchScope body_scope,
                                  std::string_view content_type) const {
  ScanPlan plan;
  const std::string mime = NormalizeMimeType(content_type);
  plan.parser = ParserForContentType(content_type);
  plan.json = plan.parser == "json";
  plan.grpc = plan.parser == "grpc";
  plan.none = plan.parser == "none";
  plan.slot_of_category.assign(categories_.size(), -1);
  for (size_t s = 0; s < endpoint.categories.size(); ++s) {
    plan.slot_of_category[static_cast<size_t>(endpoint.categories[s].category)] = static_cast<int>(s);
  }
  for (const ResolvedCategory& rc : endpoint.categories) {
    if (!(rc.search & static_cast<SearchMask>(body_scope))) continue;
    if (!ContentTypeAllowed(rc.content_types, plan.parser, mime)) continue;
    const ContextFilter& ctx = rc.contexts;
    bool keys = ctx.keys;
    bool values = ctx.values || ctx.values_key;
    if (!keys && !values) keys = values = true;  // no whitelist
    if (plan.json) {
      if (keys) AddCategoryFinders(rc.category, &plan.key_finders);
      if (values) AddCategoryFinders(rc.category, &plan.value_finders);
    } else if (plan.grpc && values) {  // protobuf has no keys, only field numbers
      AddCategoryFinders(rc.category, &plan.value_finders);
    }
    // Text bodies (and structured bodies that failed to parse) count as values.
    if (values) AddCategoryFinders(rc.category, &plan.text_finders);
    // Redaction and blocking both need the bounded hold-back window: the bytes of a match must
    // not have left before the match is known.
    if (rc.action == Action::kRedact || rc.action == Action::kBlock) plan.redacts = true;
    if (rc.action == Action::kBlock) plan.blocks = true;
  }
  // Headers: worked out here once rather than for every header of every transaction.
  const SearchMask header_scope = static_cast<SearchMask>(
      body_scope == SearchScope::kRequestBody ? SearchScope::kRequestHeader : SearchScope::kResponseHeader);
  for (const ResolvedCategory& rc : endpoint.categories) {
    if (!(rc.search & header_scope)) continue;
    for (const std::string& name : rc.contexts.headers) {
      bool known = false;
      for (const auto& named : plan.named_header_finders) known = known || named.first == name;
      if (!known) plan.named_header_finders.emplace_back(name, std::vector<int>());
    }
  }
  for (const ResolvedCategory& rc : endpoint.categories) {
    if (!(rc.search & header_scope)) continue;
    const std::vector<std::string>& names = rc.contexts.headers;
    if (names.empty()) AddCategoryFinders(rc.category, &plan.header_finders);
    for (auto& [name, finders] : plan.named_header_finders) {
      if (names.empty() || std::find(names.begin(), names.end(), name) != names.end()) {
        AddCategoryFinders(rc.category, &finders);
      }
    }
  }
  return plan;
}

std::string CompiledPolicy::ParserForContentType(std::string_view content_type) const {
  std::string mime = NormalizeMimeType(content_type);
  auto it = policy_.content_types.find(mime);
  if (it != policy_.content_types.end()) return it->second;
  // Unlisted types: structured suffixes first, then LeakSignal's fallback, the text parser.
  if (mime.size() > 5 && mime.compare(mime.size() - 5, 5, "+json") == 0) return "json";
  return "text";
}

}  // namespace leakscope
