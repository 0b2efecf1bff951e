#include "engine/regex_summary.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/ascii.h"

namespace leakscope {

namespace {

constexpr uint64_t kInf = RegexSummary::kUnbounded;
// Longest UTF-8 encoding of one character: the byte length of an atom that may match non-ASCII.
constexpr uint64_t kMaxCharBytes = 4;
// Trigger runs longer than this add little selectivity and cost a longer run check.
constexpr uint32_t kMaxTriggerRun = 32;
// Widest count range (max - min) of a sequence element; wider ones end the sequence.
constexpr uint64_t kMaxTriggerRange = 8;

uint64_t Add(uint64_t a, uint64_t b) { return (a == kInf || b == kInf) ? kInf : a + b; }
uint64_t Mul(uint64_t a, uint64_t n) {
  if (a == 0 || n == 0) return 0;
  if (a == kInf || n == kInf) return kInf;
  return a > kInf / n ? kInf : a * n;
}

ByteSet HighBytes() {
  ByteSet s;
  for (int b = 0x80; b < 256; ++b) s.set(b);
  return s;
}
ByteSet Range(int lo, int hi) {
  ByteSet s;
  for (int b = lo; b <= hi; ++b) s.set(b);
  return s;
}
ByteSet Digits() { return Range('0', '9'); }
ByteSet WordBytes() {
  ByteSet s;
  for (int b = 0; b < 0x80; ++b) s.set(static_cast<size_t>(b), IsAsciiWordByte(static_cast<unsigned char>(b)));
  return s;
}
ByteSet SpaceBytes() {  // RE2 and PCRE2 (without UCP): \t \n \v \f \r and space
  ByteSet s = Range('\t', '\r');
  s.set(' ');
  return s;
}
ByteSet AsciiComplement(const ByteSet& s) {
  ByteSet out = HighBytes();
  for (int b = 0; b < 0x80; ++b) {
    if (!s.test(b)) out.set(b);
  }
  return out;
}

// A trigger: `run` bytes of `set`, immediately followed by the elements of `rest` (count
// ranges), starting at most `lead` bytes after the match's start.
struct Candidate {
  ByteSet set;
  uint32_t run = 1;
  std::vector<TriggerElement> rest;
  std::optional<TriggerPrefix> prefix;
  uint64_t lead = 0;
  double cost = 0;
};

double Cost(const ByteSet& set, uint32_t run) {
  const double p = ClassDensity(set);
  double c = 1.0;
  for (uint32_t i = 0; i < std::min<uint32_t>(run, 8); ++i) c *= p;
  return c;
}

// Expected work per scanned byte, in regex searches: a regex search wherever the whole sequence
// occurs, plus checking the sequence wherever its rarest element's class occurs (~100x cheaper
// than a search) or, at most, computing where it occurs for every byte with bitmaps
// (TriggerIndex: a few word operations per 64 bytes per element, ~1/2000 of a search per byte).
constexpr double kBitmapSequenceCost = 0.0005;
double Cost(const Candidate& c) {
  double selectivity = Cost(c.set, c.run);
  double rarest = Cost(c.set, 1);
  for (const TriggerElement& e : c.rest) {
    selectivity *= Cost(e.set, e.count);
    if (e.count > 0) rarest = std::min(rarest, Cost(e.set, 1));
  }
  return c.rest.empty() ? selectivity : selectivity + std::min(rarest / 100, kBitmapSequenceCost);
}

bool Better(const Candidate& a, const Candidate& b) {
  if (a.cost != b.cost) return a.cost < b.cost;
  if (a.lead != b.lead) return a.lead < b.lead;
  return a.prefix.has_value() && !b.prefix.has_value();  // the same trigger, checked further
}

// The best trigger of a part: the rarest, and the rarest with a bounded lead (an unbounded lead
// is usable only when the alphabet confines matches, which is known only for the whole pattern).
struct Candidates {
  std::optional<Candidate> any;
  std::optional<Candidate> bounded;

