// KnownTexts: short scalar texts whose scan under one set of finders is known.
//
// API bodies repeat the same keys in every record, and in every response of an endpoint, and
// many values (enums, flags, currencies): a scalar scanned once gives the same matches when it
// recurs under the same finders, so the scan (and for a clean text, all its bookkeeping) can be
// skipped. Most known texts are clean; a few hold matches, remembered with them (at most
// kMaxHits): the transaction remembers only keys matched by the policy's own words, such as
// `first_name`, which recur in every record (scanning them was most of what keys cost once the
// clean ones were skipped: a 1 KiB response 76 k -> 71 k instructions). Texts are compared
// whole (a hash alone could be forged to hide a value); at most kCapacity texts of at most
// kMaxBytes, forgotten all at once when full. A text is stored only the second time it is seen
// (a filter of hashes remembers the first), so unique values (ids, timestamps) do not churn the
// table. A transaction takes its tables from its PolicyCache (shared by the transactions a host
// runs under one policy), else keeps its own.
#ifndef LEAKSCOPE_ENGINE_KNOWN_TEXTS_H_
#define LEAKSCOPE_ENGINE_KNOWN_TEXTS_H_

#include <array>
#include <bitset>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/short_bytes.h"

namespace leakscope {

class KnownTexts {
 public:
  // Long enough for canned sentences (status notes, error messages) that recur in API bodies.
  static constexpr size_t kMaxBytes = 128;
  static constexpr size_t kSlots = 1024;  // a power of two, at most half full
  static constexpr size_t kCapacity = kSlots / 2;
  static constexpr size_t kMaxHits = 4;

  // A match of finder `finder` at [begin, end) of the text (kMaxBytes fits a byte).
  struct Hit {
    uint16_t finder;
    uint8_t begin, end;
  };
  // A known text's matches, in the order they were given to Insert; none for a clean text.
  struct Hits {
    uint8_t count = 0;
    std::array<Hit, kMaxHits> hit;
  };

  // The matches of `text` if it is known, else nullptr.
  const Hits* Find(std::string_view text) const {
    if (count_ == 0) return nullptr;
    const uint64_t h = Hash(text);
    const uint64_t tag = Tag(h);
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      if (tags_[i] == 0) return nullptr;
      if (tags_[i] == tag && EqualText(slots_[i], text)) return &hits_[i];  // whole texts
    }
  }
  bool Contains(std::string_view text) const { return Find(text) != nullptr; }
  // Forgets every text (the table then serves another set of finders).
  void Clear() {
    tags_.fill(0);
    count_ = 0;
    seen_.reset();
    seen_count_ = 0;
  }
  // Remembers that `text` is clean, or scans to `hits`, the second time it is inserted.
  void Insert(std::string_view text) { Insert(text, Hits()); }
  void Insert(std::string_view text, const Hits& hits) {
    if (text.size() > kMaxBytes) return;
    const uint64_t h = Hash(text);
    // Two bits of the filter per text, from disjoint bits of the hash (13 each: kSeenBits).
    const size_t seen_a = static_cast<size_t>(h >> 51);
    const size_t seen_b = static_cast<size_t>(h >> 38) & (kSeenBits - 1);
    if (!seen_.test(seen_a) || !seen_.test(seen_b)) {
      if (++seen_count_ == kSeenMaxTexts) {
        seen_.reset();
        seen_count_ = 1;
      }
      seen_.set(seen_a);
      seen_.set(seen_b);
      return;
    }
    if (count_ == kCapacity) {
      tags_.fill(0);
      count_ = 0;
    }
    const uint64_t tag = Tag(h);
    size_t i = h & (kSlots - 1);
    for (; tags_[i] != 0; i = (i + 1) & (kSlots - 1)) {
      if (tags_[i] == tag && EqualText(slots_[i], text)) return;
    }
    tags_[i] = tag;
    slots_[i].assign(text);
    hits_[i] = hits;
    ++count_;
  }

 private:
  // The first-sighting filter: two bits per text, forgotten after kSeenMaxTexts texts so that at
  // most an eighth of its bits are set and about 1 % of unique texts pass it by chance. A text
  // repeating within that many new ones is stored. (One bit per text with the filter let run to
  // half full let a fifth of unique values into the table, which then filled and was cleared 26
  // times per MiB of API JSON, forgetting its keys each time: 6 % more scalars were scanned.)
  static constexpr size_t kSeenBits = 8192;
  static constexpr size_t kSeenMaxTexts = kSeenBits / 16;
  // A multiply-xor mix of 8 bytes at a time: texts are at most 128 bytes and looked up once per
  // scalar, where std::hash (murmur) cost more than the lookup saves. Collisions only lengthen
  // a probe, bounded by the table size (texts are compared whole); the seed (the table's
  // address) keeps a body from being crafted offline to collide.
  uint64_t Hash(std::string_view text) const {
    uint64_t h = (text.size() + reinterpret_cast<uintptr_t>(this)) * 0x9E3779B97F4A7C15ULL;
    size_t i = 0;
    for (; i + 8 <= text.size(); i += 8) {
      h = (h ^ Load64(text.data() + i)) * 0xFF51AFD7ED558CCDULL;
      h ^= h >> 32;
    }
    h = (h ^ Tail(text, i)) * 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 29;
    return h;
  }

  // The last text.size() - i (< 8) bytes, by fixed-size loads: a memcpy of variable length
  // is a library call, which cost more than the rest of the hash.
  static uint64_t Tail(std::string_view text, size_t i) {
    const size_t n = text.size() - i;
    if (n == 0) return 0;
    const char* p = text.data();
    if (text.size() >= 8) return Load64(p + text.size() - 8) >> (8 * (8 - n));
    if (n >= 4) return Load32(p + i) | (uint64_t{Load32(p + i + n - 4)} << 32);
    return uint64_t{static_cast<unsigned char>(p[i])} | (uint64_t{static_cast<unsigned char>(p[i + n / 2])} << 8) |
           (uint64_t{static_cast<unsigned char>(p[i + n - 1])} << 16);
  }
  // A used slot's tag: the hash, never 0 (an empty slot). Most texts looked up are not in the
  // table (unique values): comparing tags ends their probes without touching the stored
  // strings (in wasm32 the string compare was a call per probe: 5 % of a 1 KiB response).
  static uint64_t Tag(uint64_t h) { return h | 1; }

  std::array<std::string, kSlots> slots_;
  std::array<Hits, kSlots> hits_;
  std::array<uint64_t, kSlots> tags_ = {};  // 0: empty
  size_t count_ = 0;
  std::bitset<kSeenBits> seen_;
  size_t seen_count_ = 0;
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_KNOWN_TEXTS_H_
