// kernels/elementwise.cuh, every element, float and double: add / sub / mul with NumPy broadcasting on
// each of the three paths (same shape, trailing bias block, general strided: transposed, expanded,
// sliced, rank 8), scale and add_inplace (bit-exact), the sum of all elements, and sum_to_shape (the
// backward of broadcasting) against double-precision references written here (the CPU's versions work on
// Tensor, which this light test does not include; these follow ops/elementwise.hpp's rules).
#include <sstream>
#include <utility>

#include "kernel_check.hpp"
#include "temper/cuda/launchers.hpp"

namespace test_kernel_elementwise {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using test::DeviceBuffer;

namespace {

std::string shape_name(const Shape& a, const Shape& b) {
    std::ostringstream s;
    s << shape_str(a) << " with " << shape_str(b);
    return s.str();
}

// A strided view: shape, strides, and storage large enough for its largest offset.
template <class T>
struct View {
    Shape shape, strides;
    std::vector<T> storage;
};

template <class T>
View<T> make_view(const Shape& shape, const Shape& strides, uint64_t seed) {
    int64_t span = 1;
    for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == 0) span = 0;
        if (span) span += (shape[d] - 1) * strides[d];
    }
    return {shape, strides, test::random_vector<T>(size_t(span), seed, -3.0, 3.0)};
}
template <class T>
View<T> contiguous_view(const Shape& shape, uint64_t seed) {
    return make_view<T>(shape, contiguous_strides(shape), seed);
}

// out[i] = f(a, b) at the broadcast offsets of output element i (row-major), walked with an odometer as
// ops/elementwise.hpp's detail::broadcast_binary does.
template <class T, class F>
std::vector<T> ref_broadcast(const View<T>& a, const View<T>& b, F f) {
    const Shape shape = broadcast_shapes(a.shape, b.shape);
    const size_t rank = shape.size();
    auto seen = [&](const View<T>& v) {
        Shape st(rank, 0);
        const size_t lead = rank - v.shape.size();
        for (size_t i = 0; i < v.shape.size(); ++i) st[lead + i] = v.shape[i] == 1 ? 0 : v.strides[i];
        return st;
    };
    const Shape sa = seen(a), sb = seen(b);
    std::vector<T> out(size_t(shape_numel(shape)));
    std::vector<int64_t> idx(rank, 0);
    for (size_t i = 0; i < out.size(); ++i) {
        int64_t oa = 0, ob = 0;
        for (size_t d = 0; d < rank; ++d) {
            oa += idx[d] * sa[d];
            ob += idx[d] * sb[d];
        }
        out[i] = f(a.storage[size_t(oa)], b.storage[size_t(ob)]);
        for (size_t d = rank; d-- > 0;) {
            if (++idx[d] < shape[d]) break;
            idx[d] = 0;
        }
    }
    return out;
}

template <class T>
void check_binary(const View<T>& a, const View<T>& b) {
    const Shape shape = broadcast_shapes(a.shape, b.shape);
    const size_t n = size_t(shape_numel(shape));
    const std::string name = shape_name(a.shape, b.shape);
    DeviceBuffer<T> da(a.storage), db(b.storage), dout(n);
    const Device s = test::gpu();

    cuda::add(da.get(), a.shape, a.strides, db.get(), b.shape, b.strides, dout.get(), s);
    test::check_close(dout.download(), ref_broadcast(a, b, [](T x, T y) { return x + y; }), "add " + name, 0.0);
    cuda::sub(da.get(), a.shape, a.strides, db.get(), b.shape, b.strides, dout.get(), s);
    test::check_close(dout.download(), ref_broadcast(a, b, [](T x, T y) { return x - y; }), "sub " + name, 0.0);
    cuda::mul(da.get(), a.shape, a.strides, db.get(), b.shape, b.strides, dout.get(), s);
    test::check_close(dout.download(), ref_broadcast(a, b, [](T x, T y) { return x * y; }), "mul " + name, 0.0);
}

