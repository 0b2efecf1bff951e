// RegexSummary: byte-level facts about a regex that let the scanner skip text where it cannot
// match, without running the regex engine over every byte.
//
// A single RE2 DFA pass costs 300-550 MB/s per pattern on API traffic and an RE2::Set pass over
// a whole policy 85-140 MB/s (measured, BENCHMARKS.md), so scanning every byte with every
// matching pattern caps the engine far below its throughput target. Most policy patterns need
// something rare to match (an '@', a run of 16 digits, a keyword): the summary names that
// trigger and how far a match can extend around it, so the regex runs only on small regions
// (see TriggeredFinder in compiled_policy.cc for the search and why it is exact).
//
// Hand-written because neither RE2 nor PCRE2 exposes its parse tree or such facts through a
// public API. The analysis over-approximates whenever it is unsure (a byte set grows, a length
// bound becomes unbounded); syntax it does not know makes it give up, and the pattern is then
// scanned over the whole text as before.
#ifndef LEAKSCOPE_ENGINE_REGEX_SUMMARY_H_
#define LEAKSCOPE_ENGINE_REGEX_SUMMARY_H_

#include <bitset>
#include <cstdint>
#include <array>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace leakscope {

using ByteSet = std::bitset<256>;

// For each byte, the bytes that may follow it (a row per first byte).
using BytePairs = std::array<ByteSet, 256>;

// `count` to `max_count` consecutive bytes from `set` (count may be 0 after the first element).
// With `next` (an element of one byte, always followed by another element of the sequence), the
// byte after it is one of (*next)[its byte]: pairs are rarer than their bytes apart, as the
// two-letter starts of street words after a space are rarer than a space and any two letters.
struct TriggerElement {
  ByteSet set;
  uint32_t count = 1;
  uint32_t max_count = 1;
  std::shared_ptr<const BytePairs> next;
};

// What a trigger sequence is preceded by in every match: a byte of `first`, then any number of
// bytes of `run` (in `\d+[a-z]* (street|...)`: a digit, then letters, then the sequence). Checked
// at each trigger by reading back from it.
struct TriggerPrefix {
  ByteSet first;
  ByteSet run;
};

struct RegexSummary {
  static constexpr uint64_t kUnbounded = UINT64_MAX;

  // Every byte any match can consume. Matches lie inside maximal runs of these bytes.
  ByteSet alphabet;
  // Every byte a match can start with.
  ByteSet first;
  // Every non-empty match contains `trigger_run` consecutive bytes from `trigger`, immediately
  // followed by the elements of `trigger_rest` in order (each some number of bytes of its class
  // within its count range), starting at most `max_lead` bytes after the match's start.
  ByteSet trigger;
  uint32_t trigger_run = 1;
  std::vector<TriggerElement> trigger_rest;
  std::optional<TriggerPrefix> trigger_prefix;
  uint64_t max_lead = kUnbounded;
  // Bytes of the shortest match.
  uint64_t min_length = 0;
  // Bytes from a match's start that matching may read: its longest match plus lookahead.
  uint64_t max_reach = kUnbounded;
  // Whether a match can be empty (then there is no trigger to look for).
  bool can_be_empty = true;
  // Whether every match starts with one fixed byte: RE2 then skips to candidates with memchr
  // itself, faster than a trigger search around it.
  bool leading_literal = false;
  // Whether every match starts where `\b` holds (ASCII word bytes, as RE2 and PCRE2 without
  // UCP define them): the pattern has `\b` before anything that consumes, in every branch.
  bool starts_at_word_boundary = false;
  // When every match has two bytes or more: for each byte a match can start with, the bytes that
  // can follow it (`first` and its pairs); null when unknown.
  std::shared_ptr<const BytePairs> first_pairs;

  // Whether the pattern behaves at a '\n' between two texts as at a text's start or end: no
  // text anchors (^ and $ outside multi-line mode, \A, \z, \Z, \G) and no negative lookaround
  // that could read a '\n'. Then every match inside one text is also a match when texts are
  // joined by '\n' (matches may only be added, across the join), so a joined scan can tell
  // which texts need a scan of their own.
  bool separator_safe = false;
  // Stronger: also no lookaround at all that could read a '\n'. Then a match found in the joined
  // text that lies inside one text is exactly a match of that text alone (if no other match of
  // the joined scan runs into that text, its matches there are exactly its own).
  bool separator_exact = false;

  // True if alphabet misses some byte: matches are then confined to alphabet runs.
  bool alphabet_restricted() const { return !alphabet.all(); }
};

enum class RegexDialect { kRe2, kPcre2 };

// How often byte `b` occurs in API traffic, roughly (JSON and log text), as a weight (' ' 8,
// lower-case letters 3, '@' 0.05): used only to pick the rarest part of what must be searched.
double ByteWeight(unsigned char b);
// How often a byte of API traffic is in `set`, roughly: its bytes' weights over 100, at most 1.
double ClassDensity(const ByteSet& set);

// Summarises a pattern in the syntax of the engine that will run it (after TranslateRegex).
// nullopt if the pattern uses syntax the analysis does not handle.
std::optional<RegexSummary> SummarizeRegex(std::string_view pattern, RegexDialect dialect);

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_REGEX_SUMMARY_H_
