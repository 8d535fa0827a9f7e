// Reading a user's table and splitting it into train / dev / test.
#pragma once

#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "temper/train/dataset.hpp"

namespace examples {

// Reads one table; malformed rows either stop the program (the error names file and line) or,
// with OnError::Skip, are dropped with a warning that says how many and shows the first few.
inline temper::train::Dataset read_data(const std::string& path, const temper::train::TableOptions& o) {
    temper::train::Dataset d = temper::train::read_table(path, o);
    if (d.report.skipped > 0) {
        std::fprintf(stderr, "warning: %s: skipped %lld malformed rows, e.g.\n", path.c_str(),
                     (long long)d.report.skipped);
        for (const auto& r : d.report.skip_reasons) std::fprintf(stderr, "  %s\n", r.c_str());
    }
    return d;
}

// train / dev / test: the --dev and --test files when given (read with the training data's label
// names), and a seeded split of `all` for the parts not given: 80/10/10 with neither, 90/10 with one.
inline temper::train::Splits split_or_read(const temper::train::Dataset& all, const std::string& dev_path,
                                           const std::string& test_path, temper::train::TableOptions o, uint64_t seed) {
    using namespace temper::train;
    const bool has_dev = !dev_path.empty(), has_test = !test_path.empty();
    const double dev = has_dev ? 0.0 : 0.1, test = has_test ? 0.0 : 0.1;
    Splits s = split_dataset(all, {.train = 1.0 - dev - test, .dev = dev, .test = test}, seed);
    o.label_names = all.label_names;
    if (has_dev) s.dev = read_data(dev_path, o);
    if (has_test) s.test = read_data(test_path, o);
    temper::check(s.train.size() > 0 && s.dev.size() > 0 && s.test.size() > 0, "too few examples to split: train ",
                  s.train.size(), ", dev ", s.dev.size(), ", test ", s.test.size(),
                  " (give more rows, or --dev and --test files)");
    return s;
}

// The first n examples (all when n <= 0 or n >= size).
inline temper::train::Dataset take_first(const temper::train::Dataset& d, int64_t n) {
    if (n <= 0 || size_t(n) >= d.size()) return d;
    std::vector<int64_t> idx(static_cast<size_t>(n));
    std::iota(idx.begin(), idx.end(), int64_t(0));
    return d.subset(idx);
}

}  // namespace examples