// The backward of broadcasting, as ops/elementwise.hpp's sum_to: out[offset seen from g] += g[i], in double.
template <class T>
std::vector<T> ref_sum_to(const std::vector<T>& g, const Shape& g_shape, const Shape& out_shape) {
    const size_t rank = g_shape.size(), lead = rank - out_shape.size();
    const Shape ost = contiguous_strides(out_shape);
    Shape st(rank, 0);
    for (size_t d = 0; d < out_shape.size(); ++d) st[lead + d] = out_shape[d] == 1 ? 0 : ost[d];
    std::vector<double> acc(size_t(shape_numel(out_shape)), 0.0);
    std::vector<int64_t> idx(rank, 0);
    for (size_t i = 0; i < g.size(); ++i) {
        int64_t off = 0;
        for (size_t d = 0; d < rank; ++d) off += idx[d] * st[d];
        acc[size_t(off)] += double(g[i]);
        for (size_t d = rank; d-- > 0;) {
            if (++idx[d] < g_shape[d]) break;
            idx[d] = 0;
        }
    }
    return std::vector<T>(acc.begin(), acc.end());
}

template <class T>
void check_sum_to(const Shape& g_shape, const Shape& out_shape, uint64_t seed) {
    const std::vector<T> g = test::random_vector<T>(size_t(shape_numel(g_shape)), seed);
    const std::vector<T> ref = ref_sum_to(g, g_shape, out_shape);
    DeviceBuffer<T> dg(g), dout(std::vector<T>(ref.size(), T(1e30)));  // garbage: must be overwritten
    cuda::sum_to_shape(dg.get(), g_shape, dout.get(), out_shape, test::gpu());
    test::check_close(dout.download(), ref, "sum_to_shape " + shape_name(g_shape, out_shape));
}

}  // namespace

TEST_CASE_TEMPLATE("add / sub / mul: same shape and trailing-block (bias) fast paths", T, float, double) {
    check_binary(contiguous_view<T>({7, 13}, 1), contiguous_view<T>({7, 13}, 2));
    check_binary(contiguous_view<T>({1000, 1001}, 3), contiguous_view<T>({1000, 1001}, 4));
    check_binary(contiguous_view<T>({5, 9, 33}, 5), contiguous_view<T>({33}, 6));
    check_binary(contiguous_view<T>({5, 9, 33}, 7), contiguous_view<T>({9, 33}, 8));
    check_binary(contiguous_view<T>({4096, 768}, 9), contiguous_view<T>({768}, 10));
    check_binary(contiguous_view<T>({70000, 3}, 11), contiguous_view<T>({3}, 12));
    check_binary(contiguous_view<T>({4, 5}, 13), contiguous_view<T>({}, 14));  // a 0-d scalar
    check_binary(contiguous_view<T>({}, 15), contiguous_view<T>({}, 16));
}

TEST_CASE_TEMPLATE("add / sub / mul: general broadcasting of strided views", T, float, double) {
    check_binary(contiguous_view<T>({4, 1, 6}, 20), contiguous_view<T>({3, 1}, 21));
    check_binary(contiguous_view<T>({6}, 22), contiguous_view<T>({5, 1}, 23));       // a broadcast
    check_binary(contiguous_view<T>({1, 33}, 24), contiguous_view<T>({5, 33}, 25));  // a is the bias
    check_binary(make_view<T>({6, 7}, {1, 6}, 26), contiguous_view<T>({7}, 27));     // a transposed
    check_binary(make_view<T>({3, 4}, {0, 1}, 28), contiguous_view<T>({3, 4}, 29));  // a expanded
    check_binary(contiguous_view<T>({5, 8}, 30), make_view<T>({8}, {2}, 31));        // b sliced
    check_binary(contiguous_view<T>({2, 1, 2, 1, 2, 1, 2, 3}, 32), contiguous_view<T>({1, 3, 1, 2, 1, 2, 1, 3}, 33));
    check_binary(make_view<T>({65, 130, 3}, {1, 195, 65}, 34), contiguous_view<T>({130, 1}, 35));
}

TEST_CASE("add: empty outputs launch nothing; rank above 8 on the general path is an error") {
    cuda::add<float>(nullptr, {0, 3}, {3, 1}, nullptr, {3}, {1}, nullptr, test::gpu());
    const Shape a9 = {2, 1, 1, 1, 1, 1, 1, 1, 2};
    DeviceBuffer<float> a(4), b(3), out(12);
    CHECK_THROWS_AS(
        cuda::add<float>(a.get(), a9, contiguous_strides(a9), b.get(), {3, 1}, {1, 1}, out.get(), test::gpu()), Error);
    CHECK_THROWS_AS(cuda::add<float>(a.get(), {2, 2}, {2, 1}, b.get(), {3}, {1}, out.get(), test::gpu()), Error);
    test::gpu_sync();
}