  void Offer(const Candidate& c) {
    if (!any || Better(c, *any)) any = c;
    if (c.lead != kInf && (!bounded || Better(c, *bounded))) bounded = c;
  }
  void Reset() {
    any.reset();
    bounded.reset();
  }
  explicit operator bool() const { return any.has_value(); }
};

// Every match of an alternation contains one of its branches' triggers.
std::optional<Candidate> Union(const std::optional<Candidate>& a, const std::optional<Candidate>& b) {
  if (!a || !b) return std::nullopt;
  Candidate u = *a;  // first elements only: the branches' sequences differ
  u.rest.clear();
  u.prefix.reset();
  u.set |= b->set;
  u.run = std::min(a->run, b->run);
  u.lead = std::max(a->lead, b->lead);
  u.cost = Cost(u.set, u.run);
  return u;
}

// Pairs of either of two parts (null if either is unknown).
std::shared_ptr<const BytePairs> UnitePairs(const std::shared_ptr<const BytePairs>& a,
                                            const std::shared_ptr<const BytePairs>& b) {
  if (a == nullptr || b == nullptr) return nullptr;
  auto u = std::make_shared<BytePairs>(*a);
  for (size_t i = 0; i < u->size(); ++i) (*u)[i] |= (*b)[i];
  return u;
}

struct Info {
  uint64_t min_len = 0;
  uint64_t max_len = 0;
  uint64_t reach = 0;
  ByteSet alphabet;
  Candidates cand;      // triggers every match of this part contains
  // Every byte a non-empty match of this part can start with (all bytes when unknown).
  ByteSet first = ~ByteSet();
  // When every match is at least 2 bytes long: for each first byte, the second bytes that can
  // follow it (null when unknown).
  std::shared_ptr<const BytePairs> pairs;
  bool atom = false;    // one character from `alphabet`
  bool leading_literal = false;  // starts with one fixed byte
  // One single-byte class (`alphabet`) repeated rep_lo..rep_hi times: an element of trigger
  // sequences.
  bool byte_atom = false;
  uint64_t rep_lo = 1;
  uint64_t rep_hi = 1;
  bool word_boundary = false;  // exactly `\b`
  bool word_start = false;     // every match starts where `\b` holds (RegexSummary)
};

struct Flags {
  bool icase = false;
  bool dotall = false;
  bool multiline = false;
};

class Analyzer {
 public:
  Analyzer(std::string_view p, RegexDialect d) : p_(p), dialect_(d) {}

  // See RegexSummary::separator_safe.
  bool separator_safe() const { return separator_safe_; }
  bool separator_exact() const { return separator_safe_ && separator_exact_; }

  std::optional<Info> Run() {
    Flags f;
    Info info;
    if (!ParseAlt(&f, &info)) return std::nullopt;
    if (pos_ != p_.size()) return std::nullopt;  // unbalanced ')'
    return info;
  }

 private:
  bool AtEnd() const { return pos_ >= p_.size(); }
  char Peek(size_t k = 0) const { return pos_ + k < p_.size() ? p_[pos_ + k] : '\0'; }

  // alternation := concat ('|' concat)*
  bool ParseAlt(Flags* flags, Info* out) {
    std::vector<Info> branches;
    while (true) {
      Info b;
      if (!ParseConcat(flags, &b)) return false;
      branches.push_back(std::move(b));
      if (!AtEnd() && Peek() == '|') {
        ++pos_;
        continue;
      }
      break;
    }
    // Branches that are each one byte of a class, or empty: one byte of their union, optional
    // if a branch is empty (`(-| |)`): an element of trigger sequences.
    bool byte_choice = branches.size() > 1;
    bool has_empty = false;
    ByteSet choice;
    for (const Info& b : branches) {
      if (b.byte_atom && b.rep_lo == 1 && b.rep_hi == 1) {
        choice |= b.alphabet;
      } else if (b.max_len == 0) {
        has_empty = true;
      } else {
        byte_choice = false;
      }
    }
    *out = branches[0];
    for (size_t i = 1; i < branches.size(); ++i) {
      const Info& b = branches[i];
      out->word_start = out->word_start && b.word_start;
      out->word_boundary = false;
      out->min_len = std::min(out->min_len, b.min_len);
      out->max_len = std::max(out->max_len, b.max_len);
      out->reach = std::max(out->reach, b.reach);
      out->alphabet |= b.alphabet;
      out->first |= b.first;
      out->pairs = UnitePairs(out->pairs, b.pairs);
      out->atom = false;
      out->byte_atom = false;
      out->leading_literal = false;
      out->cand.any = Union(out->cand.any, b.cand.any);
      out->cand.bounded = Union(out->cand.bounded, b.cand.bounded);
    }
    if (byte_choice && choice.any()) {
      out->byte_atom = true;
      out->atom = !has_empty;
      out->rep_lo = has_empty ? 0 : 1;
      out->rep_hi = 1;
    }
    return true;
  }

