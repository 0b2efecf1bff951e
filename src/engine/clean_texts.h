// CleanTexts: short scalar texts known to hold no match for one set of finders.
//
// API bodies repeat the same keys in every record, and in every response of an endpoint, and
// many values (enums, flags, currencies): a scalar scanned clean once is clean again under the
// same finders, and skipping it saves its scan and its bookkeeping. Texts are compared whole (a
// hash alone could be forged to hide a value); at most kCapacity texts of at most kMaxBytes,
// forgotten all at once when full. A text is stored only the second time it is seen clean (a
// filter of hashes remembers the first), so unique values (ids, timestamps) do not churn the
// table. A transaction takes its tables from its PolicyCache (shared by the transactions a host
// runs under one policy), else keeps its own.
#ifndef LEAKSCOPE_ENGINE_CLEAN_TEXTS_H_
#define LEAKSCOPE_ENGINE_CLEAN_TEXTS_H_

#include <array>
#include <bitset>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "engine/short_bytes.h"

namespace leakscope {

class CleanTexts {
 public:
  // Long enough for canned sentences (status notes, error messages) that recur in API bodies.
  static constexpr size_t kMaxBytes = 128;
  static constexpr size_t kSlots = 1024;  // a power of two, at most half full
  static constexpr size_t kCapacity = kSlots / 2;

  bool Contains(std::string_view text) const {
    if (count_ == 0) return false;
    const uint64_t h = Hash(text);
    const uint64_t tag = Tag(h);
    for (size_t i = h & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
      if (tags_[i] == 0) return false;
      if (tags_[i] == tag && Equal(slots_[i], text)) return true;
    }
  }
  // Forgets every text (the table then serves another set of finders).
  void Clear() {
    tags_.fill(0);
    count_ = 0;
    seen_.reset();
    seen_count_ = 0;
  }
  void Insert(std::string_view text) {
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
      if (tags_[i] == tag && Equal(slots_[i], text)) return;
    }
    tags_[i] = tag;
    slots_[i].assign(text);
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
  // Whole-text equality: most keys and enum values are short (EqualBytes).
  static bool Equal(const std::string& stored, std::string_view text) {
    return stored.size() == text.size() && EqualBytes(stored.data(), text.data(), text.size());
  }

  std::array<std::string, kSlots> slots_;
  std::array<uint64_t, kSlots> tags_ = {};  // 0: empty
  size_t count_ = 0;
  std::bitset<kSeenBits> seen_;
  size_t seen_count_ = 0;
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_CLEAN_TEXTS_H_