TEST_CASE_TEMPLATE("scale and add_inplace are bit-exact", T, float, double) {
    for (int64_t n : {1, 1000, 1000003}) {
        CAPTURE(n);
        std::vector<T> x = test::random_vector<T>(size_t(n), 40), acc = test::random_vector<T>(size_t(n), 41);
        std::vector<T> scaled(x.size()), summed(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
            scaled[i] = x[i] * T(-0.37);
            summed[i] = acc[i] + x[i];
        }
        DeviceBuffer<T> dx(x), dy(static_cast<size_t>(n)), dacc(acc);
        cuda::scale(dx.get(), dy.get(), T(-0.37), n, test::gpu());
        test::check_close(dy.download(), scaled, "scale", 0.0);
        cuda::add_inplace(dacc.get(), dx.get(), n, test::gpu());
        test::check_close(dacc.download(), summed, "add_inplace", 0.0);
        cuda::scale(dx.get(), dx.get(), T(-0.37), n, test::gpu());  // in place
        test::check_close(dx.download(), scaled, "scale in place", 0.0);
    }
}

TEST_CASE_TEMPLATE("sum of all elements", T, float, double) {
    uint64_t seed = 50;
    for (int64_t n : {0, 1, 255, 2049, 1000003, (1 << 22) + 5}) {
        CAPTURE(n);
        const std::vector<T> x = test::random_vector<T>(size_t(n), seed++, -1.0, 3.0);
        double ref = 0;
        for (T v : x) ref += double(v);
        DeviceBuffer<T> dx(x), dout(std::vector<T>{T(1e30)});
        cuda::sum(dx.get(), n, dout.get(), test::gpu());
        std::string name = "sum n=";
        name += std::to_string(n);
        test::check_close(dout.download(), std::vector<T>{T(ref)}, name);
        // The same input gives the same bits (fixed reduction order).
        const T first = dout.download()[0];
        cuda::sum(dx.get(), n, dout.get(), test::gpu());
        CHECK(dout.download()[0] == first);
    }
}

TEST_CASE_TEMPLATE("sum_to_shape: the backward of broadcasting", T, float, double) {
    const std::vector<std::pair<Shape, Shape>> cases = {{{5, 7}, {7}},
                                                        {{5, 7}, {1, 7}},
                                                        {{5, 7}, {5, 1}},
                                                        {{5, 7}, {}},
                                                        {{5, 7}, {1, 1}},
                                                        {{5, 7}, {5, 7}},
                                                        {{1, 1, 7}, {7}},
                                                        {{2, 1, 3}, {1, 1, 3}},
                                                        {{4, 3, 6}, {4, 1, 6}},
                                                        {{4, 3, 6}, {3, 1}},
                                                        {{4, 3, 6}, {1, 3, 1}},
                                                        {{4, 3, 6}, {6}},
                                                        {{4, 3, 6}, {4, 1, 1}},
                                                        {{4, 3, 6}, {3, 6}},
                                                        {{2, 3, 4, 5}, {3, 1, 5}},
                                                        {{2, 3, 4, 5}, {2, 1, 4, 1}},
                                                        {{4096, 768}, {768}},
                                                        {{32, 128, 768}, {768}},
                                                        {{3, 100003}, {3, 1}},
                                                        {{1000003}, {1}},
                                                        {{33, 2, 65}, {33, 1, 65}},
                                                        {{0, 5}, {5}},
                                                        {{5, 0}, {5, 1}},
                                                        {{0, 5}, {0, 5}}};
    uint64_t seed = 60;
    for (const auto& [g_shape, out_shape] : cases) {
        CAPTURE(shape_str(g_shape));
        CAPTURE(shape_str(out_shape));
        check_sum_to<T>(g_shape, out_shape, seed++);
    }
}

TEST_CASE("sum_to_shape rejects shapes that do not broadcast") {
    DeviceBuffer<float> g(6), out(6);
    CHECK_THROWS_AS(cuda::sum_to_shape<float>(g.get(), {2, 3}, out.get(), {2}, test::gpu()), Error);
    CHECK_THROWS_AS(cuda::sum_to_shape<float>(g.get(), {6}, out.get(), {1, 6}, test::gpu()), Error);
    test::gpu_sync();
}

}  // namespace test_kernel_elementwise
