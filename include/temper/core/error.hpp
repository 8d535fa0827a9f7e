// temper::Error — the one exception type the library throws for bad input and failed I/O.
// Messages name the file / tensor / field and say what was expected versus what was found.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace temper {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates anything streamable into one string: str("tensor ", name, " has ", n, " dims").
template <class... Args>
std::string str(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
    throw Error(str(args...));
}

// check(cond, "parts", "of", "message") throws temper::Error when cond is false.
template <class... Args>
inline void check(bool cond, const Args&... args) {
    if (!cond) fail(args...);
}

}  // namespace temper
