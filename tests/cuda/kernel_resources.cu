// Every kernel temper launches, instantiated for the element types the ops use, so that one nvcc compile
// shows ptxas's resource use (registers, shared memory, stack, spills) for all of them:
// tools/kernel_resources.py, the kernel_resources test, and the table in docs/kernels.md.
#include "temper/cuda/kernels.hpp"

namespace {

using namespace temper;

// Taking a launcher's address instantiates it and every kernel it launches.
template <class T>
void compute_types() {
    (void)&cuda::fill<T>;
    (void)&cuda::copy_strided<T>;
    (void)&cuda::copy_into_strided<T>;
    (void)&cuda::masked_softmax_forward<T>;
    (void)&cuda::masked_softmax_backward<T>;
    (void)&cuda::layernorm_forward<T>;
    (void)&cuda::layernorm_residual_forward<T>;
    (void)&cuda::layernorm_backward<T>;
    (void)&cuda::gelu_forward<T>;
    (void)&cuda::gelu_backward<T>;
    (void)&cuda::relu_forward<T>;
    (void)&cuda::relu_backward<T>;
    (void)&cuda::bias_gelu_forward<T>;
    (void)&cuda::bias_gelu_backward<T>;
    (void)&cuda::add<T>;
    (void)&cuda::sub<T>;
    (void)&cuda::mul<T>;
    (void)&cuda::scale<T>;
    (void)&cuda::add_inplace<T>;
    (void)&cuda::sum<T>;
    (void)&cuda::sum_to_shape<T>;
    (void)&cuda::dropout_apply<T>;
    (void)&cuda::embedding_forward<T>;
    (void)&cuda::embedding_backward<T>;
    (void)&cuda::attention_forward<T>;
    (void)&cuda::attention_backward<T>;
}

// Losses take float logits (a bf16 model's logits are cast to float); the optimiser keeps fp32 (or fp64)
// master weights.
template <class T>
void float_types() {
    (void)&cuda::bce_with_logits_fused<T>;
    (void)&cuda::bce_with_logits_forward<T>;
    (void)&cuda::bce_with_logits_backward<T>;
    (void)&cuda::cross_entropy_fused<T>;
    (void)&cuda::cross_entropy_forward<T>;
    (void)&cuda::cross_entropy_backward<T>;
    (void)&cuda::adamw_update_multi<T>;
    (void)&cuda::clip_grad_norm<T>;
}

}  // namespace

void temper_kernel_resources() {
    compute_types<float>();
    compute_types<double>();
    compute_types<bf16>();
    float_types<float>();
    float_types<double>();
    (void)&cuda::fill<int64_t>;
    (void)&cuda::iota<int64_t>;
    (void)&cuda::copy_strided<int64_t>;
    (void)&cuda::convert<bf16, float>;
    (void)&cuda::convert<float, bf16>;
}
