// safetensors: the Hugging Face tensor file format (read, validate, convert, write).
//
// File = u64 little-endian N, N bytes of UTF-8 JSON header, then the data buffer. The reader
// checks everything a hostile file could get wrong before handing out a single byte: header
// bounds, JSON syntax and schema, duplicate names, dtype sizes (overflow-checked) and that the
// tensors tile the data buffer exactly. Policies, where we chose one (see docs/formats.md):
//   - trailing bytes after the last tensor are rejected, as the reference implementation does;
//   - trailing JSON whitespace after the header object is padding and accepted;
//   - tensor entries must have exactly dtype, shape and data_offsets (unknown fields rejected);
//   - duplicate keys anywhere in the header are rejected (JSON libraries silently keep one).
// Tensor data is NOT aligned in general: bytes() hands out the raw span, read_as copies.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "temper/core/dtype.hpp"
#include "temper/core/error.hpp"
#include "temper/io/atomic_file.hpp"

namespace temper::io {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

// The reference implementation's limit on the header length (its HeaderTooLarge error).
inline constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // offsets relative to the data buffer
    // Product of shape (1 for a 0-rank tensor). Overflow-checked when the file was opened.
    int64_t numel() const {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        return n;
    }
};

namespace detail {

// A read-only private mapping of a whole file, unmapped on destruction. Movable, not copyable.
class MappedFile {
public:
    MappedFile() = default;
    MappedFile(void* p, size_t n) : ptr_(p), size_(n) {}
    MappedFile(MappedFile&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    MappedFile& operator=(MappedFile&& o) noexcept {
        if (this != &o) {
            reset();
            ptr_ = std::exchange(o.ptr_, nullptr);
            size_ = std::exchange(o.size_, 0);
        }
        return *this;
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile() { reset(); }

    std::span<const std::byte> bytes() const { return {static_cast<const std::byte*>(ptr_), size_}; }

private:
    void reset() {
        if (ptr_) ::munmap(ptr_, size_);
        ptr_ = nullptr;
        size_ = 0;
    }
    void* ptr_ = nullptr;
    size_t size_ = 0;
};

// Multiplies with overflow detection; false when a*b does not fit.
inline bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

// Renders a JSON scalar for "found ..." in messages, cut short so a hostile header cannot make
// the message huge.
inline std::string short_text(std::string s) {
    if (s.size() > 64) s = s.substr(0, 61) + "...";
    return s;
}

// short_text(s) as a check() message part: copied and cut only if the check fails (every header key is checked).
struct ShortText {
    std::string_view s;
    friend std::ostream& operator<<(std::ostream& os, const ShortText& t) { return os << short_text(std::string(t.s)); }
};

// Streams the header through nlohmann's SAX interface and builds TensorInfo directly. Unlike
// parsing to a DOM this sees duplicate keys, rejects unexpected nesting at once (no deep-nesting
// blow-up), and keeps memory proportional to what the header legitimately describes.
class HeaderParser : public nlohmann::json_sax<nlohmann::json> {
public:
    HeaderParser(const std::string& path, std::vector<TensorInfo>& tensors,
                 std::map<std::string, std::string>& metadata)
        : path_(path), tensors_(tensors), metadata_(metadata) {}

    bool null() override { scalar("null"); }
    bool boolean(bool v) override { scalar(v ? "true" : "false"); }
    bool number_integer(number_integer_t v) override {
        if (v >= 0) return number_unsigned(number_unsigned_t(v));  // "-0"
        scalar(std::to_string(v));
    }
    bool number_unsigned(number_unsigned_t v) override {
        if (at_ == At::Shape) {
            check(v <= uint64_t(INT64_MAX), where("shape"), "dimension ", v, " is too large");
            cur_.shape.push_back(int64_t(v));
        } else if (at_ == At::Offsets) {
            check(n_offsets_ < 2, where("data_offsets"), "expected [begin, end], found more than 2 entries");
            (n_offsets_++ == 0 ? cur_.begin : cur_.end) = v;
        } else {
            scalar(std::to_string(v));
        }
        return true;
    }
    bool number_float(number_float_t, const string_t& s) override { scalar(s); }
    bool binary(binary_t&) override { scalar("binary"); }

    bool string(string_t& s) override {
        if (at_ == At::Metadata) {
            metadata_.emplace(key_, s);
        } else if (at_ == At::Tensor && field_ == "dtype") {
            auto d = dtype_from_name(s);
            check(d.has_value(), where("dtype"), "unknown dtype \"", ShortText{s}, "\"");
            cur_.dtype = *d;
        } else {
            scalar("\"" + short_text(s) + "\"");
        }
        return true;
    }

    bool start_object(std::size_t) override {
        if (at_ == At::Start) {
            at_ = At::Root;
        } else if (at_ == At::Root && key_ == "__metadata__") {
            at_ = At::Metadata;
        } else if (at_ == At::Root) {
            at_ = At::Tensor;
            cur_ = TensorInfo{};
            cur_.name = key_;
            has_dtype_ = has_shape_ = has_offsets_ = false;
        } else {
            unexpected("an object");
        }
        return true;
    }
    bool key(string_t& k) override {
        if (at_ == At::Root) {
            check(names_.insert(k).second, path_, ": header: duplicate key '", ShortText{k}, "'");
            key_ = k;
        } else if (at_ == At::Metadata) {
            check(!metadata_.count(k), path_, ": __metadata__: duplicate key '", ShortText{k}, "'");
            key_ = k;
        } else {  // At::Tensor
            bool* seen = k == "dtype"          ? &has_dtype_
                         : k == "shape"        ? &has_shape_
                         : k == "data_offsets" ? &has_offsets_
                                               : nullptr;
            check(seen != nullptr, path_, ": tensor '", cur_.name, "': unknown field '", ShortText{k},
                  "' (expected dtype, shape, data_offsets)");
            check(!*seen, path_, ": tensor '", cur_.name, "': duplicate field '", k, "'");
            *seen = true;
            field_ = k;
        }
        return true;
    }
    bool end_object() override {
        if (at_ == At::Tensor) {
            check(has_dtype_ && has_shape_ && has_offsets_, path_, ": tensor '", cur_.name, "': missing field '",
                  !has_dtype_   ? "dtype"
                  : !has_shape_ ? "shape"
                                : "data_offsets",
                  "'");
            finish_tensor();
            at_ = At::Root;
        } else if (at_ == At::Metadata) {
            at_ = At::Root;
        } else {
            at_ = At::Done;
        }
        return true;
    }
    bool start_array(std::size_t) override {
        if (at_ == At::Tensor && field_ == "shape") {
            at_ = At::Shape;
        } else if (at_ == At::Tensor && field_ == "data_offsets") {
            at_ = At::Offsets;
            n_offsets_ = 0;
        } else {
            unexpected("an array");
        }
        return true;
    }
    bool end_array() override {
        if (at_ == At::Offsets)
            check(n_offsets_ == 2, where("data_offsets"), "expected [begin, end], found ", n_offsets_, " entries");
        at_ = At::Tensor;
        return true;
    }
    bool parse_error(std::size_t, const std::string&, const nlohmann::json::exception& e) override {
        fail(path_, ": header is not valid JSON: ", e.what());
    }

private:
    enum class At { Start, Root, Metadata, Tensor, Shape, Offsets, Done };

    // "path: tensor 'name': field: " as a message part, streamed only if the message is built (check() evaluates
    // its arguments on every call, and the header parse checks every dimension and offset).
    struct Where {
        const std::string& path;
        const std::string& name;
        std::string_view field;
        friend std::ostream& operator<<(std::ostream& os, const Where& w) {
            return os << w.path << ": tensor '" << w.name << "': " << w.field << ": ";
        }
    };
    Where where(std::string_view field) const { return {path_, cur_.name, field}; }

    // A value of the wrong type: say what was expected where.
    [[noreturn]] void scalar(const std::string& found) {
        switch (at_) {
            case At::Start: fail(path_, ": header must be a JSON object, found ", found);
            case At::Root:
                if (key_ == "__metadata__") fail(path_, ": __metadata__: expected an object of strings, found ", found);
                fail(path_, ": tensor '", key_, "': expected an object, found ", found);
            case At::Metadata: fail(path_, ": __metadata__ '", key_, "': expected a string value, found ", found);
            case At::Tensor:
                fail(where(field_), "expected ", field_ == "dtype" ? "a dtype name string" : "an array", ", found ",
                     found);
            case At::Shape: fail(where("shape"), "expected non-negative integers, found ", found);
            case At::Offsets: fail(where("data_offsets"), "expected non-negative integers, found ", found);
            case At::Done: break;
        }
        fail(path_, ": unexpected JSON value ", found);
    }
    [[noreturn]] void unexpected(const char* what) {
        if (at_ == At::Metadata) fail(path_, ": __metadata__ '", key_, "': expected a string value, found ", what);
        scalar(what);
    }

    void finish_tensor() {
        check(cur_.end >= cur_.begin, where("data_offsets"), "end ", cur_.end, " is before begin ", cur_.begin);
        uint64_t numel = 1, nbytes = 0;
        for (int64_t d : cur_.shape)
            check(mul_ok(numel, uint64_t(d), numel) && numel <= uint64_t(INT64_MAX), where("shape"),
                  "element count overflows");
        check(mul_ok(numel, dtype_size(cur_.dtype), nbytes), where("shape"), "byte size (numel ", numel, " x ",
              dtype_size(cur_.dtype), ") overflows");
        check(nbytes == cur_.end - cur_.begin, where("data_offsets"), "size mismatch: ", dtype_name(cur_.dtype),
              " with numel ", numel, " needs ", nbytes, " bytes, found [", cur_.begin, ", ", cur_.end,
              "] = ", cur_.end - cur_.begin, " bytes");
        tensors_.push_back(std::move(cur_));
    }

    const std::string& path_;
    std::vector<TensorInfo>& tensors_;
    std::map<std::string, std::string>& metadata_;
    std::set<std::string> names_;
    At at_ = At::Start;
    std::string key_, field_;
    TensorInfo cur_;
    bool has_dtype_ = false, has_shape_ = false, has_offsets_ = false;
    int n_offsets_ = 0;
};

// F64 -> float rounding "to odd": truncate, then set the last bit if anything was dropped. A
// following float -> bf16/f16 round-to-nearest-even then equals direct rounding of the double
// (no double-rounding error), because float keeps more than 2 extra bits.
inline float f64_to_f32_round_odd(double d) {
    float f = static_cast<float>(d);
    if (std::isnan(d) || double(f) == d) return f;
    if (std::fabs(double(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
    return bits_float(float_bits(f) | 1u);
}

template <class T>
T float_as(float x) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
        return T(x);
    else
        return T::from_float(x);
}
template <class T>
T double_as(double x) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
        return T(x);
    else
        return T::from_float(f64_to_f32_round_odd(x));
}

template <class S>
S load_unaligned(const std::byte* p, size_t i) {
    S s;
    std::memcpy(&s, p + i * sizeof(S), sizeof(S));
    return s;
}

// out[i] = f(i-th S element of p) for the whole of out.
template <class S, class T, class F>
void convert_all(const std::byte* p, std::vector<T>& out, F f) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = f(load_unaligned<S>(p, i));
}

}  // namespace detail

class SafeTensors {
public:
    // Maps the file read-only (falls back to reading it when it cannot be mapped, e.g. a pipe)
    // and validates it. The file must not be truncated while open: atomic writers (rename)
    // are safe, in-place truncation would fault the mapping.
    static SafeTensors open(const std::string& path) {
        SafeTensors st;
        st.path_ = path;
        detail::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd.fd < 0) fail("cannot open '", path, "': ", detail::errno_text(errno));
        struct stat s {};
        if (::fstat(fd.fd, &s) != 0) fail("cannot stat '", path, "': ", detail::errno_text(errno));
        if (S_ISDIR(s.st_mode)) fail("cannot read '", path, "': it is a directory");
        void* p = MAP_FAILED;
        if (S_ISREG(s.st_mode) && s.st_size > 0)
            p = ::mmap(nullptr, size_t(s.st_size), PROT_READ, MAP_PRIVATE, fd.fd, 0);
        if (p != MAP_FAILED) {
            st.map_ = detail::MappedFile(p, size_t(s.st_size));
            st.file_ = st.map_.bytes();
        } else {
            st.owned_ = read_file(path);
            st.file_ = st.owned_;
        }
        st.parse();
        return st;
    }

