// Training progress: a redrawn bar on a terminal, plain lines (every few seconds) when stderr is a file
// or a pipe, so CI logs stay readable.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

namespace temper::train {

class Progress {
public:
    // first_step: the step a resumed run starts from; the ETA is timed on the steps this process ran.
    explicit Progress(int64_t total_steps, bool enabled = true, int64_t first_step = 0)
        : total_(total_steps),
          first_(first_step),
          enabled_(enabled),
          tty_(::isatty(STDERR_FILENO) != 0),
          start_(clock::now()),
          last_(start_) {}

    // Call after each optimizer step.
    void update(int64_t step, double loss, double lr, double samples_per_s) {
        if (!enabled_) return;
        auto now = clock::now();
        double since_last = std::chrono::duration<double>(now - last_).count();
        bool final = step >= total_;
        if (!tty_ && !final && since_last < 5.0 && step != first_ + 1) return;  // the first step always
        if (tty_ && !final && since_last < 0.1) return;
        last_ = now;
        double elapsed = std::chrono::duration<double>(now - start_).count();
        double eta = eta_seconds(elapsed, step - first_, total_ - step);
        char line[256];
        if (tty_) {
            int filled = total_ > 0 ? int(30.0 * double(step) / double(total_)) : 30;
            std::string bar = std::string(size_t(filled), '#') + std::string(size_t(30 - filled), '.');
            std::snprintf(line, sizeof line, "\r[%s] %lld/%lld loss %.4f lr %.2e %.1f samples/s ETA %s ", bar.c_str(),
                          (long long)step, (long long)total_, loss, lr, samples_per_s, format_time(eta).c_str());
        } else {
            std::snprintf(line, sizeof line, "step %lld/%lld loss %.4f lr %.2e %.1f samples/s ETA %s\n",
                          (long long)step, (long long)total_, loss, lr, samples_per_s, format_time(eta).c_str());
        }
        std::fputs(line, stderr);
        if (tty_ && final) std::fputc('\n', stderr);
        std::fflush(stderr);
    }
    // A message that must not be overwritten by the bar.
    void note(const std::string& msg) {
        if (!enabled_) return;
        std::fprintf(stderr, "%s%s\n", tty_ ? "\r\033[K" : "", msg.c_str());
    }

    // Time left when `done` steps took `elapsed` seconds and `left` remain (0 before the first step).
    static double eta_seconds(double elapsed, int64_t done, int64_t left) {
        return done > 0 && left > 0 ? elapsed / double(done) * double(left) : 0;
    }

    static std::string format_time(double s) {
        char buf[32];
        long t = std::lround(s);  // s >= 0
        if (t >= 3600)
            std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
        else
            std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
        return buf;
    }

private:
    using clock = std::chrono::steady_clock;
    int64_t total_, first_;
    bool enabled_, tty_;
    clock::time_point start_, last_;
};

}  // namespace temper::train
