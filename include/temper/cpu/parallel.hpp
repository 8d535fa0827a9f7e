// Thread-level parallel loops for the CPU backend: OpenMP when the build has it, else serial.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>

#if defined(_OPENMP)
#include <omp.h>
#define TEMPER_PRAGMA_OMP(x) _Pragma(#x)
#else
#define TEMPER_PRAGMA_OMP(x)
#endif

namespace temper::cpu {

// f(i) for i in [0, n); split across threads only when there is enough work to pay for it (n *
// work_per_item, in rough element operations). threads = 0: OpenMP's default; 1: serial. An exception
// thrown by f is rethrown here (OpenMP would terminate the program if it left the parallel region).
template <class F>
void parallel_for(int64_t n, int64_t work_per_item, F&& f, int64_t threads = 0) {
#if defined(_OPENMP)
    if (n > 1 && threads != 1 && n * work_per_item >= (1 << 15)) {
        std::exception_ptr error;
        const int team = threads > 0 ? int(std::min<int64_t>(threads, n)) : omp_get_max_threads();
        TEMPER_PRAGMA_OMP(omp parallel for schedule(static) num_threads(team))
        for (int64_t i = 0; i < n; ++i) {
            try {
                f(i);
            } catch (...) {
                TEMPER_PRAGMA_OMP(omp critical(temper_parallel_for_error))
                if (!error) error = std::current_exception();
            }
        }
        if (error) std::rethrow_exception(error);
        return;
    }
#endif
    (void)work_per_item, (void)threads;
    for (int64_t i = 0; i < n; ++i) f(i);
}

inline int64_t max_threads() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
}

}  // namespace temper::cpu
