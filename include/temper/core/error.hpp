// temper::Error — the one exception type the library throws for bad input and failed I/O.
// Messages name the file / tensor / field and say what was expected versus what was found.
#pragma once

#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

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

// check(cond, "parts", "of", "message") throws temper::Error when cond is false. Being a function, it evaluates
// its arguments on every call, so pass message parts that stream lazily (a Device, shape_of(s), lazy(...)) rather
// than strings built up front (d.str(), shape_str(s)): many checks sit on per-op and per-backward-node paths.
template <class... Args>
inline void check(bool cond, const Args&... args) {
    if (!cond) fail(args...);
}

// A message part computed only when the message is built: check(ok, lazy([&] { return dir.string(); }), ": ...").
template <class F>
struct Lazy {
    F make;
    friend std::ostream& operator<<(std::ostream& os, const Lazy& l) { return os << l.make(); }
};

template <class F>
Lazy<F> lazy(F make) {
    return {std::move(make)};
}

}  // namespace temper
