// Element types: the DType tag used by files (safetensors) and the 16-bit float storage types
// bf16 and f16 with exact round-to-nearest-even conversion from float.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>

#include "temper/core/error.hpp"
#include "temper/core/macros.hpp"

namespace temper {

// The dtypes of the safetensors format (names as they appear in its headers).
enum class DType : uint8_t { BOOL, U8, I8, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64, F8_E4M3, F8_E5M2 };

inline constexpr size_t dtype_size(DType d) {
    switch (d) {
        case DType::BOOL:
        case DType::U8:
        case DType::I8:
        case DType::F8_E4M3:
        case DType::F8_E5M2: return 1;
        case DType::I16:
        case DType::U16:
        case DType::F16:
        case DType::BF16: return 2;
        case DType::I32:
        case DType::U32:
        case DType::F32: return 4;
        case DType::F64:
        case DType::I64:
        case DType::U64: return 8;
    }
    return 0;
}

inline constexpr std::string_view dtype_name(DType d) {
    switch (d) {
        case DType::BOOL: return "BOOL";
        case DType::U8: return "U8";
        case DType::I8: return "I8";
        case DType::I16: return "I16";
        case DType::U16: return "U16";
        case DType::F16: return "F16";
        case DType::BF16: return "BF16";
        case DType::I32: return "I32";
        case DType::U32: return "U32";
        case DType::F32: return "F32";
        case DType::F64: return "F64";
        case DType::I64: return "I64";
        case DType::U64: return "U64";
        case DType::F8_E4M3: return "F8_E4M3";
        case DType::F8_E5M2: return "F8_E5M2";
    }
    return "?";
}

inline std::optional<DType> dtype_from_name(std::string_view s) {
    for (int i = 0; i <= int(DType::F8_E5M2); ++i)
        if (dtype_name(DType(i)) == s) return DType(i);
    return std::nullopt;
}

TEMPER_HD inline uint32_t float_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
TEMPER_HD inline float bits_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// bfloat16: the top 16 bits of an IEEE float, rounded to nearest-even. NaN stays a (quiet) NaN.
struct bf16 {
    uint16_t bits = 0;

    TEMPER_HD static constexpr bf16 from_bits(uint16_t b) {
        bf16 h;
        h.bits = b;
        return h;
    }
    TEMPER_HD static bf16 from_float(float f) {
        uint32_t u = float_bits(f);
        if ((u & 0x7FFFFFFFu) > 0x7F800000u) return from_bits(uint16_t((u >> 16) | 0x0040u));
        u += 0x7FFFu + ((u >> 16) & 1u);  // ties go to the even upper half
        return from_bits(uint16_t(u >> 16));
    }
    TEMPER_HD float to_float() const { return bits_float(uint32_t(bits) << 16); }
    // A double rounded directly to bf16 (not through float, which can round twice): first to float with
    // round-to-odd, whose 16 extra bits keep the second rounding exact.
    TEMPER_HD static bf16 from_double(double d) {
        float f = float(d);
        if (double(f) != d && f == f) {
            uint32_t u = float_bits(f);
            if (!(u & 1u)) u += (double(f) < d) == (d > 0) ? 1u : uint32_t(-1);  // step toward d: odd
            f = bits_float(u);
        }
        return from_float(f);
    }
    TEMPER_HD explicit bf16(float f) : bits(from_float(f).bits) {}
    TEMPER_HD explicit bf16(double d) : bits(from_double(d).bits) {}
    template <class I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
    TEMPER_HD explicit bf16(I i) : bits(from_double(double(i)).bits) {}
    bf16() = default;
    // Widening is exact, so it is implicit: bf16 values mix with float and double arithmetic as floats.
    TEMPER_HD operator float() const { return to_float(); }
};

// Arithmetic on bf16 computes in float and rounds the result once (what PyTorch's bf16 elementwise ops do),
// so the generic op code runs on bf16 tensors. Reductions and the heavy kernels widen to float themselves.
TEMPER_HD inline bf16 operator+(bf16 a, bf16 b) { return bf16(float(a) + float(b)); }
TEMPER_HD inline bf16 operator-(bf16 a, bf16 b) { return bf16(float(a) - float(b)); }
TEMPER_HD inline bf16 operator*(bf16 a, bf16 b) { return bf16(float(a) * float(b)); }
TEMPER_HD inline bf16 operator/(bf16 a, bf16 b) { return bf16(float(a) / float(b)); }
TEMPER_HD inline bf16 operator-(bf16 a) { return bf16::from_bits(uint16_t(a.bits ^ 0x8000u)); }
TEMPER_HD inline bf16& operator+=(bf16& a, bf16 b) { return a = a + b; }
TEMPER_HD inline bf16& operator-=(bf16& a, bf16 b) { return a = a - b; }
TEMPER_HD inline bf16& operator*=(bf16& a, bf16 b) { return a = a * b; }
TEMPER_HD inline bf16& operator/=(bf16& a, bf16 b) { return a = a / b; }
TEMPER_HD inline bool operator==(bf16 a, bf16 b) { return float(a) == float(b); }
TEMPER_HD inline bool operator!=(bf16 a, bf16 b) { return float(a) != float(b); }
TEMPER_HD inline bool operator<(bf16 a, bf16 b) { return float(a) < float(b); }
TEMPER_HD inline bool operator>(bf16 a, bf16 b) { return float(a) > float(b); }
TEMPER_HD inline bool operator<=(bf16 a, bf16 b) { return float(a) <= float(b); }
TEMPER_HD inline bool operator>=(bf16 a, bf16 b) { return float(a) >= float(b); }

// IEEE binary16, rounded to nearest-even, subnormals and overflow-to-infinity included.
struct f16 {
    uint16_t bits = 0;