  // concat := (atom quantifier?)*
  bool ParseConcat(Flags* flags, Info* out) {
    *out = Info();
    uint64_t offset = 0;  // longest length of what precedes the current piece
    size_t pieces = 0;
    // A run of consecutive single-byte classes with fixed counts (zero-width pieces do not break
    // it): a trigger sequence, much rarer than any one of its classes.
    Candidate seq;
    bool in_seq = false;
    ByteSet first;             // what the pieces so far can start a match with
    bool all_can_be_empty = true;  // whether the pieces so far can all match empty
    // Pairs: from the first piece that consumes, if it is one character (its ASCII bytes are
    // followed by what the pieces after it start with, collected in `after_char`) or always
    // two bytes or more (its own pairs).
    std::optional<ByteSet> first_char;  // the first bytes of that character
    std::shared_ptr<const BytePairs> out_pairs;
    ByteSet after_char;
    bool after_char_open = false;  // the pieces after first_char can all be empty so far
    bool optional_before = false;  // a piece that may consume nothing came before: no pairs
    // The two pieces before the current one (forgotten at a zero-width piece), for
    // TriggerPrefix: a sequence that starts after `X*` that follows a class repeated at least
    // once.
    struct Before {
      ByteSet alphabet;
      bool optional_run;  // X* (may be empty, may consume)
      bool class_run;     // one byte class, at least once
    };
    std::optional<Before> before1, before2;
    // Whether a `\b` comes before any piece that consumes (then every match starts where it
    // holds), and whether one consumed yet.
    bool word_start = false;
    bool consumed = false;
    auto prefix_here = [&]() -> std::optional<TriggerPrefix> {
      if (!before1 || !before2 || !before1->optional_run || !before2->class_run) return std::nullopt;
      return TriggerPrefix{before2->alphabet, before1->alphabet};
    };
    auto emit = [&]() {
      if (in_seq) {
        // Optional elements at the end add nothing a match must contain.
        while (!seq.rest.empty() && seq.rest.back().count == 0) seq.rest.pop_back();
        seq.cost = Cost(seq);
        out->cand.Offer(seq);
      }
      in_seq = false;
    };
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      Info piece;
      bool is_piece = false;
      if (!ParsePiece(flags, &piece, &is_piece)) return false;
      if (!is_piece) continue;  // a flag group such as (?i) changes flags only
      ++pieces;
      if (!consumed) {
        word_start = word_start || piece.word_boundary || (piece.min_len > 0 && piece.word_start);
        consumed = piece.max_len > 0;
      }
      const uint64_t lo = piece.rep_lo;
      const uint64_t hi = piece.rep_hi;
      // A small count range continues a sequence (the bit-parallel trigger check handles ranges).
      const bool small_range = piece.byte_atom && hi != kInf && hi >= 1 && hi <= kMaxTriggerRun &&
                               hi - lo <= kMaxTriggerRange;
      if (small_range && (in_seq || lo >= 1)) {
        if (!in_seq) {
          seq = Candidate();
          seq.set = piece.alphabet;
          seq.run = static_cast<uint32_t>(lo);
          seq.lead = offset;
          seq.prefix = prefix_here();
          in_seq = true;
          if (hi > lo) seq.rest.push_back(TriggerElement{piece.alphabet, 0, static_cast<uint32_t>(hi - lo), nullptr});
        } else {
          seq.rest.push_back(TriggerElement{piece.alphabet, static_cast<uint32_t>(lo), static_cast<uint32_t>(hi), nullptr});
        }
      } else if (piece.byte_atom && lo >= 1) {
        const uint32_t count = static_cast<uint32_t>(std::min<uint64_t>(lo, kMaxTriggerRun));
        if (!in_seq) {
          seq = Candidate();
          seq.set = piece.alphabet;
          seq.run = count;
          seq.lead = offset;
          seq.prefix = prefix_here();
          in_seq = true;
        } else {
          seq.rest.push_back(TriggerElement{piece.alphabet, count, count, nullptr});
        }
        if (hi != lo || count != lo) {
          // A variable count: what follows is preceded by exactly rep_lo bytes of the class.
          emit();
          seq = Candidate();
          seq.set = piece.alphabet;
          seq.run = count;
          seq.lead = hi == kInf ? kInf : Add(offset, hi - count);
          in_seq = true;
        }
      } else if (piece.atom && piece.max_len > 1) {
        // One character of a class that may take several bytes (`[^0-9]`, a case-folded
        // letter): the byte next to its neighbours is one of its bytes, so it ends the current
        // sequence as a one-byte element and starts the next one the same way (its last byte
        // starts at most max_len - 1 bytes after the character does).
        if (in_seq) seq.rest.push_back(TriggerElement{piece.alphabet, 1, 1, nullptr});
        emit();
        seq = Candidate();
        seq.set = piece.alphabet;
        seq.run = 1;
        seq.lead = Add(offset, piece.max_len - 1);
        in_seq = true;
      } else if (piece.max_len != 0) {
        // A longer piece (a group, an alternation) ends the sequence. When it cannot be empty,
        // the byte after the sequence is one of its first bytes: a last element. It makes a
        // common trigger rare where the piece starts with few bytes: a space followed by one of
        // the letters that begin `(street|road|…)`, not every space of a log line.
        // With a second byte in every match, and known pairs, the second byte joins too.
        if (in_seq && piece.min_len > 0 && !piece.first.all()) {
          const bool two = piece.min_len >= 2 && piece.pairs != nullptr;
          seq.rest.push_back(TriggerElement{piece.first, 1, 1, two ? piece.pairs : nullptr});
          if (two) {
            ByteSet second;
            for (int b = 0; b < 256; ++b) {
              if (piece.first.test(b)) second |= (*piece.pairs)[b];
            }
            seq.rest.push_back(TriggerElement{second, 1, 1, nullptr});
          }
        }
        emit();
      }
      if (piece.max_len == 0) {
        before1.reset();
        before2.reset();
      } else {
        before2 = before1;
        before1 = Before{piece.alphabet, piece.rep_lo == 0 && piece.min_len == 0, piece.byte_atom && piece.rep_lo >= 1};
      }
      if (after_char_open) {
        after_char |= piece.first;
        after_char_open = piece.min_len == 0;
      }
      if (all_can_be_empty) {
        first |= piece.first;
        all_can_be_empty = piece.min_len == 0;
        if (all_can_be_empty && piece.max_len != 0) optional_before = true;
        if (!all_can_be_empty && !optional_before) {
          if (piece.atom) {
            first_char = piece.first;
            after_char_open = true;
          } else if (piece.min_len >= 2) {
            out_pairs = piece.pairs;
          }
        }
      }
      if (piece.min_len > 0) {
        for (const std::optional<Candidate>& pc : {piece.cand.any, piece.cand.bounded}) {
          if (!pc) continue;
          Candidate c = *pc;
          c.lead = Add(offset, c.lead);
          out->cand.Offer(c);
        }
      }
      out->reach = std::max(out->reach, Add(offset, piece.reach));
      out->min_len = Add(out->min_len, piece.min_len);
      out->max_len = Add(out->max_len, piece.max_len);
      out->alphabet |= piece.alphabet;
      offset = Add(offset, piece.max_len);
      out->atom = pieces == 1 && piece.atom;
      out->byte_atom = pieces == 1 && piece.byte_atom;
      out->rep_lo = piece.rep_lo;
      out->rep_hi = piece.rep_hi;
      if (pieces == 1) out->leading_literal = piece.leading_literal;
      out->word_boundary = pieces == 1 && piece.word_boundary;
    }
    emit();
    out->word_start = word_start;
    out->reach = std::max(out->reach, out->max_len);
    out->first = first;
    if (first_char && out->min_len >= 2) {
      // A one-byte (ASCII) character is followed by the next piece's first byte, or by anything
      // when the pieces after it can be empty; a longer character by its own next byte.
      auto pairs = std::make_shared<BytePairs>();
      const ByteSet follow = after_char_open ? ~ByteSet() : after_char;
      for (int b = 0; b < 256; ++b) {
        if (first_char->test(b)) (*pairs)[b] = b < 0x80 ? follow : ~ByteSet();
      }
      out_pairs = std::move(pairs);
    }
    out->pairs = out->min_len >= 2 ? out_pairs : nullptr;
    return true;
  }

