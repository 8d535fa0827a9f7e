// The launchers of temper's CUDA kernels, declared in plain C++: any translation unit may call them, compiled
// by g++ or clang++. They are defined in include/temper/cuda/launchers/*.cuh and compiled once, into the
// temper::cuda library (launchers/all.cu instantiates them: float, double and bf16; the loss and optimiser
// launchers float and double; memory movement also int64_t). Each takes raw pointers on the GPU and the
// Device to run on: the launcher makes that device current and queues its kernels on temper's stream there
// (cuda::stream), so it returns before they have run. In a build without the CUDA backend each raises the
// "no CUDA backend" error instead.
#pragma once

#include <cstdint>

#include "temper/core/device.hpp"
#include "temper/core/dtype.hpp"
#include "temper/core/error.hpp"
#include "temper/core/shape.hpp"
#include "temper/cpu/adamw.hpp"

namespace temper::cuda {

[[noreturn]] inline void no_backend() {
    fail(
        "this build of temper has no CUDA backend: build with the CMake option TEMPER_WITH_CUDA and link "
        "temper::cuda");
}

// One parameter for adamw_update_multi: device pointers to param, grad, exp_avg, exp_avg_sq (n elements
// each) and this parameter's scalars for this step (cpu::adamw_scalars). With sd set the kernel reads the
// scalars from device memory instead, so a CUDA graph replays the step with the scalars of each new step
// (train::TrainStep with cuda_graph, through optim::detail::AdamWGraphHooks).
template <class T>
struct AdamWParam {
    T* p;
    const T* g;
    T* m;
    T* v;
    int64_t n;
    cpu::AdamWScalars<T> s;
    const cpu::AdamWScalars<T>* sd = nullptr;
};

constexpr int kAdamWTensorsPerLaunch = 28;
constexpr int kClipTensorsPerLaunch = 128;

}  // namespace temper::cuda

// With the backend a declaration; without it, a body that raises the error (parameters unused).
// (clang-format 14 would read TEMPER_CUDA_LAUNCHER as the start of a statement and indent every
// declaration after it.)
// clang-format off
#if defined(TEMPER_WITH_CUDA)
#define TEMPER_CUDA_LAUNCHER ;
#else
#define TEMPER_CUDA_LAUNCHER { ::temper::cuda::no_backend(); }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#endif