    static SafeTensors from_bytes(std::vector<std::byte> bytes, std::string name_for_errors) {
        SafeTensors st;
        st.path_ = std::move(name_for_errors);
        st.owned_ = std::move(bytes);
        st.file_ = st.owned_;  // a moved vector keeps its buffer, so this span survives moves of st
        st.parse();
        return st;
    }

    const std::string& path() const { return path_; }
    const std::vector<TensorInfo>& tensors() const { return tensors_; }  // sorted by data offset
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    const TensorInfo* find(std::string_view name) const {
        auto it = index_.find(name);
        return it == index_.end() ? nullptr : &tensors_[it->second];
    }
    const TensorInfo& at(std::string_view name) const {
        const TensorInfo* t = find(name);
        if (!t) fail(path_, ": no tensor named '", name, "'");
        return *t;
    }

    // The tensor's raw little-endian bytes inside the file: NOT aligned to its element type.
    std::span<const std::byte> bytes(const TensorInfo& t) const {
        check(t.begin <= t.end && t.end <= data_.size(), path_, ": tensor '", t.name, "': data_offsets [", t.begin,
              ", ", t.end, "] outside the data buffer (", data_.size(), " bytes)");
        return data_.subspan(t.begin, t.end - t.begin);
    }

    // Copies a tensor out as T, converting: F32/F64/F16/BF16 -> float, double, bf16, f16 (exact
    // widening, correctly rounded narrowing); I64/I32/I16/I8/U64/U32/U16/U8/BOOL -> int64_t,
    // int32_t (range-checked per element; BOOL reads nonzero as 1). Integer <-> float is refused.
    template <class T>
    std::vector<T> read_as(std::string_view name) const {
        constexpr bool is_float =
            std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bf16> || std::is_same_v<T, f16>;
        constexpr bool is_int = std::is_same_v<T, int64_t> || std::is_same_v<T, int32_t>;
        static_assert(is_float || is_int, "read_as<T>: T must be float, double, bf16, f16, int64_t or int32_t");

        const TensorInfo& t = at(name);
        const std::span<const std::byte> src = bytes(t);
        const std::byte* p = src.data();
        const DType d = t.dtype;
        const bool float_src = d == DType::F32 || d == DType::F64 || d == DType::F16 || d == DType::BF16;
        const bool int_src = d == DType::I64 || d == DType::I32 || d == DType::I16 || d == DType::I8 ||
                             d == DType::U64 || d == DType::U32 || d == DType::U16 || d == DType::U8 ||
                             d == DType::BOOL;
        if (is_float ? !float_src : !int_src)
            fail(path_, ": tensor '", t.name, "' has dtype ", dtype_name(d), "; cannot read it as ",
                 dtype_name(dtype_of<T>),
                 is_float ? " (only F32/F64/F16/BF16 convert to floating types)"
                          : " (only integer dtypes convert to integer types)");

        const size_t n = size_t(t.numel());
        std::vector<T> out(n);
        if (d == dtype_of<T>) {
            if (n) std::memcpy(out.data(), p, src.size());
            return out;
        }
        using detail::convert_all, detail::float_as;
        if constexpr (is_float) {
            switch (d) {
                case DType::F32: convert_all<float>(p, out, float_as<T>); break;
                case DType::F64: convert_all<double>(p, out, detail::double_as<T>); break;
                case DType::F16: convert_all<f16>(p, out, [](f16 h) { return float_as<T>(h.to_float()); }); break;
                case DType::BF16: convert_all<bf16>(p, out, [](bf16 h) { return float_as<T>(h.to_float()); }); break;
                default: break;  // refused above
            }
        } else {
            auto convert = [&]<class S>(S) {
                for (size_t i = 0; i < n; ++i) {
                    S v = detail::load_unaligned<S>(p, i);
                    if (!std::in_range<T>(v))
                        fail(path_, ": tensor '", t.name, "' (", dtype_name(d), ") element ", i, " = ", +v,
                             " does not fit in ", dtype_name(dtype_of<T>));
                    out[i] = T(v);
                }
            };
            switch (d) {
                case DType::I64: convert(int64_t{}); break;
                case DType::I32: convert(int32_t{}); break;
                case DType::I16: convert(int16_t{}); break;
                case DType::I8: convert(int8_t{}); break;
                case DType::U64: convert(uint64_t{}); break;
                case DType::U32: convert(uint32_t{}); break;
                case DType::U16: convert(uint16_t{}); break;
                case DType::U8: convert(uint8_t{}); break;
                case DType::BOOL: convert_all<uint8_t>(p, out, [](uint8_t b) { return T(b != 0); }); break;
                default: break;  // refused above
            }
        }
        return out;
    }

private:
    SafeTensors() = default;