  bool ParsePiece(Flags* flags, Info* out, bool* is_piece) {
    *is_piece = true;
    bool zero_width_group = false;
    if (!ParseAtom(flags, out, is_piece, &zero_width_group)) return false;
    if (!*is_piece) return true;
    // Quantifiers (several may follow in PCRE, e.g. a{2}{3}; each applies to the result).
    while (!AtEnd()) {
      uint64_t lo = 0, hi = 0;
      char c = Peek();
      if (c == '*') { lo = 0; hi = kInf; ++pos_; }
      else if (c == '+') { lo = 1; hi = kInf; ++pos_; }
      else if (c == '?') { lo = 0; hi = 1; ++pos_; }
      else if (c == '{') {
        if (!ParseCount(&lo, &hi)) break;  // not a repeat: '{' is a literal, parsed next
      } else {
        break;
      }
      if (!AtEnd() && (Peek() == '?' || Peek() == '+')) ++pos_;  // lazy / possessive
      Repeat(out, lo, hi);
    }
    (void)zero_width_group;
    return true;
  }

  bool ParseCount(uint64_t* lo, uint64_t* hi) {
    size_t p = pos_ + 1;
    auto number = [&](uint64_t* v) {
      size_t start = p;
      uint64_t n = 0;
      while (p < p_.size() && p_[p] >= '0' && p_[p] <= '9') {
        n = std::min<uint64_t>(n * 10 + static_cast<uint64_t>(p_[p] - '0'), 1u << 20);
        ++p;
      }
      *v = n;
      return p > start;
    };
    if (!number(lo)) return false;
    if (p < p_.size() && p_[p] == '}') {
      *hi = *lo;
    } else if (p < p_.size() && p_[p] == ',') {
      ++p;
      if (p < p_.size() && p_[p] == '}') {
        *hi = kInf;
      } else if (!number(hi) || p >= p_.size() || p_[p] != '}') {
        return false;
      }
    } else {
      return false;
    }
    pos_ = p + 1;
    return true;
  }

