// The simulator's libm against the correctly rounded result: the largest error in ulp of the math functions
// temper's kernels call, float ones over every 97th bit pattern of their range, double ones on 2e7 points,
// each against the long double function. docs/gpu.md's table (with CUDA's documented bounds) comes from it:
//   build-sim/tests/cudasim/tests/cudasim_libm_ulp
#include <cmath>
#include <cstdio>
#include <cstring>
#include <cstdint>
static float next_up(float x) { return std::nextafter(x, INFINITY); }
template <class F, class R>
void measure(const char* name, F f, R ref, float lo, float hi) {
    double worst = 0;
    float at = 0;
    for (float x = lo; x < hi;) {
        float y = f(x);
        long double r = ref((long double)x);
        if (std::isfinite(y) && std::isfinite((double)r) && r != 0) {
            float rf = (float)r;
            float ulp = next_up(std::fabs(rf)) - std::fabs(rf);
            double e = (double)std::fabs((long double)y - r) / ulp;
            if (e > worst) {
                worst = e;
                at = x;
            }
        }
        uint32_t u;
        std::memcpy(&u, &x, 4);
        // stride through bit patterns
        float nx;
        if (x < 0) {
            u -= 97;
            std::memcpy(&nx, &u, 4);
            if (nx >= x || !(nx < 0)) nx = -0.0f;
        } else {
            u += 97;
            std::memcpy(&nx, &u, 4);
        }
        if (x < 0 && nx == 0) nx = 0.0f;
        x = nx;
    }
    std::printf("%s: max %.3f ulp (at %g)\n", name, worst, at);
}
template <class F, class R>
void measure_d(const char* name, F f, R ref, double lo, double hi, int n) {
    double worst = 0, at = 0;
    for (int i = 0; i < n; ++i) {
        double x = lo + (hi - lo) * (i + 0.5) / n;
        double y = f(x);
        long double r = ref((long double)x);
        if (!std::isfinite(y) || r == 0) continue;
        double rd = (double)r;
        double ulp = std::nextafter(std::fabs(rd), INFINITY) - std::fabs(rd);
        double e = (double)(std::fabs((long double)y - r) / ulp);
        if (e > worst) {
            worst = e;
            at = x;
        }
    }
    std::printf("%s: max %.3f ulp (at %g)\n", name, worst, at);
}
int main() {
    measure(
        "expf", [](float x) { return expf(x); }, [](long double x) { return expl(x); }, -87.0f, 88.0f);
    measure(
        "erff", [](float x) { return erff(x); }, [](long double x) { return erfl(x); }, -9.0f, 9.0f);
    measure(
        "logf", [](float x) { return logf(x); }, [](long double x) { return logl(x); }, 1e-30f, 1e30f);
    measure(
        "log1pf", [](float x) { return log1pf(x); }, [](long double x) { return log1pl(x); }, -0.99f, 1e30f);
    measure_d(
        "exp", [](double x) { return exp(x); }, [](long double x) { return expl(x); }, -700, 700, 20000000);
    measure_d(
        "erf", [](double x) { return erf(x); }, [](long double x) { return erfl(x); }, -6, 6, 20000000);
    measure_d(
        "log", [](double x) { return log(x); }, [](long double x) { return logl(x); }, 1e-10, 1e10, 20000000);
    measure_d(
        "log1p", [](double x) { return log1p(x); }, [](long double x) { return log1pl(x); }, -0.99, 1e6, 20000000);
}
