// bf16 / f16 conversions: exhaustive round trips, and from_float checked against independent
// references (the compiler's _Float16 for f16; nearest-of-two-candidates in double for bf16) at
// every rounding boundary and on random floats.
#include <doctest/doctest.h>

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "temper/core/dtype.hpp"

namespace test_dtype {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

using temper::bf16;
using temper::bits_float;
using temper::f16;
using temper::float_bits;

namespace {

// The compiler's IEEE binary16 conversion (libgcc soft-float on x86-64: round-to-nearest-even).
uint16_t f16_ref(float x) {
    volatile float v = x;  // keep the conversion at run time
    _Float16 h = static_cast<_Float16>(v);
    uint16_t b;
    std::memcpy(&b, &h, 2);
    return b;
}

// bf16 reference: pick the nearer of the two bf16 values around x (in exact double arithmetic),
// ties to the even one; past the largest finite bf16 the upper candidate is 2^128 (-> inf).
uint16_t bf16_ref(float x) {
    if (std::isnan(x)) return 0x7FC0;
    if (std::isinf(x)) return std::signbit(x) ? 0xFF80 : 0x7F80;
    const uint32_t u = float_bits(x);
    const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
    const double ax = std::fabs(double(x));
    const uint16_t lo = uint16_t((u & 0x7FFFFFFFu) >> 16);  // truncation toward zero
    const uint16_t hi = uint16_t(lo + 1);
    const double dlo = std::fabs(double(bits_float(uint32_t(lo) << 16)));
    const double dhi = hi == 0x7F80 ? std::ldexp(1.0, 128) : std::fabs(double(bits_float(uint32_t(hi) << 16)));
    const double dl = ax - dlo, dh = dhi - ax;
    uint16_t pick = dl < dh ? lo : dh < dl ? hi : ((lo & 1) ? hi : lo);
    return uint16_t(sign | pick);
}

bool is_f16_nan(uint16_t b) { return (b & 0x7C00) == 0x7C00 && (b & 0x3FF); }
bool is_bf16_nan(uint16_t b) { return (b & 0x7F80) == 0x7F80 && (b & 0x7F); }

// Counts disagreements of from_float with the reference on x; remembers the first.
struct Compare {
    long checked = 0, bad = 0;
    float first_bad = 0;
    uint16_t got = 0, want = 0;
    void add(float x, uint16_t g, uint16_t w, bool (*is_nan)(uint16_t)) {
        ++checked;
        bool ok = std::isnan(x) ? is_nan(g) && is_nan(w) : g == w;
        if (!ok && bad++ == 0) {
            first_bad = x;
            got = g;
            want = w;
        }
    }
};

void f16_case(Compare& c, float x) { c.add(x, f16::from_float(x).bits, f16_ref(x), is_f16_nan); }
void bf16_case(Compare& c, float x) { c.add(x, bf16::from_float(x).bits, bf16_ref(x), is_bf16_nan); }

// Every rounding decision happens at a representable value or at a midpoint between two
// neighbours: test each of them and the floats just either side, for all 65536 patterns.
template <class Case>
void boundaries(Compare& c, float (*value)(uint16_t), Case one) {
    for (uint32_t b = 0; b < 0x10000; ++b) {
        float v = value(uint16_t(b)), w = value(uint16_t(b + 1));
        for (float x : {v, std::nextafter(v, 0.0f), std::nextafter(v, INFINITY), std::nextafter(v, -INFINITY)})
            one(c, x);
        if (!std::isfinite(v) || !std::isfinite(w) || std::signbit(v) != std::signbit(w)) continue;
        float mid = float((double(v) + double(w)) / 2);  // exact: the midpoint is a float here
        for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY), std::nextafter(mid, -INFINITY)})
            one(c, x);
    }
}

float f16_value(uint16_t b) { return f16::from_bits(b).to_float(); }
float bf16_value(uint16_t b) { return bf16::from_bits(b).to_float(); }

}  // namespace

TEST_CASE("f16: all 65536 bit patterns round-trip through float") {
    long bad = 0;
    uint32_t first_bad = 0;
    for (uint32_t b = 0; b < 0x10000; ++b) {
        float x = f16::from_bits(uint16_t(b)).to_float();
        uint16_t back = f16::from_float(x).bits;
        bool ok = is_f16_nan(uint16_t(b)) ? std::isnan(x) && is_f16_nan(back) : back == b;
        // to_float must also agree with the compiler's binary16 -> float widening.
        _Float16 h;
        uint16_t bb = uint16_t(b);
        std::memcpy(&h, &bb, 2);
        float ref = float(h);
        ok = ok && (std::isnan(ref) ? std::isnan(x) : float_bits(ref) == float_bits(x));
        if (!ok && bad++ == 0) first_bad = b;
    }
    INFO("first failing pattern ", first_bad);
    CHECK(bad == 0);
}

TEST_CASE("bf16: all 65536 bit patterns round-trip through float") {
    long bad = 0;
    for (uint32_t b = 0; b < 0x10000; ++b) {
        float x = bf16::from_bits(uint16_t(b)).to_float();
        CHECK_EQ(float_bits(x), uint32_t(b) << 16);  // bf16 is exactly the top half of a float
        uint16_t back = bf16::from_float(x).bits;
        bool ok = is_bf16_nan(uint16_t(b)) ? std::isnan(x) && is_bf16_nan(back) : back == b;
        if (!ok) ++bad;
    }
    CHECK(bad == 0);
}

TEST_CASE("f16::from_float matches _Float16 at every rounding boundary") {
    Compare c;
    boundaries(c, f16_value, f16_case);
    INFO("first mismatch at x = ", c.first_bad, " got ", c.got, " want ", c.want);
    CHECK(c.checked > 500000);
    CHECK(c.bad == 0);
}

