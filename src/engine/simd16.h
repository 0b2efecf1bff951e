// simd16: the few 16-byte vector operations the engine's byte scans use (trigger classes in
// ByteSetScanner, string ends and whitespace in the JSON tokenizer), on SSE2 (every x86-64) or
// on WebAssembly SIMD128 (leakscope.wasm's default build), so each scan is written once for
// both. LEAKSCOPE_SIMD16 is defined where one of them is available; elsewhere (the baseline
// wasm32 module, LEAKSCOPE_NO_SIMD builds) the scans use their word-at-a-time paths.
//
// Only what both instruction sets do in one instruction each: byte-wise subtract, saturating
// unsigned subtract, unsigned minimum, equality, or, and the mask of each byte's top bit.
#ifndef LEAKSCOPE_ENGINE_SIMD16_H_
#define LEAKSCOPE_ENGINE_SIMD16_H_

#include <cstdint>

#if !defined(LEAKSCOPE_NO_SIMD) && defined(__SSE2__)
#include <emmintrin.h>
#define LEAKSCOPE_SIMD16 1
#elif !defined(LEAKSCOPE_NO_SIMD) && defined(__wasm_simd128__)
#include <wasm_simd128.h>
#define LEAKSCOPE_SIMD16 1
#endif

#if LEAKSCOPE_SIMD16
namespace leakscope::simd16 {

#if defined(__SSE2__)
using Vec = __m128i;
inline Vec Load(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
// From a 16-byte aligned address (an operand SSE2 instructions take from memory directly).
inline Vec LoadAligned(const void* p) { return _mm_load_si128(static_cast<const __m128i*>(p)); }
inline Vec Splat(uint8_t b) { return _mm_set1_epi8(static_cast<char>(b)); }
inline Vec Sub(Vec a, Vec b) { return _mm_sub_epi8(a, b); }
inline Vec SubSaturated(Vec a, Vec b) { return _mm_subs_epu8(a, b); }
inline Vec Min(Vec a, Vec b) { return _mm_min_epu8(a, b); }
inline Vec Equal(Vec a, Vec b) { return _mm_cmpeq_epi8(a, b); }
inline Vec Or(Vec a, Vec b) { return _mm_or_si128(a, b); }
inline Vec Zero() { return _mm_setzero_si128(); }
// Bit i set if byte i's top bit is.
inline uint32_t Mask(Vec v) { return static_cast<uint32_t>(_mm_movemask_epi8(v)); }
#else
using Vec = v128_t;
inline Vec Load(const void* p) { return wasm_v128_load(p); }
inline Vec LoadAligned(const void* p) { return wasm_v128_load(p); }
inline Vec Splat(uint8_t b) { return wasm_u8x16_splat(b); }
inline Vec Sub(Vec a, Vec b) { return wasm_i8x16_sub(a, b); }
inline Vec SubSaturated(Vec a, Vec b) { return wasm_u8x16_sub_sat(a, b); }
inline Vec Min(Vec a, Vec b) { return wasm_u8x16_min(a, b); }
inline Vec Equal(Vec a, Vec b) { return wasm_i8x16_eq(a, b); }
inline Vec Or(Vec a, Vec b) { return wasm_v128_or(a, b); }
inline Vec Zero() { return wasm_i64x2_const(0, 0); }
inline uint32_t Mask(Vec v) { return static_cast<uint32_t>(wasm_i8x16_bitmask(v)); }
#endif

}  // namespace leakscope::simd16
#endif

#endif  // LEAKSCOPE_ENGINE_SIMD16_H_
