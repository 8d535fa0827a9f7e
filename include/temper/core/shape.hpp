// Shapes and strides: row-major, int64 extents, with overflow-checked element counts.
#pragma once

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "temper/core/error.hpp"

namespace temper {

using Shape = std::vector<int64_t>;

inline std::string shape_str(const Shape& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
}

// A shape as a check() message part: streams exactly what shape_str() returns, but only if the check fails.
// It points at the shape, so make it inside the check() call, not ahead of it.
struct ShapeOf {
    const Shape* shape;  // null: print `otherwise` instead
    const char* otherwise = "";
};

inline ShapeOf shape_of(const Shape& s) { return {&s}; }

// shape_of(t, "(undefined)"): a tensor's shape, or the given text when the tensor is undefined.
template <class TensorLike>
ShapeOf shape_of(const TensorLike& t, const char* undefined) {
    return t.defined() ? shape_of(t.shape()) : ShapeOf{nullptr, undefined};
}

inline std::ostream& operator<<(std::ostream& os, const ShapeOf& s) {
    return s.shape ? os << shape_str(*s.shape) : os << s.otherwise;
}

// Element count; throws on negative extents or int64 overflow (shapes can come from files).
inline int64_t shape_numel(const Shape& s) {
    int64_t n = 1;
    for (int64_t d : s) {
        if (d < 0)
            fail("shape ", shape_str(s), " has a negative extent");  // not check(): keep the hot path string-free
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
            fail("shape ", shape_str(s), " has too many elements");
        n *= d;
    }
    return n;
}

inline Shape contiguous_strides(const Shape& s) {
    Shape st(s.size());
    int64_t acc = 1;
    for (size_t i = s.size(); i-- > 0;) {
        st[i] = acc;
        acc *= s[i];
    }
    return st;
}

// Resolves a possibly negative dimension index against a rank.
inline size_t norm_dim(int64_t d, size_t rank) {
    int64_t r = int64_t(rank);
    check(d >= -r && d < r, "dimension ", d, " out of range for a tensor of rank ", rank);
    return size_t(d < 0 ? d + r : d);
}

// NumPy/PyTorch broadcasting of two shapes.
inline Shape broadcast_shapes(const Shape& a, const Shape& b) {
    size_t n = std::max(a.size(), b.size());
    Shape out(n);
    for (size_t i = 0; i < n; ++i) {
        int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
        int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
        check(da == db || da == 1 || db == 1, "shapes ", shape_of(a), " and ", shape_of(b), " do not broadcast");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

}  // namespace temper