  static void Repeat(Info* info, uint64_t lo, uint64_t hi) {
    const Info child = *info;
    info->min_len = Mul(child.min_len, lo);
    if (hi == 0 || child.max_len == 0) {
      info->max_len = 0;
    } else {
      info->max_len = Mul(child.max_len, hi);
    }
    if (hi == 0) {
      info->reach = 0;
      info->alphabet.reset();
      info->first.reset();
    } else if (info->max_len == kInf || child.reach == kInf) {
      info->reach = kInf;
    } else {
      info->reach = std::max(info->max_len, info->max_len - child.max_len + child.reach);
    }
    if (lo == 0) {
      info->cand.Reset();
      info->leading_literal = false;
    } else if (child.atom) {
      Candidate c;
      c.set = child.alphabet;
      c.run = static_cast<uint32_t>(std::min<uint64_t>(lo, kMaxTriggerRun));
      c.lead = 0;
      c.cost = Cost(c.set, c.run);
      info->cand.Reset();
      info->cand.Offer(c);
    }
    // A repeat of a part whose every match has two bytes starts as that part does.
    info->pairs = lo >= 1 && child.min_len >= 2 ? child.pairs : nullptr;
    info->atom = child.atom && lo == 1 && hi == 1;
    info->byte_atom = child.byte_atom && child.rep_lo == 1 && child.rep_hi == 1;
    info->rep_lo = lo;
    info->rep_hi = hi;
    info->word_start = lo >= 1 && child.word_start;
    info->word_boundary = false;
  }

  static Info Atom(const ByteSet& set, uint64_t max_bytes) {
    Info i;
    i.min_len = 1;
    i.max_len = max_bytes;
    i.reach = max_bytes;
    i.alphabet = set;
    i.first = set;  // a character's first byte is one of its bytes
    i.atom = true;
    Candidate c;
    c.set = set;
    c.cost = Cost(set, 1);
    i.cand.Offer(c);
    i.leading_literal = set.count() == 1 && max_bytes == 1;
    i.byte_atom = max_bytes == 1;
    return i;
  }

  // One literal byte of the pattern. Case-insensitive letters may also match non-ASCII
  // characters (Unicode simple folding: 'k' matches U+212A KELVIN SIGN), so they widen.
  Info LiteralByte(unsigned char b, const Flags& f) const {
    ByteSet s;
    s.set(b);
    uint64_t max_bytes = 1;
    bool letter = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
    if (f.icase && letter) {
      s.set(b | 0x20);
      s.set(b & ~0x20);
      s |= HighBytes();
      max_bytes = kMaxCharBytes;
    } else if (f.icase && b >= 0x80) {
      s |= HighBytes();
      max_bytes = kMaxCharBytes;
    }
    return Atom(s, max_bytes);
  }

  // Matches only the empty string: no first byte.
  static Info Empty() {
    Info i;
    i.first.reset();
    return i;
  }

  // Zero-width assertion: reads at most one byte on either side, which the search always
  // supplies as context.
  static Info Assertion() { return Empty(); }

  bool ParseAtom(Flags* flags, Info* out, bool* is_piece, bool* zero_width) {
    char c = Peek();
    switch (c) {
      case '(': return ParseGroup(flags, out, is_piece, zero_width);
      case '[': return ParseClass(*flags, out);
      case '.': {
        ++pos_;
        ByteSet s;
        s.set();
        if (!flags->dotall) s.reset('\n');
        *out = Atom(s, kMaxCharBytes);
        return true;
      }
      case '^':
      case '$':
        ++pos_;
        if (!flags->multiline) separator_safe_ = false;
        *out = Assertion();
        *zero_width = true;
        return true;
      case '\\': return ParseEscape(*flags, out, zero_width);
      case '*': case '+': case '?':
        return false;  // quantifier without operand
      default: {
        const auto b = static_cast<unsigned char>(c);
        ++pos_;
        if (b >= 0xC0) {
          // A UTF-8 encoded character is one atom (a quantifier after it applies to all of it):
          // any of its bytes, 2 to 4 of them, or other non-ASCII under case folding.
          ByteSet set;
          set.set(b);
          while (!AtEnd() && (static_cast<unsigned char>(Peek()) & 0xC0) == 0x80) {
            set.set(static_cast<unsigned char>(Peek()));
            ++pos_;
          }
          if (flags->icase) set |= HighBytes();
          *out = Atom(set, kMaxCharBytes);
          return true;
        }
        *out = LiteralByte(b, *flags);
        return true;
      }
    }
  }

