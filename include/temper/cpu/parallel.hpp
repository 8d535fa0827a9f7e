// Thread-level parallel loops for the CPU backend: OpenMP when the build has it, else serial.
#pragma once

#include <cstdint>

#if defined(_OPENMP)
#include <omp.h>
#define TEMPER_PRAGMA_OMP(x) _Pragma(#x)
#else
#define TEMPER_PRAGMA_OMP(x)
#endif

namespace temper::cpu {

// f(i) for i in [0, n); split across threads only when there is enough work to pay for it.
template <class F>
void parallel_for(int64_t n, int64_t work_per_item, F&& f) {
#if defined(_OPENMP)
    if (n > 1 && n * work_per_item >= (1 << 15)) {
        TEMPER_PRAGMA_OMP(omp parallel for schedule(static))
        for (int64_t i = 0; i < n; ++i) f(i);
        return;
    }
#endif
    (void)work_per_item;
    for (int64_t i = 0; i < n; ++i) f(i);
}

inline int64_t max_threads() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// Accumulation type for reductions: double for float/double inputs so sums stay accurate.
template <class T> struct acc { using type = double; };
template <class T> using acc_t = typename acc<T>::type;

}  // namespace temper::cpu
