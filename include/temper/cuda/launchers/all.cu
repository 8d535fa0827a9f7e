// The one translation unit of temper::cuda: every launcher, defined (launchers/*.cuh) and instantiated for
// the element types temper's tensors use on a GPU. It is compiled once, by nvcc (or as C++ against the CUDA
// simulator); every other translation unit, plain C++ included, sees only the declarations of
// cuda/launchers.hpp. A launcher called for a type not listed here fails to link.
#include "temper/cuda/launchers/activation.cuh"
#include "temper/cuda/launchers/adamw.cuh"
#include "temper/cuda/launchers/attention.cuh"
#include "temper/cuda/launchers/dropout.cuh"
#include "temper/cuda/launchers/elementwise.cuh"
#include "temper/cuda/launchers/embedding.cuh"
#include "temper/cuda/launchers/layernorm.cuh"
#include "temper/cuda/launchers/loss.cuh"
#include "temper/cuda/launchers/memory.cuh"
#include "temper/cuda/launchers/softmax.cuh"

namespace temper::cuda {

// Memory movement: every tensor type.
#define TEMPER_MEMORY(T)                                                             \
    template void fill<T>(T*, T, int64_t, Device);                                   \
    template void iota<T>(T*, int64_t, Device);                                      \
    template void copy_strided<T>(const T*, const Shape&, const Shape&, T*, Device); \
    template void copy_into_strided<T>(const T*, T*, const Shape&, const Shape&, Device);

// The ops: the floating-point types (bf16 computes in float).
#define TEMPER_OPS(T)                                                                                               \
    template void add<T>(const T*, const Shape&, const Shape&, const T*, const Shape&, const Shape&, T*, Device);   \
    template void sub<T>(const T*, const Shape&, const Shape&, const T*, const Shape&, const Shape&, T*, Device);   \
    template void mul<T>(const T*, const Shape&, const Shape&, const T*, const Shape&, const Shape&, T*, Device);   \
    template void scale<T>(const T*, T*, T, int64_t, Device);                                                       \
    template void add_inplace<T>(T*, const T*, int64_t, Device);                                                    \
    template void sum<T>(const T*, int64_t, T*, Device);                                                            \
    template void sum_to_shape<T>(const T*, const Shape&, T*, const Shape&, Device);                                \
    template void gelu_forward<T>(const T*, T*, int64_t, Device);                                                   \
    template void gelu_backward<T>(const T*, const T*, T*, int64_t, Device);                                        \
    template void relu_forward<T>(const T*, T*, int64_t, Device);                                                   \
    template void relu_backward<T>(const T*, const T*, T*, int64_t, Device);                                        \
    template void tanh_forward<T>(const T*, T*, int64_t, Device);                                                   \
    template void tanh_backward<T>(const T*, const T*, T*, int64_t, Device);                                        \
    template void bias_gelu_forward<T>(const T*, const T*, T*, T*, int64_t, int64_t, Device);                       \
    template void bias_gelu_backward<T>(const T*, const T*, T*, T*, int64_t, int64_t, Device);                      \
    template void masked_softmax_forward<T>(const T*, T*, const int64_t*, int64_t, int64_t, int64_t, T, Device);    \
    template void masked_softmax_backward<T>(const T*, const T*, T*, const int64_t*, int64_t, int64_t, int64_t, T,  \
                                             Device);                                                               \
    template void layernorm_forward<T>(const T*, const T*, const T*, T*, compute_t<T>*, compute_t<T>*, int64_t,     \
                                       int64_t, double, Device);                                                    \
    template void layernorm_residual_forward<T>(const T*, const T*, const T*, const T*, T*, T*, compute_t<T>*,      \
                                                compute_t<T>*, int64_t, int64_t, double, Device);                   \
    template void layernorm_backward<T>(const T*, const T*, const compute_t<T>*, const compute_t<T>*, const T*, T*, \
                                        T*, T*, int64_t, int64_t, Device);                                          \
    template void dropout_apply<T>(const T*, T*, int64_t, double, uint64_t, uint64_t, Device, const uint64_t*);     \
    template void embedding_forward<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t, Device);            \
    template void embedding_backward<T>(const T*, const int64_t*, T*, int64_t, int64_t, int64_t, int64_t, Device);  \
    template void attention_forward<T>(const T*, const T*, const T*, const int64_t*, int64_t, int64_t, int64_t,     \
                                       int64_t, T, double, uint64_t, uint64_t, T*, compute_t<T>*, Device,           \
                                       const uint64_t*);                                                            \
    template void attention_backward<T>(const T*, const T*, const T*, const int64_t*, int64_t, int64_t, int64_t,    \
                                        int64_t, T, double, uint64_t, uint64_t, const T*, const compute_t<T>*,      \
                                        const T*, T*, T*, T*, Device, const uint64_t*);

// Losses (a bf16 model's logits are cast to float first) and the optimiser (fp32 or fp64 master weights).
#define TEMPER_FLOAT(T)                                                                                              \
    template void bce_with_logits_forward<T>(const T*, const T*, const T*, int64_t, int64_t, T*, Device);            \
    template void bce_with_logits_backward<T>(const T*, const T*, const T*, int64_t, int64_t, const T*, T*, Device); \
    template void bce_with_logits_fused<T>(const T*, const T*, const T*, int64_t, int64_t, T*, T*, Device);          \
    template void cross_entropy_forward<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, T*, Device);         \
    template void cross_entropy_backward<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, const T*, T*,       \
                                            Device);                                                                 \
    template void cross_entropy_fused<T>(const T*, const int64_t*, int64_t, int64_t, int64_t, T*, T*, Device);       \
    template void adamw_update_multi<T>(const AdamWParam<T>*, size_t, Device);                                       \
    template void adamw_update<T>(T*, const T*, T*, T*, int64_t, const cpu::AdamWScalars<T>&, Device);               \
    template void clip_grad_norm<T>(T* const*, const int64_t*, size_t, double, double*, Device);

// Casts between the floating-point types.
#define TEMPER_CONVERT(To, From) template void convert<To, From>(const From*, To*, int64_t, Device);

TEMPER_MEMORY(float)
TEMPER_MEMORY(double)
TEMPER_MEMORY(bf16)
TEMPER_MEMORY(int64_t)
TEMPER_OPS(float)
TEMPER_OPS(double)
TEMPER_OPS(bf16)
TEMPER_FLOAT(float)
TEMPER_FLOAT(double)
TEMPER_CONVERT(float, bf16)
TEMPER_CONVERT(bf16, float)
TEMPER_CONVERT(float, double)
TEMPER_CONVERT(double, float)
TEMPER_CONVERT(bf16, double)
TEMPER_CONVERT(double, bf16)
TEMPER_CONVERT(float, float)
TEMPER_CONVERT(double, double)
TEMPER_CONVERT(bf16, bf16)

}  // namespace temper::cuda
