// safetensors reader/writer and atomic file I/O: round trips, conversions, and one hostile file
// per validation rule (each must throw temper::Error naming the file and the problem).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "temper/io/atomic_file.hpp"
#include "temper/io/safetensors.hpp"

#include "test_util.hpp"

namespace test_safetensors {  // this file's names apart from the others' (unity build, tests/CMakeLists.txt)

namespace fs = std::filesystem;
using namespace std::literals;
using namespace temper;
using namespace temper::io;

using temper::testing::error_of;
using temper::testing::TempDir;

namespace {

template <class T>
std::span<const std::byte> as_bytes_of(const std::vector<T>& v) {
    return std::as_bytes(std::span<const T>(v));
}

std::vector<std::byte> bytes_of(std::string_view s) {
    auto b = std::as_bytes(std::span<const char>(s.data(), s.size()));
    return {b.begin(), b.end()};
}

// A safetensors file from a literal header (its length prefix written for it, or claimed_n
// instead) followed by data_bytes bytes of buffer.
std::vector<std::byte> make_file(std::string_view header, size_t data_bytes = 0, uint64_t claimed_n = UINT64_MAX) {
    uint64_t n = claimed_n == UINT64_MAX ? header.size() : claimed_n;
    std::vector<std::byte> f(8);
    std::memcpy(f.data(), &n, 8);
    auto h = bytes_of(header);
    f.insert(f.end(), h.begin(), h.end());
    for (size_t i = 0; i < data_bytes; ++i) f.push_back(std::byte(i * 7 + 1));
    return f;
}

const char* kName = "hostile.safetensors";

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// Opening the file must fail with a message naming the file and containing `word`.
void rejects(const std::vector<std::byte>& file, std::string_view word) {
    std::string msg = error_of([&] { SafeTensors::from_bytes(file, kName); });
    INFO("message: ", msg);
    CHECK(contains(msg, kName));
    CHECK(contains(msg, word));
}
void rejects(std::string_view header, size_t data_bytes, std::string_view word) {
    rejects(make_file(header, data_bytes), word);
}

// A JSON object from already-rendered "key":value entries.
template <class... S>
std::string obj(const S&... entries) {
    std::string out = "{";
    ((out += entries, out += ","), ...);
    if (out.size() > 1) out.pop_back();
    return out + "}";
}

std::string tensor(std::string_view name, std::string_view dtype, std::string_view shape, uint64_t b, uint64_t e) {
    return str("\"", name, "\":{\"dtype\":\"", dtype, "\",\"shape\":", shape, ",\"data_offsets\":[", b, ",", e, "]}");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Round trips

TEST_CASE("safetensors: round trip of every dtype, 0-rank and empty tensors, metadata") {
    TempDir tmp;
    std::mt19937 rng(7);
    struct Spec {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
    };
    std::vector<Spec> specs{{"a.odd", DType::I16, {7}}};  // 14 bytes: later tensors start unaligned
    for (int i = 0; i <= int(DType::F8_E5M2); ++i) {
        DType d = DType(i);
        specs.push_back({str("t.", dtype_name(d)), d, {2, 3}});
        specs.push_back({str("scalar.", dtype_name(d)), d, {}});
        specs.push_back({str("empty.", dtype_name(d)), d, {0, 5}});
    }
    specs.push_back({"z.empty1d", DType::F32, {0}});

    std::vector<std::vector<std::byte>> datas;
    std::vector<TensorToWrite> tw;
    for (auto& s : specs) {
        int64_t numel = 1;
        for (auto d : s.shape) numel *= d;
        std::vector<std::byte> bytes(size_t(numel) * dtype_size(s.dtype));
        for (auto& b : bytes) b = std::byte(rng());
        datas.push_back(std::move(bytes));
    }
    for (size_t i = 0; i < specs.size(); ++i) tw.push_back({specs[i].name, specs[i].dtype, specs[i].shape, datas[i]});
    std::map<std::string, std::string> meta{{"format", "pt"}, {"note", "ünïcødé \"quoted\"\n"}};

    const std::string path = tmp / "all.safetensors";
    save_safetensors(path, tw, meta);
    CHECK(tmp.entries() == std::vector<std::string>{"all.safetensors"});

    SafeTensors st = SafeTensors::open(path);
    CHECK(st.path() == path);
    CHECK(st.metadata() == meta);
    REQUIRE(st.tensors().size() == specs.size());
    for (size_t i = 0; i < specs.size(); ++i) {
        const TensorInfo& t = st.at(specs[i].name);
        CHECK(t.dtype == specs[i].dtype);
        CHECK(t.shape == specs[i].shape);
        auto b = st.bytes(t);
        CHECK(b.size() == datas[i].size());
        CHECK(std::equal(b.begin(), b.end(), datas[i].begin(), datas[i].end()));
    }
    for (size_t i = 1; i < st.tensors().size(); ++i) CHECK(st.tensors()[i].begin == st.tensors()[i - 1].end);
    CHECK(st.at("scalar.F32").numel() == 1);
    CHECK(st.at("empty.F64").numel() == 0);
    CHECK(st.find("nope") == nullptr);
    std::string msg = error_of([&] { st.at("nope"); });
    CHECK(contains(msg, path));
    CHECK(contains(msg, "no tensor named 'nope'"));

    // Header: length a multiple of 8, __metadata__ first, then tensors in the given order.
    auto file = read_file(path);
    uint64_t n;
    std::memcpy(&n, file.data(), 8);
    CHECK(n % 8 == 0);
    std::string header(reinterpret_cast<const char*>(file.data() + 8), n);
    CHECK(header.rfind("{\"__metadata__\":{", 0) == 0);
    CHECK(header.find("\"t.BOOL\"") < header.find("\"scalar.BOOL\""));
    CHECK(header.find("\"a.odd\"") < header.find("\"t.BOOL\""));
    CHECK(st.at("t.BOOL").begin == 14);

    // The same bytes also load from memory, and a moved-from SafeTensors hands its data over.
    SafeTensors mem = SafeTensors::from_bytes(file, "mem");
    SafeTensors moved = std::move(mem);
    CHECK(moved.read_as<float>("t.F32") == st.read_as<float>("t.F32"));
    SafeTensors moved_map = std::move(st);
    CHECK(moved_map.read_as<int64_t>("t.I64") == moved.read_as<int64_t>("t.I64"));
}

TEST_CASE("safetensors: writer output matches the reference byte for byte") {
    // What Python's safetensors.torch.save_file({"a": torch.tensor([1.0, 2.0])}) writes.
    TempDir tmp;
    std::vector<float> a{1.0f, 2.0f};
    save_safetensors(tmp / "a.safetensors", {{"a", DType::F32, {2}, as_bytes_of(a)}});
    std::string want = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    want.append((8 - want.size() % 8) % 8, ' ');
    auto expect = make_file(want);
    auto fb = as_bytes_of(a);
    expect.insert(expect.end(), fb.begin(), fb.end());
    CHECK(read_file(tmp / "a.safetensors") == expect);

    // No tensors and no metadata: the header is "{}" padded to 8.
    save_safetensors(tmp / "empty.safetensors", {});
    CHECK(read_file(tmp / "empty.safetensors") == make_file("{}      "));
    SafeTensors e = SafeTensors::open(tmp / "empty.safetensors");
    CHECK(e.tensors().empty());
    CHECK(e.metadata().empty());
}

TEST_CASE("safetensors: writer refuses bad input and leaves no file") {
    TempDir tmp;
    const std::string path = tmp / "bad.safetensors";
    std::vector<float> four(4);
    auto msg = error_of([&] { save_safetensors(path, {{"x", DType::F32, {2}, as_bytes_of(four)}}); });
    CHECK(contains(msg, path));
    CHECK(contains(msg, "needs 8 bytes, data has 16"));
    msg = error_of([&] {
        save_safetensors(path, {{"x", DType::F32, {4}, as_bytes_of(four)}, {"x", DType::F32, {4}, as_bytes_of(four)}});
    });
    CHECK(contains(msg, "duplicate tensor name 'x'"));
    msg = error_of([&] { save_safetensors(path, {{"__metadata__", DType::F32, {4}, as_bytes_of(four)}}); });
    CHECK(contains(msg, "reserved"));
    msg = error_of([&] { save_safetensors(path, {{"x", DType::F32, {-4}, as_bytes_of(four)}}); });
    CHECK(contains(msg, "negative dimension"));
    msg = error_of([&] { save_safetensors(path, {{"x", DType::F32, {INT64_MAX, 4}, as_bytes_of(four)}}); });
    CHECK(contains(msg, "overflow"));
    msg = error_of([&] { save_safetensors(path, {{"bad\xff", DType::F32, {4}, as_bytes_of(four)}}); });
    CHECK(contains(msg, path));
    CHECK(contains(msg, "UTF-8"));
    CHECK(tmp.entries().empty());
}

// ---------------------------------------------------------------------------------------------
// read_as conversions

TEST_CASE("safetensors: read_as conversions") {
    TempDir tmp;
    std::vector<uint16_t> all16(65536);
    for (uint32_t i = 0; i < 65536; ++i) all16[i] = uint16_t(i);
    std::vector<float> f32{1.0f, -2.5f, 1.0f + std::ldexp(1.0f, -8), 65520.0f, 3e38f, -0.0f};
    // 1 + 2^-8 + 2^-30: rounding to float first would land on a bf16 tie and round down (wrong).
    std::vector<double> f64{0.1, 1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -30), 1e300, -1e-300};
    std::vector<int8_t> i8{-128, -1, 0, 127};
    std::vector<uint8_t> u8{0, 255};
    std::vector<int16_t> i16{-32768, 32767};
    std::vector<uint16_t> u16{0, 65535};
    std::vector<int32_t> i32{INT32_MIN, INT32_MAX};
    std::vector<uint32_t> u32{7, 4000000000u};
    std::vector<int64_t> i64{-5, int64_t(1) << 40};
    std::vector<uint64_t> u64{3, UINT64_MAX};
    std::vector<uint8_t> boolean{0, 1, 1, 0};
    std::vector<uint8_t> fp8{0x38};
    save_safetensors(tmp / "c.safetensors", {
                                                {"f16", DType::F16, {65536}, as_bytes_of(all16)},
                                                {"bf16", DType::BF16, {256, 256}, as_bytes_of(all16)},
                                                {"f32", DType::F32, {6}, as_bytes_of(f32)},
                                                {"f64", DType::F64, {4}, as_bytes_of(f64)},
                                                {"i8", DType::I8, {4}, as_bytes_of(i8)},
                                                {"u8", DType::U8, {2}, as_bytes_of(u8)},
                                                {"i16", DType::I16, {2}, as_bytes_of(i16)},
                                                {"u16", DType::U16, {2}, as_bytes_of(u16)},
                                                {"i32", DType::I32, {2}, as_bytes_of(i32)},
                                                {"u32", DType::U32, {2}, as_bytes_of(u32)},
                                                {"i64", DType::I64, {2}, as_bytes_of(i64)},
                                                {"u64", DType::U64, {2}, as_bytes_of(u64)},
                                                {"bool", DType::BOOL, {4}, as_bytes_of(boolean)},
                                                {"fp8", DType::F8_E4M3, {1}, as_bytes_of(fp8)},
                                            });
    SafeTensors st = SafeTensors::open(tmp / "c.safetensors");

    SUBCASE("F16 and BF16 widen exactly to float and double") {
        auto h = st.read_as<float>("f16");
        auto b = st.read_as<float>("bf16");
        auto hd = st.read_as<double>("f16");
        long bad = 0;
        for (uint32_t i = 0; i < 65536; ++i) {
            float wh = f16::from_bits(uint16_t(i)).to_float(), wb = bf16::from_bits(uint16_t(i)).to_float();
            if (std::isnan(wh) ? !std::isnan(h[i]) : float_bits(h[i]) != float_bits(wh)) ++bad;
            if (std::isnan(wb) ? !std::isnan(b[i]) : float_bits(b[i]) != float_bits(wb)) ++bad;
            if (!std::isnan(wh) && hd[i] != double(wh)) ++bad;
        }
        CHECK(bad == 0);
        auto same = st.read_as<f16>("f16");  // same dtype: a plain copy
        CHECK(std::memcmp(same.data(), all16.data(), 2 * 65536) == 0);
    }
    SUBCASE("narrowing float conversions round to nearest even, once") {
        CHECK(st.read_as<float>("f32") == f32);
        auto d = st.read_as<double>("f32");
        CHECK(d[1] == -2.5);
        auto b = st.read_as<bf16>("f32");
        auto h = st.read_as<f16>("f32");
        for (size_t i = 0; i < f32.size(); ++i) {
            CHECK(b[i].bits == bf16::from_float(f32[i]).bits);
            CHECK(h[i].bits == f16::from_float(f32[i]).bits);
        }
        auto f = st.read_as<float>("f64");
        CHECK(f[0] == 0.1f);
        CHECK(std::isinf(f[2]));
        CHECK(st.read_as<double>("f64") == f64);
        auto b64 = st.read_as<bf16>("f64");
        CHECK(b64[1].bits == 0x3F81);  // direct rounding of the double; float-first would give 0x3F80
        CHECK(b64[2].bits == 0x7F80);
        CHECK(b64[3].bits == 0x8000);
        CHECK(st.read_as<f16>("f64")[0].bits == f16::from_float(0.1f).bits);
        auto hb = st.read_as<bf16>("f16");  // f16 -> bf16 via exact float
        CHECK(hb[0x3C00].bits == 0x3F80);
    }
    SUBCASE("integer conversions with range checks") {
        CHECK(st.read_as<int32_t>("i8") == std::vector<int32_t>{-128, -1, 0, 127});
        CHECK(st.read_as<int64_t>("u8") == std::vector<int64_t>{0, 255});
        CHECK(st.read_as<int32_t>("i16") == std::vector<int32_t>{-32768, 32767});
        CHECK(st.read_as<int32_t>("u16") == std::vector<int32_t>{0, 65535});
        CHECK(st.read_as<int64_t>("i32") == std::vector<int64_t>{INT32_MIN, INT32_MAX});
        CHECK(st.read_as<int64_t>("u32") == std::vector<int64_t>{7, 4000000000});
        CHECK(st.read_as<int64_t>("i64") == i64);
        CHECK(st.read_as<int32_t>("bool") == std::vector<int32_t>{0, 1, 1, 0});
        std::string msg = error_of([&] { st.read_as<int32_t>("u32"); });
        CHECK(contains(msg, "c.safetensors"));
        CHECK(contains(msg, "'u32' (U32) element 1 = 4000000000 does not fit in I32"));
        msg = error_of([&] { st.read_as<int32_t>("i64"); });
        CHECK(contains(msg, "element 1 = 1099511627776 does not fit"));
        msg = error_of([&] { st.read_as<int64_t>("u64"); });
        CHECK(contains(msg, "18446744073709551615 does not fit in I64"));
    }
    SUBCASE("float <-> integer and fp8 conversions are refused") {
        std::string msg = error_of([&] { st.read_as<float>("i64"); });
        CHECK(contains(msg, "c.safetensors"));
        CHECK(contains(msg, "tensor 'i64' has dtype I64; cannot read it as F32"));
        msg = error_of([&] { st.read_as<int64_t>("f32"); });
        CHECK(contains(msg, "tensor 'f32' has dtype F32; cannot read it as I64"));
        msg = error_of([&] { st.read_as<bf16>("bool"); });
        CHECK(contains(msg, "dtype BOOL; cannot read it as BF16"));
        msg = error_of([&] { st.read_as<float>("fp8"); });
        CHECK(contains(msg, "dtype F8_E4M3; cannot read it as F32"));
        msg = error_of([&] { st.read_as<float>("missing"); });
        CHECK(contains(msg, "no tensor named 'missing'"));
    }
    SUBCASE("bytes() refuses offsets outside this file") {
        TensorInfo fake{"fake", DType::F32, {1}, 0, 1u << 30};
        CHECK(contains(error_of([&] { st.bytes(fake); }), "outside the data buffer"));
    }
}

// ---------------------------------------------------------------------------------------------
// Validation: one hostile file per rule

TEST_CASE("safetensors: valid edge cases are accepted") {
    // Whitespace padding after the object, 0-rank tensor, empty tensors sharing an offset.
    std::string h =
        obj(tensor("e1", "F32", "[0]", 0, 0), tensor("s", "I32", "[]", 0, 4), tensor("e0", "I8", "[0,0]", 0, 0),
            tensor("e2", "BF16", "[3,0]", 4, 4), tensor("v", "U8", "[2]", 4, 6), tensor("e3", "F64", "[0]", 6, 6)) +
        "  \n\t\r ";
    SafeTensors st = SafeTensors::from_bytes(make_file(h, 6), "ok");
    REQUIRE(st.tensors().size() == 6);
    CHECK(st.tensors()[0].name == "e0");  // equal offsets: ordered by name
    CHECK(st.tensors()[1].name == "e1");
    CHECK(st.tensors()[2].name == "s");
    CHECK(st.at("s").shape.empty());
    CHECK(st.read_as<int64_t>("s").size() == 1);
    CHECK(st.read_as<double>("e3").empty());
    CHECK(st.tensors().back().name == "e3");
    // "{}" with an empty buffer; "-0" is zero; metadata alone.
    CHECK(SafeTensors::from_bytes(make_file("{}"), "ok").tensors().empty());
    CHECK(SafeTensors::from_bytes(make_file(obj(tensor("z", "F32", "[-0]", 0, 0))), "ok").tensors().size() == 1);
    auto m = SafeTensors::from_bytes(make_file("{\"__metadata__\":{\"a\":\"b\"}}"), "ok");
    CHECK(m.metadata().at("a") == "b");
}

TEST_CASE("safetensors: file too short for the length prefix") {
    rejects(std::vector<std::byte>(5), "too short");
    rejects(std::vector<std::byte>(), "too short");
}

TEST_CASE("safetensors: header length over 100 MB (HeaderTooLarge)") {
    rejects(make_file("{}", 0, 100'000'001), "HeaderTooLarge");
    rejects(make_file("{}", 0, UINT64_MAX - 1), "HeaderTooLarge");
}

TEST_CASE("safetensors: header length past end of file") {
    rejects(make_file("{}", 0, 3), "past the end");
    rejects(make_file("{}", 10, 100), "past the end");
    rejects(make_file("{}", 0, 100'000'000), "past the end");  // at the limit: allowed size, missing bytes
}

TEST_CASE("safetensors: header that is not a JSON object") {
    rejects("[]", 0, "JSON object");
    rejects("\"abc\"", 0, "JSON object");
    rejects(" {}", 0, "JSON object");  // must start with '{' (no leading whitespace)
    rejects("", 0, "empty header");
    rejects("\xEF\xBB\xBF{}", 0, "JSON object");  // byte-order mark
}

TEST_CASE("safetensors: invalid JSON") {
    rejects("{\"a\":", 0, "not valid JSON");
    rejects("{} x", 0, "not valid JSON");  // garbage after the object
    rejects("{}\0\0\0\0"sv, 0, "NUL");     // NUL is not padding
    rejects("{}\0garbage"sv, 0, "NUL");    // (nlohmann alone would stop at the NUL)
    rejects("{\"a\0\":{}}"sv, 0, "NUL");
    rejects("{\"\xff\":{}}", 0, "not valid JSON");           // invalid UTF-8 in a key
    rejects("{\"a\":\"\xc3\"}", 0, "not valid JSON");        // truncated UTF-8 sequence
    rejects("{/*c*/}", 0, "not valid JSON");                 // no comments
    rejects("{\"__metadata__\":{},}", 0, "not valid JSON");  // trailing comma
}

TEST_CASE("safetensors: duplicate names and fields") {
    rejects(obj(tensor("a", "F32", "[1]", 0, 4), tensor("a", "F32", "[1]", 4, 8)), 8, "duplicate key 'a'");
    rejects("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key '__metadata__'");
    rejects("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "duplicate key 'k'");
    rejects("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
            "duplicate field 'dtype'");
}

TEST_CASE("safetensors: overlapping offsets") {
    rejects(obj(tensor("a", "F32", "[2]", 0, 8), tensor("b", "F32", "[2]", 4, 12)), 12, "overlap");
    rejects(obj(tensor("a", "F32", "[1]", 0, 4), tensor("b", "F32", "[1]", 0, 4)), 4, "overlap");
}

TEST_CASE("safetensors: hole between tensors") {
    rejects(obj(tensor("a", "F32", "[1]", 0, 4), tensor("b", "F32", "[1]", 8, 12)), 12, "hole");
}

TEST_CASE("safetensors: offsets out of range") {
    rejects(obj(tensor("a", "F32", "[2]", 0, 8)), 4, "out of range");
    rejects(obj(tensor("a", "U8", "[1]", UINT64_MAX - 1, UINT64_MAX)), 4, "out of range");
}

TEST_CASE("safetensors: first tensor must begin at 0") {
    rejects(obj(tensor("a", "F32", "[1]", 4, 8)), 8, "begin at offset 0");
}

TEST_CASE("safetensors: element count and byte size overflow") {
    rejects(obj(tensor("a", "F32", "[4611686018427387904,4]", 0, 0)), 0, "overflow");             // numel 2^64
    rejects(obj(tensor("a", "F32", "[4611686018427387904]", 0, 0)), 0, "overflow");               // bytes 2^64
    rejects(obj(tensor("a", "U8", "[9223372036854775807,2]", 0, 0)), 0, "overflow");              // numel > int64
    rejects(obj(tensor("a", "U8", "[18446744073709551615]", 0, 0)), 0, "too large");              // dim > int64
    rejects(obj(tensor("a", "U8", "[18446744073709551616]", 0, 0)), 0, "non-negative integers");  // > u64
}

TEST_CASE("safetensors: size mismatch between shape and offsets") {
    rejects(obj(tensor("a", "F32", "[3]", 0, 8)), 8, "size mismatch");
    rejects(obj(tensor("a", "F32", "[0]", 0, 4)), 4, "size mismatch");
    rejects(obj(tensor("a", "F32", "[2]", 8, 0)), 8, "before begin");
}

TEST_CASE("safetensors: unknown dtype") {
    rejects(obj(tensor("a", "F33", "[1]", 0, 4)), 4, "unknown dtype \"F33\"");
    rejects(obj(tensor("a", "f32", "[1]", 0, 4)), 4, "unknown dtype");  // names are case-sensitive
    rejects("{\"a\":{\"dtype\":1,\"shape\":[],\"data_offsets\":[0,4]}}", 4, "dtype name string");
}

TEST_CASE("safetensors: negative or non-integer shape") {
    rejects(obj(tensor("a", "F32", "[-1]", 0, 4)), 4, "non-negative integers, found -1");
    rejects(obj(tensor("a", "F32", "[2.0]", 0, 8)), 8, "non-negative integers, found 2.0");
    rejects(obj(tensor("a", "F32", "[\"2\"]", 0, 8)), 8, "non-negative integers");
    rejects(obj(tensor("a", "F32", "[[2]]", 0, 8)), 8, "non-negative integers");
    rejects(obj(tensor("a", "F32", "5", 0, 8)), 8, "shape: expected an array");
}

TEST_CASE("safetensors: malformed tensor entries") {
    rejects("{\"a\":[]}", 0, "tensor 'a': expected an object");
    rejects("{\"a\":3}", 0, "tensor 'a': expected an object");
    rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "missing field 'data_offsets'");
    rejects("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing field 'dtype'");
    rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, "unknown field 'x'");
    rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "more than 2");
    rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4, "found 1 entries");
    rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", 4, "data_offsets");
    rejects("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":null}}", 4, "expected an array, found null");
}