  bool ParseGroup(Flags* flags, Info* out, bool* is_piece, bool* zero_width) {
    ++pos_;  // '('
    Flags inner = *flags;
    bool capturing = true;
    bool negative = false;
    enum { kNormal, kLookahead, kLookbehind } kind = kNormal;
    if (Peek() == '?') {
      char n = Peek(1);
      if (n == ':') {
        capturing = false;
        pos_ += 2;
      } else if (n == '=' || n == '!') {
        kind = kLookahead;
        negative = n == '!';
        capturing = false;
        pos_ += 2;
      } else if (n == '<' && (Peek(2) == '=' || Peek(2) == '!')) {
        kind = kLookbehind;
        negative = Peek(2) == '!';
        capturing = false;
        pos_ += 3;
      } else if (n == '>') {  // atomic group (PCRE): same bytes, less backtracking
        capturing = false;
        pos_ += 2;
      } else if (n == 'P' && Peek(2) == '<') {
        pos_ += 3;
        if (!SkipName('>')) return false;
      } else if (n == '<' || n == '\'') {
        pos_ += 2;
        if (!SkipName(n == '<' ? '>' : '\'')) return false;
      } else if (n == '#') {  // comment
        size_t close = p_.find(')', pos_);
        if (close == std::string_view::npos) return false;
        pos_ = close + 1;
        *is_piece = false;
        return true;
      } else {
        // Flags: (?flags) or (?flags:...)
        pos_ += 1;
        bool negate = false;
        while (!AtEnd() && Peek() != ')' && Peek() != ':') {
          char f = Peek();
          switch (f) {
            case '-': negate = true; break;
            case 'i': inner.icase = !negate; break;
            case 's': inner.dotall = !negate; break;
            case 'm': inner.multiline = !negate; break;
            case 'U': case 'u': break;  // no effect on which bytes can match
            default: return false;                // x (verbose) and anything else: give up
          }
          ++pos_;
        }
        if (AtEnd()) return false;
        if (Peek() == ')') {  // applies to the rest of the enclosing group
          ++pos_;
          *flags = inner;
          *is_piece = false;
          return true;
        }
        ++pos_;  // ':'
        capturing = false;
      }
    }
    size_t group_index = 0;
    if (capturing) {
      group_index = groups_.size();
      groups_.push_back(std::nullopt);
    }
    Info body;
    if (!ParseAlt(&inner, &body)) return false;
    if (AtEnd() || Peek() != ')') return false;
    ++pos_;
    if (capturing) groups_[group_index] = body;
    if (kind == kNormal) {
      *out = body;
      return true;
    }
    // Lookaround consumes nothing; lookahead reads up to its own reach from here.
    if (body.alphabet.test('\n')) {
      separator_exact_ = false;
      if (negative) separator_safe_ = false;
    }
    *out = Empty();
    *zero_width = true;
    if (kind == kLookahead) out->reach = body.reach;
    return true;
  }

  bool SkipName(char close) {
    size_t end = p_.find(close, pos_);
    if (end == std::string_view::npos) return false;
    pos_ = end + 1;
    return true;
  }

  // The byte of a control-character escape (\n, \t, ...), or -1.
  static int ControlEscape(char e) {
    switch (e) {
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case 'f': return '\f';
      case 'v': return '\v';
      case 'a': return '\a';
      case 'e': return 0x1b;
      default: return -1;
    }
  }