    TEMPER_HD static constexpr f16 from_bits(uint16_t b) {
        f16 h;
        h.bits = b;
        return h;
    }
    TEMPER_HD static f16 from_float(float f) {
        uint32_t x = float_bits(f);
        const uint32_t sign = (x >> 16) & 0x8000u;
        x &= 0x7FFFFFFFu;
        if (x > 0x7F800000u) return from_bits(uint16_t(sign | 0x7E00u | ((x >> 13) & 0x3FFu)));  // NaN
        if (x >= 0x477FF000u) return from_bits(uint16_t(sign | 0x7C00u));  // >= 65520 rounds to inf
        if (x >= 0x38800000u) {                                            // normal half: |f| >= 2^-14
            uint32_t mant = x & 0x7FFFFFu;
            uint32_t h = ((((x >> 23) - 127u + 15u)) << 10) | (mant >> 13);
            uint32_t rem = mant & 0x1FFFu;
            if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // carry may bump the exponent: correct
            return from_bits(uint16_t(sign | h));
        }
        if (x <= 0x33000000u) return from_bits(uint16_t(sign));  // <= 2^-25 rounds to (signed) zero
        // Subnormal half: count of 2^-24 units = m * 2^(e-126), with shift = 126 - e in [14, 24].
        uint32_t e = x >> 23, m = (x & 0x7FFFFFu) | 0x800000u, shift = 126u - e;
        uint32_t h = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (h & 1u))) ++h;
        return from_bits(uint16_t(sign | h));
    }
    TEMPER_HD float to_float() const {
        const uint32_t sign = uint32_t(bits & 0x8000u) << 16;
        uint32_t e = (bits >> 10) & 0x1Fu, m = bits & 0x3FFu;
        if (e == 0x1Fu) return bits_float(sign | 0x7F800000u | (m << 13));  // inf / NaN
        if (e == 0) {
            if (m == 0) return bits_float(sign);
            // normalise the subnormal: value = m * 2^-24
            int shift = 0;
            while (!(m & 0x400u)) {
                m <<= 1;
                ++shift;
            }
            m &= 0x3FFu;
            return bits_float(sign | (uint32_t(127 - 15 + 1 - shift) << 23) | (m << 13));
        }
        return bits_float(sign | ((e - 15u + 127u) << 23) | (m << 13));
    }
    TEMPER_HD explicit f16(float f) : bits(from_float(f).bits) {}
    f16() = default;
    TEMPER_HD explicit operator float() const { return to_float(); }
};

// True for the 16-bit float types. Tensors compute with bf16 (its kernels work in float); f16 is a file format.
template <class T>
inline constexpr bool is_half_v = std::is_same_v<T, bf16> || std::is_same_v<T, f16>;
// The two arithmetic types of an element type T:
//   compute_t<T>  what arithmetic on T elements runs in, per-row statistics are kept in, and the GPU's
//                 reductions accumulate in: float for the 16-bit types, else T;
//   wide_t<T>     what the CPU's reductions accumulate in: double for every type, so that the CPU kernels are
//                 the reference the GPU's compute_t sums are checked against.
template <class T>
using compute_t = std::conditional_t<is_half_v<T>, float, T>;
template <class T>
using wide_t = double;

template <class T>
struct dtype_of_t;
template <>
struct dtype_of_t<float> {
    static constexpr DType value = DType::F32;
};
template <>
struct dtype_of_t<double> {
    static constexpr DType value = DType::F64;
};
template <>
struct dtype_of_t<bf16> {
    static constexpr DType value = DType::BF16;
};
template <>
struct dtype_of_t<f16> {
    static constexpr DType value = DType::F16;
};
template <>
struct dtype_of_t<int64_t> {
    static constexpr DType value = DType::I64;
};
template <>
struct dtype_of_t<int32_t> {
    static constexpr DType value = DType::I32;
};
template <>
struct dtype_of_t<uint8_t> {
    static constexpr DType value = DType::U8;
};
template <class T>
inline constexpr DType dtype_of = dtype_of_t<T>::value;

}  // namespace temper

// std::numeric_limits for bf16: 8 significant bits, float's exponent range.
template <>
class std::numeric_limits<temper::bf16> {
public:
    static constexpr bool is_specialized = true, is_signed = true, is_integer = false, is_exact = false;
    static constexpr bool has_infinity = true, has_quiet_NaN = true, has_signaling_NaN = false;
    static constexpr bool is_iec559 = false, is_bounded = true, is_modulo = false;
    static constexpr bool traps = false, tinyness_before = false;
    static constexpr std::float_round_style round_style = std::round_to_nearest;
    static constexpr int digits = 8, digits10 = 2, max_digits10 = 4, radix = 2;
    static constexpr int min_exponent = -125, min_exponent10 = -37, max_exponent = 128, max_exponent10 = 38;
    static constexpr temper::bf16 min() noexcept { return temper::bf16::from_bits(0x0080); }
    static constexpr temper::bf16 lowest() noexcept { return temper::bf16::from_bits(0xFF7F); }
    static constexpr temper::bf16 max() noexcept { return temper::bf16::from_bits(0x7F7F); }
    static constexpr temper::bf16 epsilon() noexcept { return temper::bf16::from_bits(0x3C00); }
    static constexpr temper::bf16 round_error() noexcept { return temper::bf16::from_bits(0x3F00); }
    static constexpr temper::bf16 infinity() noexcept { return temper::bf16::from_bits(0x7F80); }
    static constexpr temper::bf16 quiet_NaN() noexcept { return temper::bf16::from_bits(0x7FC0); }
    static constexpr temper::bf16 signaling_NaN() noexcept { return temper::bf16::from_bits(0x7FA0); }
    static constexpr temper::bf16 denorm_min() noexcept { return temper::bf16::from_bits(0x0001); }
};