TEST_CASE("safetensors: deep nesting is rejected at once") {
    std::string deep = str("{\"a\":{\"dtype\":\"F32\",\"shape\":", std::string(1'000'000, '['));
    rejects(deep, 0, "found an array");
    rejects(str("{\"__metadata__\":", std::string(1'000'000, '[')), 0, "__metadata__");
}

TEST_CASE("safetensors: trailing bytes after the last tensor") {
    rejects(obj(tensor("a", "F32", "[1]", 0, 4)), 5, "trailing");
    rejects("{}", 1, "data buffer has 1 bytes but tensors cover 0");
}

TEST_CASE("safetensors: bad metadata") {
    rejects("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ 'k': expected a string value, found 1");
    rejects("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "__metadata__ 'k'");
    rejects("{\"__metadata__\":{\"k\":null}}", 0, "__metadata__ 'k'");
    rejects("{\"__metadata__\":[]}", 0, "__metadata__: expected an object");
    rejects("{\"__metadata__\":\"x\"}", 0, "__metadata__: expected an object");
}

TEST_CASE("safetensors: open() on disk reports missing, truncated and directory paths") {
    TempDir tmp;
    std::string msg = error_of([&] { SafeTensors::open(tmp / "missing.safetensors"); });
    CHECK(contains(msg, tmp / "missing.safetensors"));
    CHECK(contains(msg, "No such file"));
    msg = error_of([&] { SafeTensors::open(tmp.dir.string()); });
    CHECK(contains(msg, "directory"));
    write_file_atomic(tmp / "short.safetensors", std::string_view("abc"));
    msg = error_of([&] { SafeTensors::open(tmp / "short.safetensors"); });
    CHECK(contains(msg, tmp / "short.safetensors"));
    CHECK(contains(msg, "too short"));
    write_file_atomic(tmp / "empty.safetensors", std::string_view(""));
    CHECK(contains(error_of([&] { SafeTensors::open(tmp / "empty.safetensors"); }), "too short"));
    auto f = make_file(obj(tensor("a", "F32", "[1]", 0, 4)), 4);
    f.pop_back();  // truncated data
    write_file_atomic(tmp / "trunc.safetensors", std::span<const std::byte>(f));
    msg = error_of([&] { SafeTensors::open(tmp / "trunc.safetensors"); });
    CHECK(contains(msg, tmp / "trunc.safetensors"));
    CHECK(contains(msg, "out of range"));
}

TEST_CASE("safetensors: random corruption never crashes, only throws temper::Error") {
    std::vector<float> v{1, 2, 3, 4, 5, 6};
    std::vector<int64_t> ids{1, 2, 3};
    TempDir tmp;
    save_safetensors(tmp / "base.safetensors",
                     {{"w", DType::F32, {2, 3}, as_bytes_of(v)}, {"ids", DType::I64, {3}, as_bytes_of(ids)}},
                     {{"k", "v"}});
    const auto base = read_file(tmp / "base.safetensors");
    std::mt19937 rng(99);
    int ok = 0, rejected = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        auto f = base;
        int edits = 1 + int(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            size_t pos = rng() % f.size();
            switch (rng() % 4) {
                case 0: f[pos] = std::byte(rng()); break;
                case 1: f[pos] = std::byte("{}[]\",:0123456789-e. "[rng() % 21]); break;
                case 2: f.erase(f.begin() + long(pos)); break;
                case 3: f.resize(pos); break;
            }
            if (f.empty()) break;
        }
        try {
            SafeTensors st = SafeTensors::from_bytes(f, "fuzz");
            for (const auto& t : st.tensors()) (void)st.bytes(t);
            ++ok;
        } catch (const temper::Error&) {
            ++rejected;
        }
    }
    CHECK(ok + rejected == 20000);
    CHECK(rejected > 15000);
}