  // After "\x": two hex digits or {hex}.
  bool ParseHexEscape(uint32_t* v) {
    std::string digits;
    if (Peek() == '{') {
      size_t close = p_.find('}', pos_);
      if (close == std::string_view::npos) return false;
      digits = std::string(p_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
    } else {
      if (pos_ + 2 > p_.size()) return false;
      digits = std::string(p_.substr(pos_, 2));
      pos_ += 2;
    }
    *v = static_cast<uint32_t>(std::strtoul(digits.c_str(), nullptr, 16));
    return true;
  }

  // After "\p" or "\P": a one-letter name or {name}.
  bool SkipUnicodeClassName() {
    if (Peek() == '{') {
      size_t close = p_.find('}', pos_);
      if (close == std::string_view::npos) return false;
      pos_ = close + 1;
    } else if (!AtEnd()) {
      ++pos_;
    }
    return true;
  }

  bool ParseEscape(const Flags& flags, Info* out, bool* zero_width) {
    if (pos_ + 1 >= p_.size()) return false;
    char e = p_[pos_ + 1];
    pos_ += 2;
    switch (e) {
      case 'd': *out = Atom(Digits(), 1); return true;
      case 'D': *out = Atom(AsciiComplement(Digits()), kMaxCharBytes); return true;
      case 'w':
        // Case folding applies to classes too: (?i)\w also matches U+212A KELVIN SIGN (k) and
        // U+017F LATIN SMALL LETTER LONG S (s).
        *out = flags.icase ? Atom(WordBytes() | HighBytes(), kMaxCharBytes) : Atom(WordBytes(), 1);
        return true;
      case 'W': *out = Atom(AsciiComplement(WordBytes()), kMaxCharBytes); return true;
      case 's': *out = Atom(SpaceBytes(), 1); return true;
      case 'S': *out = Atom(AsciiComplement(SpaceBytes()), kMaxCharBytes); return true;
      case 'A': case 'z': case 'Z': case 'G':
        separator_safe_ = false;
        [[fallthrough]];
      case 'b': case 'B':
        *out = Assertion();
        out->word_boundary = e == 'b';
        *zero_width = true;
        return true;
      case 'p': case 'P': {  // Unicode classes: any byte
        if (!SkipUnicodeClassName()) return false;
        ByteSet all;
        all.set();
        *out = Atom(all, kMaxCharBytes);
        return true;
      }
      case 'C': {  // any single byte (RE2)
        ByteSet all;
        all.set();
        *out = Atom(all, 1);
        return true;
      }
      case 'Q': {  // literal text up to \E
        size_t end = p_.find("\\E", pos_);
        std::string_view lit = p_.substr(pos_, end == std::string_view::npos ? std::string_view::npos : end - pos_);
        pos_ = end == std::string_view::npos ? p_.size() : end + 2;
        Info seq = Empty();
        uint64_t offset = 0;
        for (unsigned char b : lit) {
          Info a = LiteralByte(b, flags);
          if (seq.min_len == 0) {
            seq.leading_literal = a.leading_literal;
            seq.first = a.first;
          }
          Candidate c = *a.cand.any;
          c.lead = offset;
          seq.cand.Offer(c);
          seq.min_len += 1;
          seq.max_len = Add(seq.max_len, a.max_len);
          seq.alphabet |= a.alphabet;
          offset = Add(offset, a.max_len);
        }
        seq.reach = seq.max_len;
        *out = seq;
        return true;
      }
      case 'x': {
        uint32_t v = 0;
        if (!ParseHexEscape(&v)) return false;
        if (v < 0x80) {
          *out = LiteralByte(static_cast<unsigned char>(v), flags);
        } else {
          *out = Atom(HighBytes(), kMaxCharBytes);
        }
        return true;
      }
      default: break;
    }
    if (int c = ControlEscape(e); c >= 0) {
      *out = LiteralByte(static_cast<unsigned char>(c), flags);
      return true;
    }
    if (e >= '1' && e <= '9') {  // backreference (PCRE2 only): the bytes of that group again
      if (dialect_ != RegexDialect::kPcre2) return false;
      size_t n = static_cast<size_t>(e - '0');
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') n = n * 10 + static_cast<size_t>(p_[pos_++] - '0');
      if (n == 0 || n > groups_.size() || !groups_[n - 1]) return false;  // forward or open group
      const Info& g = *groups_[n - 1];
      Info r;
      r.min_len = 0;
      r.max_len = g.max_len;
      r.reach = g.max_len;
      r.alphabet = g.alphabet;
      r.first = g.first;
      *out = r;
      return true;
    }
    if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || e == '0') return false;  // unknown escape
    *out = LiteralByte(static_cast<unsigned char>(e), flags);
    return true;
  }

  // Adds one class member (a byte, or an escape) to `set`; `wide` is set when it may match a
  // non-ASCII character. Returns the byte value for ranges (-1 if not a single byte).
  bool ClassMember(ByteSet* set, bool* wide, int* value) {
    *value = -1;
    unsigned char c = static_cast<unsigned char>(Peek());
    if (c == '\\') {
      if (pos_ + 1 >= p_.size()) return false;
      char e = p_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case 'd': *set |= Digits(); return true;
        case 'D': *set |= AsciiComplement(Digits()); *wide = true; return true;
        case 'w': *set |= WordBytes(); return true;
        case 'W': *set |= AsciiComplement(WordBytes()); *wide = true; return true;
        case 's': *set |= SpaceBytes(); return true;
        case 'S': *set |= AsciiComplement(SpaceBytes()); *wide = true; return true;
        case 'p': case 'P':
          if (!SkipUnicodeClassName()) return false;
          set->set();
          *wide = true;
          return true;
        case 'x': {
          uint32_t v = 0;
          if (!ParseHexEscape(&v)) return false;
          *value = v < 0x80 ? static_cast<int>(v) : 0x100;  // 0x100: some non-ASCII character
          break;
        }
        default:
          if (int c = ControlEscape(e); c >= 0) {
            *value = c;
            break;
          }
          if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) return false;
          *value = static_cast<unsigned char>(e);
          break;
      }
    } else if (c == '[' && Peek(1) == ':') {  // POSIX class
      size_t close = p_.find(":]", pos_ + 2);
      if (close == std::string_view::npos) return false;
      std::string_view name = p_.substr(pos_ + 2, close - pos_ - 2);
      pos_ = close + 2;
      if (!name.empty() && name[0] == '^') {
        set->set();
        *wide = true;
        return true;
      }
      if (name == "digit") *set |= Digits();
      else if (name == "alpha") *set |= Range('a', 'z') | Range('A', 'Z');
      else if (name == "alnum") *set |= Range('a', 'z') | Range('A', 'Z') | Digits();
      else if (name == "upper" || name == "lower") *set |= Range('a', 'z') | Range('A', 'Z');
      else if (name == "space") *set |= SpaceBytes();
      else if (name == "blank") { set->set(' '); set->set('\t'); }
      else if (name == "xdigit") *set |= Digits() | Range('a', 'f') | Range('A', 'F');
      else if (name == "word") *set |= WordBytes();
      else if (name == "punct" || name == "graph" || name == "print" || name == "cntrl" || name == "ascii") *set |= Range(0, 0x7f);
      else return false;
      return true;
    } else if (c >= 0x80) {  // a UTF-8 encoded character
      ++pos_;
      while (!AtEnd() && (static_cast<unsigned char>(Peek()) & 0xC0) == 0x80) ++pos_;
      *value = 0x100;
    } else {
      ++pos_;
      *value = c;
    }
    return true;
  }

  bool ParseClass(const Flags& flags, Info* out) {
    ++pos_;  // '['
    bool negate = false;
    if (Peek() == '^') {
      negate = true;
      ++pos_;
    }
    ByteSet set;
    bool wide = false;
    bool first = true;
    while (true) {
      if (AtEnd()) return false;
      if (Peek() == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      int lo = -1;
      if (!ClassMember(&set, &wide, &lo)) return false;
      if (lo < 0) continue;
      int hi = lo;
      if (Peek() == '-' && Peek(1) != ']' && pos_ + 1 < p_.size()) {
        ++pos_;
        if (!ClassMember(&set, &wide, &hi)) return false;
        if (hi < 0) return false;  // a range to a class such as \d
      }
      if (lo >= 0x80 || hi >= 0x80) {  // a range reaching into non-ASCII characters
        if (lo < 0x80) set |= Range(lo, 0x7f);
        set |= HighBytes();
        wide = true;
      } else {
        if (hi < lo) return false;
        set |= Range(lo, hi);
      }
    }
    if (flags.icase) {
      for (int b = 'a'; b <= 'z'; ++b) {
        if (set.test(b) || set.test(b - 0x20)) {
          set.set(b);
          set.set(b - 0x20);
          wide = true;  // Unicode folding (k, s)
        }
      }
      if (wide) set |= HighBytes();
    }
    if (negate) {
      set = AsciiComplement(set);
      wide = true;
    }
    *out = Atom(set, wide ? kMaxCharBytes : 1);
    return true;
  }

  std::string_view p_;
  RegexDialect dialect_;
  size_t pos_ = 0;
  std::vector<std::optional<Info>> groups_;  // capturing groups in order, once closed
  bool separator_safe_ = true;
  bool separator_exact_ = true;
};

}  // namespace