TEST_CASE("bf16::from_float matches the double reference at every rounding boundary") {
    Compare c;
    boundaries(c, bf16_value, bf16_case);
    INFO("first mismatch at x = ", c.first_bad, " got ", c.got, " want ", c.want);
    CHECK(c.checked > 500000);
    CHECK(c.bad == 0);
}

TEST_CASE("from_float on random floats") {
    std::mt19937_64 rng(1234);
    Compare ch, cb;
    for (int i = 0; i < 2'000'000; ++i) {
        float any = bits_float(uint32_t(rng()));                               // every exponent, NaNs included
        float near = bits_float(uint32_t(0x33000000u + rng() % 0x14800000u));  // [2^-25, ~2^16]: f16 territory
        if (rng() & 1) near = -near;
        f16_case(ch, any);
        f16_case(ch, near);
        bf16_case(cb, any);
        bf16_case(cb, near);
    }
    INFO("f16 first mismatch ", ch.first_bad, " bf16 first mismatch ", cb.first_bad);
    CHECK(ch.bad == 0);
    CHECK(cb.bad == 0);
}

TEST_CASE("f16 edge cases") {
    auto h = [](float x) { return f16::from_float(x).bits; };
    const float sub = std::ldexp(1.0f, -24);  // smallest subnormal
    CHECK(h(0.0f) == 0x0000);
    CHECK(h(-0.0f) == 0x8000);
    CHECK(h(1.0f) == 0x3C00);
    CHECK(h(65504.0f) == 0x7BFF);                        // largest finite
    CHECK(h(std::nextafter(65520.0f, 0.0f)) == 0x7BFF);  // just below the overflow tie
    CHECK(h(65520.0f) == 0x7C00);                        // tie with "65536" rounds to even = inf
    CHECK(h(-65520.0f) == 0xFC00);
    CHECK(h(1e6f) == 0x7C00);
    CHECK(h(FLT_MAX) == 0x7C00);
    CHECK(h(INFINITY) == 0x7C00);
    CHECK(h(-INFINITY) == 0xFC00);
    CHECK(h(sub) == 0x0001);
    CHECK(h(-sub) == 0x8001);
    CHECK(h(std::ldexp(1.0f, -25)) == 0x0000);  // tie between 0 and 2^-24: even is 0
    CHECK(h(-std::ldexp(1.0f, -25)) == 0x8000);
    CHECK(h(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 0x0001);
    CHECK(h(1.5f * sub) == 0x0002);                                         // tie between 1 and 2 units: even is 2
    CHECK(h(2.5f * sub) == 0x0002);                                         // tie between 2 and 3 units: even is 2
    CHECK(h(std::ldexp(1.0f, -14)) == 0x0400);                              // smallest normal
    CHECK(h(std::ldexp(1.0f, -14) - std::ldexp(1.0f, -25)) == 0x0400);      // tie 0x3FF/0x400: even is 0x400
    CHECK(h(std::ldexp(1.0f, -14) - 3 * std::ldexp(1.0f, -25)) == 0x03FE);  // tie 0x3FE/0x3FF: even 0x3FE
    CHECK(h(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);                       // tie: even is 1.0
    CHECK(h(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);                   // tie: even is 1+2^-9
    CHECK(h(std::ldexp(1.0f, -140)) == 0x0000);                             // float subnormal input
    CHECK(is_f16_nan(h(NAN)));
    CHECK(is_f16_nan(h(bits_float(0x7F800001u))));  // signalling NaN, payload in low bits
    CHECK(is_f16_nan(h(bits_float(0xFFC00000u))));
    CHECK(f16::from_bits(0x0001).to_float() == sub);
    CHECK(f16::from_bits(0x7BFF).to_float() == 65504.0f);
    CHECK(std::isinf(f16::from_bits(0x7C00).to_float()));
}

TEST_CASE("bf16 edge cases") {
    auto h = [](float x) { return bf16::from_float(x).bits; };
    CHECK(h(0.0f) == 0x0000);
    CHECK(h(-0.0f) == 0x8000);
    CHECK(h(1.0f) == 0x3F80);
    CHECK(h(1.0f + std::ldexp(1.0f, -8)) == 0x3F80);      // tie: even is 1.0
    CHECK(h(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3F82);  // tie: even is 1+2^-6
    CHECK(h(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)) == 0x3F81);
    CHECK(h(FLT_MAX) == 0x7F80);                  // above max bf16 + half ulp: inf
    CHECK(h(bits_float(0x7F7F7FFFu)) == 0x7F7F);  // just below that tie
    CHECK(h(bits_float(0x7F7F8000u)) == 0x7F80);  // the tie itself: even is inf
    CHECK(h(INFINITY) == 0x7F80);
    CHECK(h(-INFINITY) == 0xFF80);
    CHECK(h(bits_float(0x00000001u)) == 0x0000);  // smallest float subnormal
    CHECK(h(bits_float(0x00008000u)) == 0x0000);  // subnormal tie: even is 0
    CHECK(h(bits_float(0x00018000u)) == 0x0002);  // subnormal tie: even is 2
    CHECK(is_bf16_nan(h(NAN)));
    CHECK(is_bf16_nan(h(bits_float(0x7F800001u))));  // would become inf if just rounded
    CHECK(is_bf16_nan(h(bits_float(0xFF800001u))));
    CHECK((h(bits_float(0xFF800001u)) & 0x8000) == 0x8000);  // NaN keeps its sign
}

}  // namespace test_dtype
