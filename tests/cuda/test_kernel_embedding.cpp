// kernels/embedding.cuh against ops/embedding.hpp: the gather and the deterministic scatter-add, bit for bit
// in float and double, for tables from 1 x 1 to wider than the shared-memory accumulator (column slices) and
// up to 100k rows (64 rows per block), ids with heavy repetition, with and without padding_idx; ids outside
// [0, V) are skipped without touching memory; the backward accumulates into an existing gradient.
#include <algorithm>
#include <cstring>
#include <random>

#include "kernel_check.hpp"
#include "temper/cuda/launchers.hpp"
#include "temper/autograd/engine.hpp"
#include "temper/ops/embedding.hpp"

namespace test_kernel_embedding {  // this file's names apart from the others' (unity build, tests/cuda/CMakeLists.txt)

using namespace temper;
using test::DeviceBuffer;

namespace {

template <class T>
bool bit_identical(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// n ids in [0, V): a third from 5 "frequent" ids (many repeats of one row), the rest uniform.
std::vector<int64_t> random_ids(int64_t n, int64_t V, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int64_t> hot;
    for (int k = 0; k < 5; ++k) hot.push_back(int64_t(rng() % uint64_t(V)));
    std::vector<int64_t> ids(static_cast<size_t>(n));
    for (int64_t& id : ids) id = rng() % 3 == 0 ? hot[rng() % 5] : int64_t(rng() % uint64_t(V));
    return ids;
}

struct Shape3 {
    int64_t V, D, n_ids;
};

// CPU reference (the op and its backward) and the two kernels, compared bit for bit.
template <class T>
void check_embedding(Shape3 s, int64_t padding_idx, uint64_t seed) {
    const std::vector<T> w = test::random_vector<T>(size_t(s.V * s.D), seed);
    std::vector<int64_t> ids = random_ids(s.n_ids, s.V, seed + 1);
    if (padding_idx >= 0)
        for (size_t i = 0; i < ids.size(); i += 7) ids[i] = padding_idx;  // padding positions, as in a batch
    const std::vector<T> dout = test::random_vector<T>(size_t(s.n_ids * s.D), seed + 2);

    Tensor<T> wc = Tensor<T>::from_vector(w, {s.V, s.D}).set_requires_grad(true);
    Tensor<T> yc = embedding(wc, Tensor<int64_t>::from_vector(ids, {s.n_ids}), padding_idx);
    yc.backward(Tensor<T>::from_vector(dout, {s.n_ids, s.D}));

    DeviceBuffer<T> dw(w), dy(size_t(s.n_ids * s.D)), ddout(dout), dgrad(std::vector<T>(size_t(s.V * s.D), T(0)));
    DeviceBuffer<int64_t> dids(ids);
    cuda::embedding_forward(dw.get(), dids.get(), dy.get(), s.n_ids, s.V, s.D, test::gpu());
    cuda::embedding_backward(ddout.get(), dids.get(), dgrad.get(), s.n_ids, s.V, s.D, padding_idx, test::gpu());
    const bool fwd = bit_identical(dy.download(), yc.to_vector());
    const bool bwd = bit_identical(dgrad.download(), wc.grad().to_vector());
    MESSAGE("embedding V ", s.V, " D ", s.D, " ids ", s.n_ids, " padding_idx ", padding_idx, ": forward ",
            fwd ? "bit-identical" : "DIFFERENT", ", backward ", bwd ? "bit-identical" : "DIFFERENT");
    CHECK(fwd);
    CHECK(bwd);
}

}  // namespace

TEST_CASE_TEMPLATE("embedding forward and backward are bit-identical to the CPU op", T, float, double) {
    const Shape3 shapes[] = {
        {1, 1, 1},           // smallest
        {7, 5, 13},          // odd, every row hit several times
        {3000, 768, 4096},   // DistilBERT width, several rows per block
        {512, 768, 4096},    // position embeddings: one row per block, 8 hits each
        {100000, 64, 4096},  // 64 rows per block (every bit of the touched mask)
        {5, 12000, 50},      // rows wider than the accumulator: several column slices
        {9, 3, 1000},        // far more ids than rows: many 256-id tiles, long per-row sums
    };
    uint64_t seed = 1;
    for (const Shape3& s : shapes) {
        check_embedding<T>(s, -1, seed++);
        check_embedding<T>(s, 0, seed++);
        if (s.V > 3) check_embedding<T>(s, s.V - 2, seed++);
    }
}

TEST_CASE_TEMPLATE("embedding kernels skip ids outside [0, V)", T, float, double) {
    const int64_t V = 11, D = 33, n = 300;
    const std::vector<T> w = test::random_vector<T>(size_t(V * D), 1);
    std::vector<int64_t> ids = random_ids(n, V, 2);
    const int64_t bad[] = {-1, -3, V, V + 10, int64_t(1) << 40};
    for (size_t i = 0; i < ids.size(); i += 13) ids[i] = bad[(i / 13) % 5];
    const std::vector<T> dout = test::random_vector<T>(size_t(n * D), 3);

    // Reference: the bad ids' rows are 0 in the output and contribute nothing to the gradient, i.e. the
    // CPU op with those ids replaced by 0 and their dout rows (and output rows) zeroed.
    std::vector<int64_t> ids_ok = ids;
    std::vector<T> dout_ok = dout;
    std::vector<bool> is_bad(size_t(n), false);
    for (int64_t t = 0; t < n; ++t)
        if (ids[size_t(t)] < 0 || ids[size_t(t)] >= V) {
            is_bad[size_t(t)] = true;
            ids_ok[size_t(t)] = 0;
            std::fill_n(dout_ok.begin() + t * D, D, T(0));
        }
    Tensor<T> wc = Tensor<T>::from_vector(w, {V, D}).set_requires_grad(true);
    Tensor<T> yc = embedding(wc, Tensor<int64_t>::from_vector(ids_ok, {n}));
    yc.backward(Tensor<T>::from_vector(dout_ok, {n, D}));
    std::vector<T> y_ref = yc.to_vector();
    for (int64_t t = 0; t < n; ++t)
        if (is_bad[size_t(t)]) std::fill_n(y_ref.begin() + t * D, D, T(0));

    DeviceBuffer<T> dw(w), dy(size_t(n * D)), ddout(dout), dgrad(std::vector<T>(size_t(V * D), T(0)));
    DeviceBuffer<int64_t> dids(ids);
    cuda::embedding_forward(dw.get(), dids.get(), dy.get(), n, V, D, test::gpu());
    cuda::embedding_backward(ddout.get(), dids.get(), dgrad.get(), n, V, D, -1, test::gpu());
    CHECK(bit_identical(dy.download(), y_ref));
    CHECK(bit_identical(dgrad.download(), wc.grad().to_vector()));
}

TEST_CASE_TEMPLATE("embedding_backward accumulates into an existing gradient", T, float, double) {
    const int64_t V = 300, D = 40, n = 2000;
    const std::vector<T> w = test::random_vector<T>(size_t(V * D), 1);
    const std::vector<int64_t> ids = random_ids(n, V, 2);
    const std::vector<T> dout = test::random_vector<T>(size_t(n * D), 3);
    const std::vector<T> old = test::random_vector<T>(size_t(V * D), 4);
    Tensor<T> wc = Tensor<T>::from_vector(w, {V, D}).set_requires_grad(true);
    embedding(wc, Tensor<int64_t>::from_vector(ids, {n})).backward(Tensor<T>::from_vector(dout, {n, D}));
    std::vector<T> ref = wc.grad().to_vector();
    for (size_t i = 0; i < ref.size(); ++i) ref[i] += old[i];

    DeviceBuffer<T> ddout(dout), dgrad(old);
    DeviceBuffer<int64_t> dids(ids);
    cuda::embedding_backward(ddout.get(), dids.get(), dgrad.get(), n, V, D, -1, test::gpu());
    // old + (the sum in token order) is one rounding either way: bit-identical too.
    CHECK(bit_identical(dgrad.download(), ref));
}

}  // namespace test_kernel_embedding