// ---------------------------------------------------------------------------------------------
// Atomic writes and whole-file reads

TEST_CASE("write_file_atomic: creates, replaces, leaves no temp files") {
    TempDir tmp;
    const std::string path = tmp / "out.txt";
    write_file_atomic(path, std::string_view("first version, longer than the second"));
    CHECK(read_text_file(path) == "first version, longer than the second");
    write_file_atomic(path, std::string_view("second"));
    CHECK(read_text_file(path) == "second");
    CHECK(tmp.entries() == std::vector<std::string>{"out.txt"});

    // Binary data with NULs, and a gather write of several parts.
    std::vector<std::byte> big(3 << 20);
    for (size_t i = 0; i < big.size(); ++i) big[i] = std::byte(i * 131 >> 3);
    std::span<const std::byte> all(big);
    write_file_atomic(path, {all.first(10), all.subspan(10, 0), all.subspan(10)});
    CHECK(read_file(path) == big);
    write_file_atomic(path, std::span<const std::byte>());
    CHECK(read_file(path).empty());
    CHECK(tmp.entries() == std::vector<std::string>{"out.txt"});
}

TEST_CASE("write_file_atomic: relative path in the current directory") {
    TempDir tmp;
    fs::path old = fs::current_path();
    fs::current_path(tmp.dir);
    write_file_atomic("rel.txt", std::string_view("here"));
    fs::current_path(old);
    CHECK(read_text_file(tmp / "rel.txt") == "here");
    CHECK(tmp.entries() == std::vector<std::string>{"rel.txt"});
}

