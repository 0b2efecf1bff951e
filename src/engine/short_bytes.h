// Loads, equality and copies for short byte strings (keys, enum values, policy literals, batched
// scalars): fixed-size loads that overlap instead of memcpy and memcmp library calls, which for
// texts of a few bytes cost as much as the work around them (measured in clean-text lookups,
// literal search and batching).
#ifndef LEAKSCOPE_ENGINE_SHORT_BYTES_H_
#define LEAKSCOPE_ENGINE_SHORT_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <utility>

namespace leakscope {

// 8 and 4 bytes from any address, in memory order (fixed-size memcpy compiles to one load).
inline uint64_t Load64(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
inline uint32_t Load32(const char* p) {
  uint32_t w;
  std::memcpy(&w, p, 4);
  return w;
}

// Whether the n bytes at a and at b are equal; up to 16 bytes by two overlapping loads each.
inline bool EqualBytes(const char* a, const char* b, size_t n) {
  if (n > 16) return std::memcmp(a, b, n) == 0;
  if (n >= 8) return ((Load64(a) ^ Load64(b)) | (Load64(a + n - 8) ^ Load64(b + n - 8))) == 0;
  if (n >= 4) return ((Load32(a) ^ Load32(b)) | (Load32(a + n - 4) ^ Load32(b + n - 4))) == 0;
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Whether two texts are equal: EqualBytes after the sizes (no library call up to 16 bytes, where
// string_view's == calls memcmp, a C loop in wasm32).
inline bool EqualText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && EqualBytes(a.data(), b.data(), a.size());
}

// Copies n bytes from src to dst (not overlapping); up to 16 bytes by two overlapping fixed-size
// copies.
inline void CopyBytes(char* dst, const char* src, size_t n) {
  if (n > 16) {
    std::memcpy(dst, src, n);
  } else if (n >= 8) {
    const uint64_t head = Load64(src), tail = Load64(src + n - 8);
    std::memcpy(dst, &head, 8);
    std::memcpy(dst + n - 8, &tail, 8);
  } else if (n >= 4) {
    const uint32_t head = Load32(src), tail = Load32(src + n - 4);
    std::memcpy(dst, &head, 4);
    std::memcpy(dst + n - 4, &tail, 4);
  } else {
    for (size_t i = 0; i < n; ++i) dst[i] = src[i];
  }
}

// A byte string built from many short pieces (a batch of scalars joined by '\n'): appends go
// through CopyBytes. std::string::append called memcpy for every scalar of a batch, whose call
// and size dispatch cost more than copying ~10 bytes (2 % of JSON scanning, measured).
class ByteBuffer {
 public:
  ByteBuffer() = default;
  // A moved-from buffer is empty and usable (its capacity went with its bytes).
  ByteBuffer(ByteBuffer&& other) noexcept
      : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)), capacity_(std::exchange(other.capacity_, 0)) {}
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    return *this;
  }

  std::string_view view() const { return std::string_view(data_.get(), size_); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  void Reserve(size_t n) {
    if (n > capacity_) Grow(n);
  }
  void Append(std::string_view piece) {
    Reserve(size_ + piece.size());
    CopyBytes(data_.get() + size_, piece.data(), piece.size());
    size_ += piece.size();
  }
  void Push(char c) {
    Reserve(size_ + 1);
    data_[size_++] = c;
  }
  // Keeps the first n bytes (n <= size()).
  void Truncate(size_t n) { size_ = n; }
  // Drops the first n bytes (n <= size()), moving the rest to the front.
  void EraseFront(size_t n) {
    if (n == 0) return;  // also keeps a buffer never grown (no bytes) out of memmove
    std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ -= n;
  }

 private:
  void Grow(size_t n) {
    size_t capacity = capacity_ < 64 ? 64 : capacity_;
    while (capacity < n) capacity *= 2;
    std::unique_ptr<char[]> bigger(new char[capacity]);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace leakscope

#endif  // LEAKSCOPE_ENGINE_SHORT_BYTES_H_