double ClassDensity(const ByteSet& set) {
  // It runs for every class of every pattern's analysis and every trigger class: set bits by
  // words and weights from a table, not ByteWeight for each of 256 bytes (that was a fifth of
  // compiling the reference policy).
  static const std::array<double, 256> kWeights = [] {
    std::array<double, 256> w{};
    for (int b = 0; b < 256; ++b) w[static_cast<size_t>(b)] = ByteWeight(static_cast<unsigned char>(b));
    return w;
  }();
  static const ByteSet kLowWord(~uint64_t{0});
  double weight = 0;
  for (size_t word = 0; word < 4; ++word) {
    uint64_t bits = ((set >> (64 * word)) & kLowWord).to_ullong();
    for (; bits != 0; bits &= bits - 1) weight += kWeights[64 * word + static_cast<size_t>(__builtin_ctzll(bits))];
  }
  return std::min(1.0, weight / 100.0);
}

double ByteWeight(unsigned char b) {
  if (b >= 'a' && b <= 'z') return 3.0;
  if (b >= 'A' && b <= 'Z') return 1.0;
  if (b >= '0' && b <= '9') return 2.0;
  switch (b) {
    case ' ': return 8.0;
    case '"': return 4.0;
    case ',': case ':': case '.': case '-': case '_': case '/': return 1.5;
    case '\n': return 1.0;
    case '@': return 0.05;
    default: return b >= 0x80 ? 0.1 : 0.3;
  }
}

std::optional<RegexSummary> SummarizeRegex(std::string_view pattern, RegexDialect dialect) {
  Analyzer a(pattern, dialect);
  std::optional<Info> info = a.Run();
  if (!info) return std::nullopt;
  RegexSummary s;
  s.separator_safe = a.separator_safe();
  s.separator_exact = a.separator_exact();
  s.alphabet = info->alphabet;
  s.first = info->first;
  s.max_reach = std::max(info->reach, info->max_len);
  s.can_be_empty = info->min_len == 0;
  s.min_length = info->min_len;
  s.leading_literal = info->leading_literal;
  s.starts_at_word_boundary = info->word_start;
  s.first_pairs = info->min_len >= 2 ? info->pairs : nullptr;
  const std::optional<Candidate>& cand = s.alphabet_restricted() ? info->cand.any : info->cand.bounded;
  if (cand && !s.can_be_empty) {
    s.trigger = cand->set;
    s.trigger_run = cand->run;
    s.trigger_rest = cand->rest;
    s.trigger_prefix = cand->prefix;
    s.max_lead = cand->lead;
  } else {
    s.trigger.set();
    s.trigger_run = 1;
    s.max_lead = kInf;
  }
  return s;
}

}  // namespace leakscope