TEST_CASE("write_file_atomic: concurrent writers never tear the file") {
    TempDir tmp;
    const std::string path = tmp / "shared.bin";
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            std::vector<std::byte> data(100000, std::byte(t + 1));
            for (int i = 0; i < 10; ++i) write_file_atomic(path, std::span<const std::byte>(data));
        });
    for (auto& th : threads) th.join();
    auto got = read_file(path);
    REQUIRE(got.size() == 100000);
    CHECK(std::all_of(got.begin(), got.end(), [&](std::byte b) { return b == got[0]; }));
    CHECK(tmp.entries() == std::vector<std::string>{"shared.bin"});
}

TEST_CASE("write_file_atomic: failures name the path and leave nothing behind") {
    TempDir tmp;
    std::string p = tmp / "no_such_dir/out.txt";
    std::string msg = error_of([&] { write_file_atomic(p, std::string_view("x")); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "No such file or directory"));

    write_file_atomic(tmp / "plain", std::string_view("x"));
    p = tmp / "plain/out.txt";  // parent is a regular file
    msg = error_of([&] { write_file_atomic(p, std::string_view("x")); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "Not a directory"));

    fs::create_directory(tmp.dir / "target_is_dir");
    p = tmp / "target_is_dir";  // rename onto a directory fails after the temp file was written
    msg = error_of([&] { write_file_atomic(p, std::string_view("x")); });
    CHECK(contains(msg, p));
    CHECK(contains(msg, "rename"));
    CHECK(tmp.entries() == std::vector<std::string>{"plain", "target_is_dir"});

    // An unwritable directory (only meaningful when not running as root, who may write anyway).
    fs::create_directory(tmp.dir / "ro");
    fs::permissions(tmp.dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    p = tmp / "ro/out.txt";
    if (::geteuid() != 0) {
        msg = error_of([&] { write_file_atomic(p, std::string_view("x")); });
        CHECK(contains(msg, p));
        CHECK(contains(msg, "Permission denied"));
    } else {
        MESSAGE("running as root: skipping the unwritable-directory check");
    }
    fs::permissions(tmp.dir / "ro", fs::perms::owner_all);
    CHECK(fs::is_empty(tmp.dir / "ro"));
}

TEST_CASE("read_file: missing files and directories") {
    TempDir tmp;
    std::string msg = error_of([&] { read_file(tmp / "missing.bin"); });
    CHECK(contains(msg, tmp / "missing.bin"));
    CHECK(contains(msg, "No such file or directory"));
    msg = error_of([&] { read_text_file(tmp.dir.string()); });
    CHECK(contains(msg, tmp.dir.string()));
    CHECK(contains(msg, "directory"));
    write_file_atomic(tmp / "e", std::string_view(""));
    CHECK(read_text_file(tmp / "e").empty());
}

}  // namespace test_safetensors
