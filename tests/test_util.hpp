// Helpers shared by the tests.
#pragma once

#include <unistd.h>

#include <cmath>
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "temper/core/error.hpp"

namespace temper::testing {

// ||a - b|| / ||b|| (||a - b|| when b is all zeros): the error measure every numerical test reports.
inline double rel_error(const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}
// ||a - b||: for values whose reference is 0 by construction, where a relative error means nothing.
inline double abs_error(const std::vector<double>& a, const std::vector<double>& b) {
    double num = 0;
    for (size_t i = 0; i < a.size(); ++i) num += (a[i] - b[i]) * (a[i] - b[i]);
    return std::sqrt(num);
}
// A tensor's values as doubles, to compare with the reference (any Tensor<T>).
template <class Tensor>
std::vector<double> as_double(const Tensor& t) {
    auto v = t.to_vector();
    return {v.begin(), v.end()};
}

// The message of the temper::Error that f throws ("" when it does not throw; other exceptions fail the test).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const temper::Error& e) {
        return e.what();
    }
    return "";
}

// A fresh directory for one test (unique per process and instance), removed afterwards.
struct TempDir {
    std::filesystem::path dir;
    explicit TempDir(const std::string& tag = "tmp") {
        static int n = 0;
        dir = std::filesystem::temp_directory_path() / temper::str("temper_test_", tag, "_", ::getpid(), "_", n++);
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    ~TempDir() {
        std::error_code ec;  // tests may have made it read-only
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
        std::filesystem::remove_all(dir, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string operator/(const std::string& name) const { return (dir / name).string(); }
    std::string str() const { return dir.string(); }
    // File names in the directory, sorted (to check that no temporary files were left behind).
    std::vector<std::string> entries() const {
        std::vector<std::string> out;
        for (auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
        std::sort(out.begin(), out.end());
        return out;
    }
};

}  // namespace temper::testing

// The message `msg` contains `part` (doctest; the message is printed when it does not).
#define CHECK_ERROR_HAS(msg, part) CHECK_MESSAGE((msg).find(part) != std::string::npos, "message: ", (msg))