    void parse() {
        const uint64_t size = file_.size();
        check(size >= 8, path_, ": file is ", size,
              " bytes, too short for a safetensors file (needs at least the 8-byte header length)");
        uint64_t n = 0;
        std::memcpy(&n, file_.data(), 8);
        check(n <= kSafetensorsMaxHeader, path_, ": header length ", n, " exceeds the limit of ", kSafetensorsMaxHeader,
              " bytes (HeaderTooLarge)");
        check(n <= size - 8, path_, ": header length ", n, " runs past the end of the file (header would end at byte ",
              8 + n, ", file has ", size, " bytes)");
        const char* h = reinterpret_cast<const char*>(file_.data() + 8);
        check(n > 0 && h[0] == '{', path_, ": header must be a JSON object starting with '{', found ", lazy([&] {
                  return n == 0 ? std::string("an empty header") : str("byte 0x", std::hex, int(uint8_t(h[0])));
              }));

        // JSON text never contains a raw NUL, but nlohmann's lexer takes one as end of input and
        // would silently ignore whatever follows it.
        if (const void* nul = std::memchr(h, 0, n))
            fail(path_, ": header is not valid JSON: NUL byte at header offset ", static_cast<const char*>(nul) - h);
        detail::HeaderParser sax(path_, tensors_, metadata_);
        nlohmann::json::sax_parse(h, h + n, &sax);  // strict: only JSON whitespace may follow the object
        data_ = file_.subspan(8 + n);

        // Every tensor must lie inside the buffer, and together they must tile it exactly.
        for (const TensorInfo& t : tensors_)
            check(t.end <= data_.size(), path_, ": tensor '", t.name, "': data_offsets [", t.begin, ", ", t.end,
                  "] out of range: data buffer has ", data_.size(), " bytes");
        std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
            return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
        });
        uint64_t covered = 0;
        for (size_t i = 0; i < tensors_.size(); ++i) {
            const TensorInfo& t = tensors_[i];
            if (t.begin != covered) {
                if (i == 0)
                    fail(path_, ": tensor '", t.name, "': first tensor must begin at offset 0, found ", t.begin);
                const std::string& prev = tensors_[i - 1].name;
                if (t.begin < covered)
                    fail(path_, ": tensor '", t.name, "': data_offsets [", t.begin, ", ", t.end, "] overlap tensor '",
                         prev, "' which ends at ", covered);
                fail(path_, ": tensor '", t.name, "': hole in data buffer: begins at ", t.begin, " but tensor '", prev,
                     "' ends at ", covered);
            }
            covered = t.end;
            index_.emplace(t.name, i);
        }
        // Policy: trailing bytes are rejected, as the reference does (its MetadataIncompleteBuffer).
        check(covered == data_.size(), path_, ": data buffer has ", data_.size(), " bytes but tensors cover ", covered,
              " (trailing bytes are not allowed)");
    }

    std::string path_;
    std::vector<std::byte> owned_;  // from_bytes, or the fallback when mmap is unavailable
    detail::MappedFile map_;
    std::span<const std::byte> file_, data_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t, std::less<>> index_;
    std::map<std::string, std::string> metadata_;
};