namespace temper::cuda {

// ---- memory (launchers/memory.cuh) ----------------------------------------------------------------------

// out[i] = value for i < n.
template <class T>
void fill(T* out, T value, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER

// out[i] = i for i < n.
template <class T>
void iota(T* out, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER

// out[i] = in[i] as To for n contiguous elements (the cast op, mixed precision's weight and gradient copies).
template <class To, class From>
void convert(const From* in, To* out, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER

// Writes the elements of the view (in, shape, strides) to out in row-major order.
template <class T>
void copy_strided(const T* in, const Shape& shape, const Shape& strides, T* out, Device dev) TEMPER_CUDA_LAUNCHER

// Writes contiguous in (row-major) into the strided view (out, shape, strides); the view must not overlap itself.
template <class T>
void copy_into_strided(const T* in, T* out, const Shape& shape, const Shape& strides, Device dev) TEMPER_CUDA_LAUNCHER

// ---- elementwise arithmetic and reductions (launchers/elementwise.cuh) ------------------------------------

// out = a op b with NumPy broadcasting: out is contiguous with shape broadcast_shapes(a_shape, b_shape); a and
// b are strided views (any strides, 0 allowed). As ops/elementwise.hpp's add / sub / mul.
template <class T>
void add(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
         const Shape& b_strides, T* out, Device dev) TEMPER_CUDA_LAUNCHER
template <class T>
void sub(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
         const Shape& b_strides, T* out, Device dev) TEMPER_CUDA_LAUNCHER
template <class T>
void mul(const T* a, const Shape& a_shape, const Shape& a_strides, const T* b, const Shape& b_shape,
         const Shape& b_strides, T* out, Device dev) TEMPER_CUDA_LAUNCHER

// y = x * s over n contiguous elements (y may be x).
template <class T>
void scale(const T* x, T* y, T s, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER

// acc += x over n contiguous elements; as cpu::add_inplace.
template <class T>
void add_inplace(T* acc, const T* x, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER

// out[0] = sum of x[0..n), 0 when n == 0; out is one element. Deterministic: up to 1024 block sums in a fixed
// order, then one block adds them.
template <class T>
void sum(const T* x, int64_t n, T* out, Device dev) TEMPER_CUDA_LAUNCHER

// The backward of broadcasting: out (contiguous, shape out_shape) = g (contiguous, shape g_shape) summed over
// the dimensions that out_shape broadcasts (extent 1, or missing on the left). Overwrites out, as
// ops/elementwise.hpp's sum_to returns a fresh tensor. Deterministic.
template <class T>
void sum_to_shape(const T* g, const Shape& g_shape, T* out, const Shape& out_shape, Device dev) TEMPER_CUDA_LAUNCHER

// ---- activations (launchers/activation.cuh) ---------------------------------------------------------------

// Arguments as cpu::gelu_forward / gelu_backward / relu_forward / relu_backward / tanh_forward / tanh_backward
// (n elements, contiguous; y may be x, dx may be dy).
template <class T>
void gelu_forward(const T* x, T* y, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER
template <class T>
void gelu_backward(const T* x, const T* dy, T* dx, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER
template <class T>
void relu_forward(const T* x, T* y, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER
template <class T>
void relu_backward(const T* x, const T* dy, T* dx, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER
template <class T>
void tanh_forward(const T* x, T* y, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER
template <class T>
void tanh_backward(const T* x, const T* dy, T* dx, int64_t n, Device dev) TEMPER_CUDA_LAUNCHER

// x: [rows, cols], bias: [cols]. pre = x + bias (kept for the backward; nullptr to skip), y = gelu(pre).
template <class T>
void bias_gelu_forward(const T* x, const T* bias, T* pre, T* y, int64_t rows, int64_t cols,
                       Device dev) TEMPER_CUDA_LAUNCHER

// dx = dy * gelu'(pre); dbias = column sums of dx, overwritten (zeros when rows == 0). dx may alias dy.
template <class T>
void bias_gelu_backward(const T* pre, const T* dy, T* dx, T* dbias, int64_t rows, int64_t cols,
                        Device dev) TEMPER_CUDA_LAUNCHER

// ---- masked softmax (launchers/softmax.cuh) ---------------------------------------------------------------

// y = softmax(scale * x) per row of a [rows, cols] buffer; mask: [rows / rows_per_batch, cols] with
// 0 = masked key, or nullptr. Arguments as cpu::masked_softmax_forward; x and y may alias.
template <class T>
void masked_softmax_forward(const T* x, T* y, const int64_t* mask, int64_t rows, int64_t cols,
                            int64_t rows_per_batch, T scale, Device dev) TEMPER_CUDA_LAUNCHER

// dx = scale * y * (dy - sum_j dy * y) per row, 0 at masked keys. Arguments as cpu::masked_softmax_backward.
template <class T>
void masked_softmax_backward(const T* y, const T* dy, T* dx, const int64_t* mask, int64_t rows, int64_t cols,
                             int64_t rows_per_batch, T scale, Device dev) TEMPER_CUDA_LAUNCHER

// ---- LayerNorm (launchers/layernorm.cuh) ------------------------------------------------------------------

// y = (x - mean) / sqrt(var + eps) * gamma + beta per row of [rows, d]; saves mean and 1/std per row (either
// may be nullptr when no backward follows). Arguments as cpu::layernorm_forward.
template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, compute_t<T>* mean, compute_t<T>* rstd,
                       int64_t rows, int64_t d, double eps, Device dev) TEMPER_CUDA_LAUNCHER

// x = a + b (written to sum_out: the residual stream, and the x that layernorm_backward needs), then
// y = LayerNorm(x) as layernorm_forward. sum_out may alias a or b.
template <class T>
void layernorm_residual_forward(const T* a, const T* b, const T* gamma, const T* beta, T* sum_out, T* y,
                                compute_t<T>* mean, compute_t<T>* rstd, int64_t rows, int64_t d, double eps,
                                Device dev) TEMPER_CUDA_LAUNCHER

// dx per row; dgamma and dbeta are overwritten with the column sums (as the CPU does), zeros when rows == 0.
// Arguments as cpu::layernorm_backward.
template <class T>
void layernorm_backward(const T* x, const T* gamma, const compute_t<T>* mean, const compute_t<T>* rstd, const T* dy,
                        T* dx, T* dgamma, T* dbeta, int64_t rows, int64_t d, Device dev) TEMPER_CUDA_LAUNCHER

// ---- dropout (launchers/dropout.cuh) ----------------------------------------------------------------------

// y[i] = x[i] / (1 - p) where philox_uniform(seed, offset, i) >= p, else 0, for i < n (x and y may be the same
// buffer); p in [0, 1). Arguments as cpu::dropout_apply; the backward is the same call on the gradient.
// base: see PhiloxPosition (the kernel then reads the seed and the offset base from device memory).
template <class T>
void dropout_apply(const T* x, T* y, int64_t n, double p, uint64_t seed, uint64_t offset, Device dev,
                   const uint64_t* base = nullptr) TEMPER_CUDA_LAUNCHER

// ---- embedding (launchers/embedding.cuh) ------------------------------------------------------------------

// out[t, :] = weight[ids[t], :] for t < n_ids; weight [V, D], out [n_ids, D], ids int64. An id outside [0, V)
// gives a zero row (the op rejects such ids on the host first).
template <class T>
void embedding_forward(const T* weight, const int64_t* ids, T* out, int64_t n_ids, int64_t V, int64_t D,
                       Device dev) TEMPER_CUDA_LAUNCHER

// dweight[ids[t], :] += dout[t, :] for every t < n_ids with ids[t] != padding_idx (-1: none) and ids[t] in
// [0, V) (others are skipped). Accumulates into dweight: zero it first for the gradient alone, which then
// equals cpu::embedding_backward's bit for bit. Deterministic.
template <class T>
void embedding_backward(const T* dout, const int64_t* ids, T* dweight, int64_t n_ids, int64_t V, int64_t D,
                        int64_t padding_idx, Device dev) TEMPER_CUDA_LAUNCHER

// ---- losses (launchers/loss.cuh; float and double: the logits of a bf16 model are cast to float) ----------

// *loss = mean over the n elements of x (logits) and y (targets) of the BCE-with-logits term; pos_weight [c]
// (nullable) weights the positive term of label i % c, n a multiple of c. loss is a device scalar. n > 0.
// In the three BCE launchers dx must not alias x or y.
template <class T>
void bce_with_logits_forward(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, T* loss,
                             Device dev) TEMPER_CUDA_LAUNCHER

// dx = d loss / dx times the upstream gradient *dloss (a device scalar; nullptr means 1):
// (sigma(x) - y) / n, or ((1 - y) + (1 + (p - 1) y)(sigma(x) - 1)) / n with pos_weight.
template <class T>
void bce_with_logits_backward(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, const T* dloss,
                              T* dx, Device dev) TEMPER_CUDA_LAUNCHER

// Loss and gradient (for an upstream gradient of 1) in one pass over x and y.
template <class T>
void bce_with_logits_fused(const T* x, const T* y, const T* pos_weight, int64_t n, int64_t c, T* loss, T* dx,
                           Device dev) TEMPER_CUDA_LAUNCHER

// *loss = mean over rows b with labels[b] != ignore_index of lse(logits[b]) - logits[b, labels[b]]; logits
// [B, C], labels [B] int64. Labels outside [0, C) count as ignored (the op validates them first); with no
// valid row the loss is NaN (0 / 0, as torch).
template <class T>
void cross_entropy_forward(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                           T* loss, Device dev) TEMPER_CUDA_LAUNCHER

// dlogits = (softmax(logits) - onehot(label)) * *dloss / count for valid rows, 0 for ignored rows; dloss is a
// device scalar (nullptr means 1).
template <class T>
void cross_entropy_backward(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                            const T* dloss, T* dlogits, Device dev) TEMPER_CUDA_LAUNCHER

// Loss and gradient (upstream gradient 1) together.
template <class T>
void cross_entropy_fused(const T* logits, const int64_t* labels, int64_t B, int64_t C, int64_t ignore_index,
                         T* loss, T* dlogits, Device dev) TEMPER_CUDA_LAUNCHER

// ---- fused attention, head dim 64 (launchers/attention.cuh) -----------------------------------------------

// For contiguous q, k, v, out [B, H, S, D] with D = 64 (anything else throws). key_mask: [B, S] int64,
// 0 = padding, or nullptr. out = dropout(softmax(mask(scale·q·kᵀ)))·v, dropout with the Philox elements
// ((b·H + h)·S + i)·S + j of (seed, offset), as the unfused path (philox_base: see PhiloxPosition). lse:
// [B, H, S] of compute_t<T>, the logsumexp of each row's scores for the backward (log S for the rows of a fully
// masked batch item).
template <class T>
void attention_forward(const T* q, const T* k, const T* v, const int64_t* key_mask, int64_t B, int64_t H, int64_t S,
                       int64_t D, T scale, double dropout_p, uint64_t seed, uint64_t offset, T* out,
                       compute_t<T>* lse, Device dev, const uint64_t* philox_base = nullptr) TEMPER_CUDA_LAUNCHER

// Its backward: dq, dk, dv [B, H, S, D] (written, not accumulated) from dout, the forward's out and lse, and the
// forward's very arguments. Deterministic (no atomics).
template <class T>
void attention_backward(const T* q, const T* k, const T* v, const int64_t* key_mask, int64_t B, int64_t H,
                        int64_t S, int64_t D, T scale, double dropout_p, uint64_t seed, uint64_t offset, const T* out,
                        const compute_t<T>* lse, const T* dout, T* dq, T* dk, T* dv, Device dev,
                        const uint64_t* philox_base = nullptr) TEMPER_CUDA_LAUNCHER

// ---- optimiser (launchers/adamw.cuh; float and double) ----------------------------------------------------

// One AdamW step for count parameters (a host array), in ceil(count / kAdamWTensorsPerLaunch) launches.
// Element for element bit-identical to cpu::adamw_update.
template <class T>
void adamw_update_multi(const AdamWParam<T>* params, size_t count, Device dev) TEMPER_CUDA_LAUNCHER

// One AdamW step over n contiguous elements; arguments as cpu::adamw_update.
template <class T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, const cpu::AdamWScalars<T>& sc,
                  Device dev) TEMPER_CUDA_LAUNCHER

// Global-norm clipping of count gradients (grads[j]: device pointer to n[j] elements; both arrays on the
// host), as optim::clip_grad_norm: total = ||(||g_1||, ..., ||g_k||)||_2 with each norm rounded to T,
// coef = (1 / (total + 1e-6)) * max_norm in T, every gradient multiplied by coef when coef < 1 (or NaN).
// *total_norm (device memory) receives double(total), 0 when count == 0; nothing waits for the GPU.
template <class T>
void clip_grad_norm(T* const* grads, const int64_t* n, size_t count, double max_norm, double* total_norm,
                    Device dev) TEMPER_CUDA_LAUNCHER

}  // namespace temper::cuda

#if !defined(TEMPER_WITH_CUDA)
#pragma GCC diagnostic pop
#endif
// clang-format on
#undef TEMPER_CUDA_LAUNCHER
