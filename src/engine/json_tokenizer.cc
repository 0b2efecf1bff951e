#include "engine/json_tokenizer.h"

#include <charconv>
#include <cstring>

#include "engine/byte_scan.h"
#include "engine/short_bytes.h"
#include "engine/simd16.h"

namespace leakscope {

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsNumberByte(char c) {
  return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
size_t EncodeUtf8(uint32_t cp, char* out) {
  if (cp < 0x80) { out[0] = static_cast<char>(cp); return 1; }
  if (cp < 0x800) {
    out[0] = static_cast<char>(0xC0 | (cp >> 6));
    out[1] = static_cast<char>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<char>(0xE0 | (cp >> 12));
    out[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<char>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<char>(0xF0 | (cp >> 18));
  out[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<char>(0x80 | (cp & 0x3F));
  return 4;
}
constexpr uint32_t kReplacementChar = 0xFFFD;

#if !LEAKSCOPE_SIMD16
// A word of 8 body bytes, in memory order.
uint64_t Word(const char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
#endif

// The literal (true, false, null) starting with `c`, or an empty view. Views of string literals:
// their lengths are known at compile time (a strlen per literal was a library call in wasm32),
// and they are NUL-terminated, which the byte-at-a-time state machine reads.
std::string_view LiteralStartingWith(char c) {
  switch (c) {
    case 't': return "true";
    case 'f': return "false";
    case 'n': return "null";
    default: return {};
  }
}

// The first position from `i` on holding '"' or '\\' (where a string's verbatim run ends), or
// chunk.size(). 16 bytes per step with vectors (simd16.h; most strings end within the first):
// the byte loop was the tokenizer's largest cost; inline rather than ByteSetScanner::Find, whose
// general range test measured more instructions than the byte loop on ~10-byte strings. Without
// vectors (the baseline wasm32 module), 8 bytes per step with word arithmetic.
size_t StringRunEnd(std::string_view chunk, size_t i) {
#if LEAKSCOPE_SIMD16
  using namespace simd16;
  const Vec quote = Splat('"');
  const Vec backslash = Splat('\\');
  while (i + 16 <= chunk.size()) {
    const Vec v = Load(chunk.data() + i);
    const uint32_t stops = Mask(Or(Equal(v, quote), Equal(v, backslash)));
    if (stops != 0) return i + static_cast<size_t>(__builtin_ctz(stops));
    i += 16;
  }
#else
  while (i + 8 <= chunk.size()) {
    const uint64_t w = Word(chunk.data() + i);
    const uint64_t stops = ByteSetScanner::Equal(w, '"') | ByteSetScanner::Equal(w, '\\');
    if (stops != 0) return i + ByteSetScanner::FirstFlaggedByte(stops);
    i += 8;
  }
#endif
  while (i < chunk.size() && chunk[i] != '"' && chunk[i] != '\\') ++i;
  return i;
}

// The first position from `i` on that is not JSON whitespace, or chunk.size(). Pretty-printed
// bodies indent every line, and a byte per loop turn of the tokenizer cost ~15 instructions:
// 16 bytes per step with vectors, else 8 with word arithmetic (the baseline wasm32 module).
size_t SkipSpaces(std::string_view chunk, size_t i) {
#if LEAKSCOPE_SIMD16
  using namespace simd16;
  while (i + 16 <= chunk.size()) {
    const Vec v = Load(chunk.data() + i);
    const Vec space = Or(Or(Equal(v, Splat(' ')), Equal(v, Splat('\n'))), Or(Equal(v, Splat('\r')), Equal(v, Splat('\t'))));
    const uint32_t other = ~Mask(space) & 0xFFFFu;
    if (other != 0) return i + static_cast<size_t>(__builtin_ctz(other));
    i += 16;
  }
#else
  constexpr uint64_t kHighBits = 0x8080808080808080ULL;
  while (i + 8 <= chunk.size()) {
    const uint64_t w = Word(chunk.data() + i);
    const uint64_t space = ByteSetScanner::Equal(w, ' ') | ByteSetScanner::Equal(w, '\n') |
                           ByteSetScanner::Equal(w, '\r') | ByteSetScanner::Equal(w, '\t');
    const uint64_t other = ~space & kHighBits;
    if (other != 0) return i + ByteSetScanner::FirstFlaggedByte(other);
    i += 8;
  }
#endif
  while (i < chunk.size() && IsSpace(chunk[i])) ++i;
  return i;
}

}  // namespace

JsonTokenizer::JsonTokenizer(Sink* sink, Limits limits) : sink_(sink), limits_(limits) {
  stack_.reserve(8);  // API bodies nest a few levels: one allocation, not one per doubling
}

void JsonTokenizer::Reset(Sink* sink, Limits limits) {
  // Every member as the constructor leaves it, but for the buffers, emptied: what one body left
  // (an open string, a failure, deep frames) cannot reach the next. The stack's frames keep
  // their key buffers as they are: Push initialises every frame it opens, and only open frames
  // are read (emptying them all here made every Reset after one deeply nested body walk up to
  // max_depth frames).
  std::vector<Frame> stack = std::move(stack_);
  std::string prefix = std::move(prefix_);
  std::vector<size_t> prefix_lengths = std::move(prefix_lengths_);
  *this = JsonTokenizer(sink, limits, Unreserved{});
  stack_ = std::move(stack);
  prefix.clear();
  prefix_ = std::move(prefix);
  prefix_lengths.clear();
  prefix_lengths_ = std::move(prefix_lengths);
}

size_t JsonTokenizer::CapacityBytes() const {
  size_t bytes = stack_.capacity() * sizeof(Frame) + prefix_.capacity() + prefix_lengths_.capacity() * sizeof(size_t);
  for (const Frame& f : stack_) bytes += f.key.capacity();
  return bytes;
}

void JsonTokenizer::Fail(const std::string& message, uint64_t offset) {
  if (failed_) return;
  failed_ = true;
  error_ = message + " at byte " + std::to_string(offset);
  error_offset_ = offset;
}

void JsonTokenizer::AppendCurrentPath(ByteBuffer* out) const {
  if (depth_ == 0) return;
  const std::string_view prefix = std::string_view(prefix_).substr(0, prefix_lengths_[depth_]);
  // Once per scalar: short copies into the buffer (ByteBuffer), no library call per part.
  const Frame& last = stack_[depth_ - 1];
  char digits[24];
  std::string_view component;
  if (last.is_array) {
    digits[0] = '[';
    char* end = std::to_chars(digits + 1, digits + sizeof(digits) - 1, last.index).ptr;
    *end++ = ']';
    component = std::string_view(digits, static_cast<size_t>(end - digits));
  } else {
    component = Key(last);
  }
  out->Append(prefix);
  if (!last.is_array && !prefix.empty()) out->Push('.');
  out->Append(component);
  if (!last.is_array && last.key_truncated) out->Append("...");
}

// One frame's part of a path ("[3]" or the key); the caller adds the '.' before a key.
void JsonTokenizer::AppendComponent(const Frame& f, std::string* out) {
  if (f.is_array) {
    char digits[24];
    auto r = std::to_chars(digits, digits + sizeof(digits), f.index);
    out->push_back('[');
    out->append(digits, r.ptr);
    out->push_back(']');
    return;
  }
  out->append(Key(f));
  if (f.key_truncated) out->append("...");
}

void JsonTokenizer::AppendKey(std::string_view decoded) {
  if (depth_ == 0) return;
  Frame& f = stack_[depth_ - 1];
  size_t room = limits_.max_key_bytes > f.key.size() ? limits_.max_key_bytes - f.key.size() : 0;
  if (decoded.size() > room) {
    f.key.Append(decoded.substr(0, room));
    f.key_truncated = true;
  } else {
    f.key.Append(decoded);
  }
}

void JsonTokenizer::EmitDecoded(std::string_view decoded, uint64_t raw_begin, uint64_t raw_end) {
  if (decoded.empty()) return;
  if (in_key_) AppendKey(decoded);
  sink_->OnScalarData(decoded, raw_begin, raw_end);
}

// Opens an object or array (and expects its first key or value). Frames are reused rather than
// popped, so an array of many small objects does not allocate a key string per object.
void JsonTokenizer::Push(bool is_array) {
  if (depth_ == stack_.size()) stack_.emplace_back();
  // The new frame's prefix: its parent's prefix and the parent's current component.
  if (prefix_lengths_.size() < depth_ + 2) prefix_lengths_.resize(depth_ + 2, 0);
  if (depth_ > 0) {
    prefix_.resize(prefix_lengths_[depth_]);
    const Frame& parent = stack_[depth_ - 1];
    if (!parent.is_array && !prefix_.empty()) prefix_.push_back('.');
    AppendComponent(parent, &prefix_);
  }
  prefix_lengths_[depth_ + 1] = depth_ > 0 ? prefix_.size() : 0;
  Frame& f = stack_[depth_++];
  f.is_array = is_array;
  f.index = 0;
  ResetKey(&f);
  state_ = is_array ? State::kValueOrEnd : State::kKeyOrEnd;
}

void JsonTokenizer::ValueDone() {
  if (depth_ == 0) {
    ++documents_;
    state_ = State::kTopLevel;
  } else {
    state_ = State::kCommaOrEnd;
  }
}

// A ',' after a value inside a container: the next array element or object key.
void JsonTokenizer::TakeComma() {
  Frame& f = stack_[depth_ - 1];
  if (f.is_array) {
    ++f.index;
    state_ = State::kValue;
  } else {
    state_ = State::kKey;
  }
}

// Compact JSON: a comma right after a value, at `i`, taken without a loop turn; returns where
// the tokenizer goes on.
size_t JsonTokenizer::AfterComma(std::string_view chunk, size_t i) {
  if (state_ != State::kCommaOrEnd || i >= chunk.size() || chunk[i] != ',') return i;
  TakeComma();
  return i + 1;
}

// Keys, values, containers, commas, colons and whitespace that follow each other, and the
// documents that follow each other at the top level: the one place structural bytes are taken.
// Without a turn of the state machine per byte or per scalar: its two dispatches per scalar
// alternate between states and were a quarter of the tokenizer's own time, and a record's nested
// objects, arrays and literals (true, false, null) each cost a turn or, for a literal, one per
// byte (measured). Stops at anything else (an escape, a string, number or literal that the chunk
// cuts, a nesting at the depth limit, a syntax error), which the state machine then handles,
// with its errors.
void JsonTokenizer::CompactRun(std::string_view chunk, size_t* i) {
  while (*i < chunk.size()) {
    const char c = chunk[*i];
    if (IsSpace(c)) {
      *i = SkipSpaces(chunk, *i + 1);
      continue;
    }
    switch (state_) {
      case State::kKey:
      case State::kKeyOrEnd:
        if (c == '"') {
          if (!WholeString(chunk, i, true)) return;
          continue;
        }
        if (c == '}' && state_ == State::kKeyOrEnd) {
          CloseContainer(chunk, i);
          continue;
        }
        return;
      case State::kTopLevel:  // between documents: the next one
      case State::kValue:
      case State::kValueOrEnd:
        if (WholeValue(chunk, i)) continue;
        if (c == '{' || c == '[') {
          if (depth_ >= limits_.max_depth) return;
          Push(c == '[');
          ++*i;
          continue;
        }
        if (c == ']' && state_ == State::kValueOrEnd) {
          CloseContainer(chunk, i);
          continue;
        }
        if (WholeLiteral(chunk, i)) continue;
        return;
      case State::kColon:
        if (c != ':') return;
        state_ = State::kValue;
        ++*i;
        continue;
      case State::kCommaOrEnd: {
        const Frame& f = stack_[depth_ - 1];
        if (c == ',') {
          TakeComma();
          ++*i;
          continue;
        }
        if ((c == ']' && f.is_array) || (c == '}' && !f.is_array)) {
          CloseContainer(chunk, i);
          continue;
        }
        return;
      }
      default:
        return;
    }
  }
}

// The '}' or ']' at chunk[*i], which closes the innermost container (the caller checked it
// matches), and a comma right after it.
void JsonTokenizer::CloseContainer(std::string_view chunk, size_t* i) {
  --depth_;
  ValueDone();
  *i = AfterComma(chunk, *i + 1);
}

// A literal (true, false, null) at chunk[*i], if it lies whole in the chunk: taken, with a comma
// right after it (literals carry no data: the sink never sees them). Otherwise, or if the bytes
// are not a literal, false and nothing taken.
bool JsonTokenizer::WholeLiteral(std::string_view chunk, size_t* i) {
  const std::string_view literal = LiteralStartingWith(chunk[*i]);
  if (literal.empty() || !EqualText(chunk.substr(*i, literal.size()), literal)) return false;
  ValueDone();
  *i = AfterComma(chunk, *i + literal.size());
  return true;
}

// A string or number value at chunk[*i], if it lies whole in the chunk (WholeString,
// WholeNumber); false, and nothing taken, otherwise. Inline: it runs for every value, and as a
// call it cost 0.5 % of JSON scanning (measured).
inline bool JsonTokenizer::WholeValue(std::string_view chunk, size_t* i) {
  const char c = chunk[*i];
  if (c == '"') return WholeString(chunk, i, false);
  return (c == '-' || (c >= '0' && c <= '9')) && WholeNumber(chunk, i);
}

// Inlined into CompactRun and the state machine: as a call of its own, each string paid ~19
// instructions of register saves around the sink's virtual call (JSON -0.5 %, measured).
__attribute__((always_inline)) inline bool JsonTokenizer::WholeString(std::string_view chunk, size_t* i, bool is_key) {
  const size_t begin = *i + 1;
  size_t end = StringRunEnd(chunk, begin);
  if (end == chunk.size() || chunk[end] != '"') return false;  // escapes or a chunk's end
  const std::string_view text = chunk.substr(begin, end - begin);
  if (is_key) {
    Frame& f = stack_[depth_ - 1];
    f.key_truncated = text.size() > limits_.max_key_bytes;
    f.key_view = f.key_truncated ? text.substr(0, limits_.max_key_bytes) : text;
    f.key_in_chunk = true;
    sink_->OnScalar(true, false, offset_ + begin, text);
    state_ = State::kColon;
    // Compact JSON: the colon right after the key (what kColon would do, without a loop turn).
    if (end + 1 < chunk.size() && chunk[end + 1] == ':') {
      state_ = State::kValue;
      ++end;
    }
  } else {
    sink_->OnScalar(false, false, offset_ + begin, text);
    ValueDone();
    end = AfterComma(chunk, end + 1) - 1;
  }
  *i = end + 1;
  return true;
}

// Inlined likewise.
__attribute__((always_inline)) inline bool JsonTokenizer::WholeNumber(std::string_view chunk, size_t* i) {
  size_t end = *i;
  while (end < chunk.size() && IsNumberByte(chunk[end])) ++end;
  if (end == chunk.size()) return false;  // may go on in the next chunk
  sink_->OnScalar(false, true, offset_ + *i, chunk.substr(*i, end - *i));
  ValueDone();
  *i = AfterComma(chunk, end);  // else the byte after the number is examined in the new state
  return true;
}

// Starts the value whose first byte is `c`; returns false on a syntax error.
bool JsonTokenizer::BeginValue(char c, uint64_t offset) {
  switch (c) {
    case '{':
    case '[':
      if (depth_ >= limits_.max_depth) {
        Fail("JSON nested deeper than " + std::to_string(limits_.max_depth) + " levels", offset);
        return false;
      }
      Push(c == '[');
      return true;
    case '"':
      in_key_ = false;
      state_ = State::kString;
      sink_->OnScalarBegin(false, false, offset + 1);
      return true;
    default:
      if ((literal_ = LiteralStartingWith(c).data()) != nullptr) break;
      if (c == '-' || (c >= '0' && c <= '9')) {
        state_ = State::kNumber;
        sink_->OnScalarBegin(false, true, offset);
        return true;
      }
      Fail(std::string("unexpected character '") + (c >= 0x20 && c < 0x7f ? std::string(1, c) : "?") + "'", offset);
      return false;
  }
  literal_pos_ = 1;
  state_ = State::kLiteral;
  return true;
}

bool JsonTokenizer::Feed(std::string_view chunk) {
  const bool ok = FeedChunk(chunk);
  // The chunk may go once Feed returns: keys still needed for paths are copied now.
  for (size_t d = 0; d < depth_; ++d) {
    Frame& f = stack_[d];
    if (!f.key_in_chunk) continue;
    f.key.Truncate(0);
    f.key.Append(f.key_view);
    f.key_in_chunk = false;
  }
  return ok;
}

bool JsonTokenizer::FeedChunk(std::string_view chunk) {
  if (failed_) return false;
  const size_t n = chunk.size();
  size_t i = 0;
  while (i < n) {
    const uint64_t off = offset_ + i;
    const char c = chunk[i];
    switch (state_) {
      case State::kString: {
        // Fast path: a verbatim run up to the next quote, backslash or end of chunk.
        const size_t j = StringRunEnd(chunk, i);
        if (j > i) {
          if (pending_high_surrogate_ != 0) {
            char buf[4];
            size_t len = EncodeUtf8(kReplacementChar, buf);
            pending_high_surrogate_ = 0;
            EmitDecoded(std::string_view(buf, len), pending_high_offset_, pending_high_offset_ + 6);
          }
          EmitDecoded(chunk.substr(i, j - i), off, offset_ + j);
          i = j;
          continue;
        }
        if (c == '\\') {
          escape_start_ = off;
          state_ = State::kEscape;
          ++i;
          continue;
        }
        // closing quote
        if (pending_high_surrogate_ != 0) {
          char buf[4];
          size_t len = EncodeUtf8(kReplacementChar, buf);
          pending_high_surrogate_ = 0;
          EmitDecoded(std::string_view(buf, len), pending_high_offset_, pending_high_offset_ + 6);
        }
        sink_->OnScalarEnd(off);
        ++i;
        if (in_key_) {
          in_key_ = false;
          state_ = State::kColon;
        } else {
          ValueDone();
        }
        continue;
      }
      case State::kEscape: {
        char decoded = 0;
        switch (c) {
          case '"': decoded = '"'; break;
          case '\\': decoded = '\\'; break;
          case '/': decoded = '/'; break;
          case 'b': decoded = '\b'; break;
          case 'f': decoded = '\f'; break;
          case 'n': decoded = '\n'; break;
          case 'r': decoded = '\r'; break;
          case 't': decoded = '\t'; break;
          case 'u':
            unicode_value_ = 0;
            unicode_digits_ = 0;
            state_ = State::kUnicode;
            ++i;
            continue;
          default:
            Fail("invalid escape in string", off);
            return false;
        }
        if (pending_high_surrogate_ != 0) {
          char buf[4];
          size_t len = EncodeUtf8(kReplacementChar, buf);
          pending_high_surrogate_ = 0;
          EmitDecoded(std::string_view(buf, len), pending_high_offset_, pending_high_offset_ + 6);
        }
        EmitDecoded(std::string_view(&decoded, 1), escape_start_, off + 1);
        state_ = State::kString;
        ++i;
        continue;
      }
      case State::kUnicode: {
        int h = HexValue(c);
        if (h < 0) {
          Fail("invalid \\u escape in string", off);
          return false;
        }
        unicode_value_ = (unicode_value_ << 4) | static_cast<uint32_t>(h);
        ++i;
        if (++unicode_digits_ < 4) continue;
        state_ = State::kString;
        uint32_t cp = unicode_value_;
        char buf[8];
        size_t len = 0;
        uint64_t raw_begin = escape_start_;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (pending_high_surrogate_ != 0) {
            len = EncodeUtf8(kReplacementChar, buf);
            EmitDecoded(std::string_view(buf, len), pending_high_offset_, pending_high_offset_ + 6);
          }
          pending_high_surrogate_ = cp;
          pending_high_offset_ = escape_start_;
          continue;
        }
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
          if (pending_high_surrogate_ != 0) {
            cp = 0x10000 + ((pending_high_surrogate_ - 0xD800) << 10) + (cp - 0xDC00);
            raw_begin = pending_high_offset_;
            pending_high_surrogate_ = 0;
          } else {
            cp = kReplacementChar;
          }
        } else if (pending_high_surrogate_ != 0) {
          len = EncodeUtf8(kReplacementChar, buf);
          pending_high_surrogate_ = 0;
          EmitDecoded(std::string_view(buf, len), pending_high_offset_, pending_high_offset_ + 6);
        }
        len = EncodeUtf8(cp, buf);
        EmitDecoded(std::string_view(buf, len), raw_begin, offset_ + i);
        continue;
      }
      case State::kNumber: {
        size_t j = i;
        while (j < n && IsNumberByte(chunk[j])) ++j;
        if (j > i) {
          sink_->OnScalarData(chunk.substr(i, j - i), off, offset_ + j);
          i = j;
          continue;
        }
        sink_->OnScalarEnd(off);
        ValueDone();
        continue;  // re-examine this byte in the new state
      }
      case State::kLiteral: {
        if (literal_[literal_pos_] == '\0') {
          ValueDone();
          continue;
        }
        if (c != literal_[literal_pos_]) {
          Fail("invalid literal", off);
          return false;
        }
        ++literal_pos_;
        ++i;
        if (literal_[literal_pos_] == '\0') ValueDone();
        continue;
      }
      default:
        break;
    }
    // Structural states: the fast run takes whitespace, values, containers, commas and colons.
    // What it leaves here is a string with escapes or one the chunk cuts, a number or literal
    // the chunk cuts, a container at the depth limit, or a syntax error.
    const size_t before = i;
    CompactRun(chunk, &i);
    if (i != before) continue;
    switch (state_) {
      case State::kTopLevel:
      case State::kValue:
      case State::kValueOrEnd:
        if (!BeginValue(c, off)) return false;
        if (state_ == State::kNumber) continue;  // the first digit is part of the number
        break;
      case State::kKeyOrEnd:
      case State::kKey:
        if (c != '"') {
          Fail("expected an object key", off);
          return false;
        }
        ResetKey(&stack_[depth_ - 1]);
        in_key_ = true;
        state_ = State::kString;
        sink_->OnScalarBegin(true, false, off + 1);
        break;
      case State::kColon:
        Fail("expected ':'", off);
        return false;
      case State::kCommaOrEnd:
        Fail("expected ',' or end of container", off);
        return false;
      default:
        break;
    }
    ++i;
  }
  offset_ += n;
  return true;
}

bool JsonTokenizer::Finish() {
  if (failed_) return false;
  switch (state_) {
    case State::kNumber:
      sink_->OnScalarEnd(offset_);
      ValueDone();
      break;
    case State::kLiteral:
      if (literal_[literal_pos_] == '\0') ValueDone();
      break;
    case State::kString:
    case State::kEscape:
    case State::kUnicode:
      sink_->OnScalarEnd(offset_);
      in_key_ = false;
      Fail("truncated JSON: input ended inside a string", offset_);
      return false;
    default:
      break;
  }
  if (state_ != State::kTopLevel) {
    Fail("truncated JSON: input ended inside a value", offset_);
    return false;
  }
  return true;
}

}  // namespace leakscope
