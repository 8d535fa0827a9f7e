// cuBLAS: handles and cublasGemmStridedBatchedEx in stream order (see cublas_v2.h for the numerics).
#include "cublas_v2.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "internal.hpp"

struct cublasContext {
    int device = 0;
    cudaStream_t stream = nullptr;
    void* workspace = nullptr;
    size_t workspace_bytes = 0;
    cublasPointerMode_t mode = CUBLAS_POINTER_MODE_HOST;
};

namespace cudasim {
namespace {

thread_local std::string t_text;

cublasStatus_t fail(cublasStatus_t st, std::string detail) {
    if (config().verbose) std::fprintf(stderr, "cudasim: note: %s\n", detail.c_str());
    set_detail(1000 + int(st), std::move(detail));  // cuBLAS codes, apart from CUDA's
    return st;
}

float bits_to_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
uint32_t float_to_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

// cvt.rna.tf32.f32: keep 10 mantissa bits, round to nearest with ties away from zero.
float round_tf32(float x) {
    if (!std::isfinite(x)) return x;
    return bits_to_float((float_to_bits(x) + 0x1000u) & ~0x1FFFu);
}
// Round to bf16 (nearest even), kept as a float.
float round_bf16(float x) {
    uint32_t u = float_to_bits(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return x;
    u += 0x7FFFu + ((u >> 16) & 1u);
    return bits_to_float(u & 0xFFFF0000u);
}
float bf16_to_float(uint16_t b) { return bits_to_float(uint32_t(b) << 16); }
uint16_t float_to_bf16(float x) {
    const uint32_t u = float_to_bits(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return uint16_t((u >> 16) | 0x0040u);
    return uint16_t(float_to_bits(round_bf16(x)) >> 16);
}

struct Gemm final : Work {
    bool ta = false, tb = false;  // op(A) = A^T, op(B) = B^T
    int m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0, batch = 0;
    long long sa = 0, sb = 0, sc = 0;
    const void* A = nullptr;
    const void* B = nullptr;
    void* C = nullptr;
    cudaDataType_t type = CUDA_R_32F;
    cublasComputeType_t compute = CUBLAS_COMPUTE_32F;
    double alpha = 1, beta = 0;

    template <class T, class Acc, class Load, class Store>
    void typed(Load load, Store store) const {
        const T* a = static_cast<const T*>(A);
        const T* b = static_cast<const T*>(B);
        T* c = static_cast<T*>(C);
        // op(A) as m rows of k, op(B) as n columns of k, in the compute precision (inputs rounded first).
        std::vector<Acc> pa(size_t(m) * size_t(k)), pb(size_t(n) * size_t(k));
        const Acc al = Acc(alpha), be = Acc(beta);
        for (int q = 0; q < batch; ++q) {
            const T* aq = a + q * sa;
            const T* bq = b + q * sb;
            T* cq = c + q * sc;
            for (int i = 0; i < m; ++i)
                for (int l = 0; l < k; ++l)
                    pa[size_t(i) * size_t(k) + size_t(l)] =
                        load(ta ? aq[l + size_t(i) * lda] : aq[i + size_t(l) * lda]);
            for (int j = 0; j < n; ++j)
                for (int l = 0; l < k; ++l)
                    pb[size_t(j) * size_t(k) + size_t(l)] =
                        load(tb ? bq[j + size_t(l) * ldb] : bq[l + size_t(j) * ldb]);
            for (int j = 0; j < n; ++j)
                for (int i = 0; i < m; ++i) {
                    const Acc* x = &pa[size_t(i) * size_t(k)];
                    const Acc* y = &pb[size_t(j) * size_t(k)];
                    Acc acc = 0;
                    for (int l = 0; l < k; ++l) acc = std::fma(x[l], y[l], acc);
                    T& out = cq[i + size_t(j) * ldc];
                    Acc r = al * acc;
                    if (be != Acc(0)) r = std::fma(be, Acc(load(out)), r);  // beta == 0: C is not read
                    out = store(r);
                }
        }
    }

    void run() const override {
        if (type == CUDA_R_64F) {
            typed<double, double>([](double v) { return v; }, [](double v) { return v; });
        } else if (type == CUDA_R_16BF) {
            typed<uint16_t, float>([](uint16_t v) { return bf16_to_float(v); },
                                   [](float v) { return float_to_bf16(v); });
        } else if (compute == CUBLAS_COMPUTE_32F_FAST_TF32) {
            typed<float, float>([](float v) { return round_tf32(v); }, [](float v) { return v; });
        } else if (compute == CUBLAS_COMPUTE_32F_FAST_16BF) {
            typed<float, float>([](float v) { return round_bf16(v); }, [](float v) { return v; });
        } else {
            typed<float, float>([](float v) { return v; }, [](float v) { return v; });
        }
    }
};

size_t type_size(cudaDataType_t t) { return t == CUDA_R_64F ? 8 : t == CUDA_R_32F ? 4 : 2; }

// The bytes a strided batch of [rows x cols] column-major matrices spans.
size_t span(int rows, int cols, int ld, long long stride, int batch, size_t elem) {
    if (rows == 0 || cols == 0 || batch == 0) return 0;
    return (size_t(batch - 1) * size_t(stride) + size_t(cols - 1) * size_t(ld) + size_t(rows)) * elem;
}

}  // namespace
}  // namespace cudasim

using namespace cudasim;

const char* cublasGetStatusName(cublasStatus_t status) {
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
        case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
        case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    }
    return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
    const char* text = "unknown error";
    switch (status) {
        case CUBLAS_STATUS_SUCCESS: text = "success"; break;
        case CUBLAS_STATUS_NOT_INITIALIZED: text = "the library was not initialized"; break;
        case CUBLAS_STATUS_ALLOC_FAILED: text = "the resource allocation failed"; break;
        case CUBLAS_STATUS_INVALID_VALUE: text = "an invalid numeric value was used as an argument"; break;
        case CUBLAS_STATUS_ARCH_MISMATCH: text = "an absent device architectural feature is required"; break;
        case CUBLAS_STATUS_MAPPING_ERROR: text = "an access to GPU memory space failed"; break;
        case CUBLAS_STATUS_EXECUTION_FAILED: text = "the GPU program failed to execute"; break;
        case CUBLAS_STATUS_INTERNAL_ERROR: text = "an internal operation failed"; break;
        case CUBLAS_STATUS_NOT_SUPPORTED: text = "the functionality requested is not supported"; break;
    }
    const std::string* d = detail_for(1000 + int(status));
    if (!d) return text;
    t_text = str(text, " [cudasim: ", *d, "]");
    return t_text.c_str();
}

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0)
        return fail(CUBLAS_STATUS_NOT_INITIALIZED, "no device");
    auto* h = new cublasContext();
    h->device = current_device();
    *handle = h;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    delete handle;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t stream) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!h) return fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetStream: null handle");
    const int d = stream ? stream_device(stream) : h->device;
    if (d < 0) return fail(CUBLAS_STATUS_INVALID_VALUE, "cublasSetStream: not a live stream");
    if (d != h->device)
        return fail(CUBLAS_STATUS_INVALID_VALUE,
                    str("cublasSetStream: a stream of cuda:", d, " for a handle made on cuda:", h->device));
    h->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void* workspace, size_t bytes) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!h) return fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetWorkspace: null handle");
    if (bytes > 0 && !is_device_memory_of(workspace, bytes, h->device))
        return fail(CUBLAS_STATUS_INVALID_VALUE, str("cublasSetWorkspace: ", bytes, " bytes at ", hex(workspace),
                                                     " are not device memory of cuda:", h->device));
    h->workspace = workspace;
    h->workspace_bytes = bytes;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetPointerMode(cublasHandle_t h, cublasPointerMode_t mode) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    if (!h) return fail(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetPointerMode: null handle");
    if (mode != CUBLAS_POINTER_MODE_HOST)
        return fail(CUBLAS_STATUS_NOT_SUPPORTED, "device pointer mode is not simulated");
    h->mode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t transa, cublasOperation_t transb, int m,
                                          int n, int k, const void* alpha, const void* A, cudaDataType_t a_type,
                                          int lda, long long stride_a, const void* B, cudaDataType_t b_type, int ldb,
                                          long long stride_b, const void* beta, void* C, cudaDataType_t c_type, int ldc,
                                          long long stride_c, int batch, cublasComputeType_t compute,
                                          cublasGemmAlgo_t) {
    std::lock_guard<std::recursive_mutex> lock(api_mutex());
    const char* call = "cublasGemmStridedBatchedEx";
    if (!h) return fail(CUBLAS_STATUS_NOT_INITIALIZED, str(call, ": null handle"));
    if (current_device() != h->device)
        return fail(CUBLAS_STATUS_EXECUTION_FAILED, str(call, ": the handle was made on cuda:", h->device,
                                                        " but cuda:", current_device(), " is the current device"));
    const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
    const int a_rows = ta ? k : m, b_rows = tb ? n : k;
    auto at_least = [](int v) { return v < 1 ? 1 : v; };
    if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < at_least(a_rows) || ldb < at_least(b_rows) || ldc < at_least(m) ||
        stride_a < 0 || stride_b < 0 || stride_c < 0)
        return fail(CUBLAS_STATUS_INVALID_VALUE,
                    str(call, ": m=", m, " n=", n, " k=", k, " batch=", batch, " lda=", lda, " (at least ",
                        at_least(a_rows), ") ldb=", ldb, " (at least ", at_least(b_rows), ") ldc=", ldc, " (at least ",
                        at_least(m), "), strides ", stride_a, ", ", stride_b, ", ", stride_c));
    if (a_type != b_type || a_type != c_type)
        return fail(CUBLAS_STATUS_NOT_SUPPORTED, str(call, ": mixed data types ", a_type, ", ", b_type, ", ", c_type));
    const bool ok =
        (a_type == CUDA_R_32F && (compute == CUBLAS_COMPUTE_32F || compute == CUBLAS_COMPUTE_32F_FAST_TF32 ||
                                  compute == CUBLAS_COMPUTE_32F_FAST_16BF)) ||
        (a_type == CUDA_R_64F && compute == CUBLAS_COMPUTE_64F) ||
        (a_type == CUDA_R_16BF && compute == CUBLAS_COMPUTE_32F);
    if (!ok)
        return fail(CUBLAS_STATUS_NOT_SUPPORTED, str(call, ": data type ", a_type, " with compute type ", compute));
    if (m == 0 || n == 0 || batch == 0) return CUBLAS_STATUS_SUCCESS;

    auto w = std::make_shared<Gemm>();
    w->ta = ta, w->tb = tb, w->m = m, w->n = n, w->k = k, w->lda = lda, w->ldb = ldb, w->ldc = ldc, w->batch = batch;
    w->sa = stride_a, w->sb = stride_b, w->sc = stride_c, w->A = A, w->B = B, w->C = C;
    w->type = a_type;
    w->compute = compute;
    // Host pointer mode: the scalars are read now, in the compute precision.
    if (compute == CUBLAS_COMPUTE_64F) {
        w->alpha = *static_cast<const double*>(alpha);
        w->beta = *static_cast<const double*>(beta);
    } else {
        w->alpha = *static_cast<const float*>(alpha);
        w->beta = *static_cast<const float*>(beta);
    }
    const size_t e = type_size(a_type);
    struct Operand {
        const char* name;
        const void* p;
        size_t bytes;
    };
    const Operand ops[] = {{"A", A, span(a_rows, ta ? m : k, lda, stride_a, batch, e)},
                           {"B", B, span(b_rows, tb ? k : n, ldb, stride_b, batch, e)},
                           {"C", C, span(m, n, ldc, stride_c, batch, e)}};
    for (const Operand& o : ops) {
        if (o.bytes == 0 || is_device_memory_of(o.p, o.bytes, h->device)) continue;
        char what[256] = "";
        memory().describe(o.p, what, sizeof what);
        fatal(str(call, ": operand ", o.name, " spans ", o.bytes, " bytes from ", hex(o.p),
                  ", which is not inside one device allocation of cuda:", h->device, what[0] ? " (it starts at " : "",
                  what, what[0] ? ")" : ""));
    }
    w->devices = 1u << h->device;
    if (enqueue(h->stream, std::move(w)) != cudaSuccess)
        return fail(CUBLAS_STATUS_EXECUTION_FAILED, str(call, ": ", cudaGetErrorString(cudaGetLastError())));
    return CUBLAS_STATUS_SUCCESS;
}