struct TensorToWrite {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    std::span<const std::byte> data;
};

// Writes tensors in the given order (header keys and data both), `__metadata__` first and only
// when non-empty, the header padded with spaces to a multiple of 8 bytes. Checks names are unique
// and each span holds numel x dtype_size bytes. The file is replaced atomically.
inline void save_safetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                             const std::map<std::string, std::string>& metadata = {}) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::set<std::string_view> names;
    std::vector<std::span<const std::byte>> parts(2);  // [0] length, [1] header, then data
    uint64_t offset = 0;
    for (const TensorToWrite& t : tensors) {
        check(t.name != "__metadata__", path, ": '__metadata__' is reserved and cannot name a tensor");
        check(names.insert(t.name).second, path, ": duplicate tensor name '", t.name, "'");
        uint64_t numel = 1, nbytes = 0;
        for (int64_t d : t.shape) {
            check(d >= 0, path, ": tensor '", t.name, "': negative dimension ", d, " in shape");
            check(detail::mul_ok(numel, uint64_t(d), numel) && numel <= uint64_t(INT64_MAX), path, ": tensor '", t.name,
                  "': element count overflows");
        }
        check(detail::mul_ok(numel, dtype_size(t.dtype), nbytes), path, ": tensor '", t.name, "': byte size overflows");
        check(t.data.size() == nbytes, path, ": tensor '", t.name, "': ", dtype_name(t.dtype), " with numel ", numel,
              " needs ", nbytes, " bytes, data has ", t.data.size());
        header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + nbytes}}};
        offset += nbytes;
        parts.push_back(t.data);
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::json::exception& e) {  // e.g. a name that is not valid UTF-8
        fail(path, ": cannot encode safetensors header: ", e.what());
    }
    text.append((8 - text.size() % 8) % 8, ' ');  // so the data buffer starts 8-byte aligned
    const uint64_t n = text.size();
    std::byte len[8];
    std::memcpy(len, &n, 8);
    parts[0] = std::span<const std::byte>(len, 8);
    parts[1] = std::as_bytes(std::span<const char>(text.data(), text.size()));
    write_file_atomic(path, parts);
}

}  // namespace temper::io
