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
