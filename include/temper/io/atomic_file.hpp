// Whole-file reads and crash-safe whole-file writes (POSIX).
//
// write_file_atomic writes to a temporary file in the target's directory, fsyncs it, renames it
// over the target and fsyncs the directory: a reader (or a crash) sees either the old file or the
// complete new one, never a torn mix. The new file gets mode 0666 & ~umask; an existing target's
// permissions are not carried over, and a symlink at the target is replaced, not followed.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "temper/core/error.hpp"

namespace temper::io {

namespace detail {

inline std::string errno_text(int err) { return std::generic_category().message(err); }

// Closes a file descriptor on scope exit unless released.
struct Fd {
    int fd = -1;
    explicit Fd(int f) : fd(f) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
    int release() {
        int f = fd;
        fd = -1;
        return f;
    }
};

// Writes all of data, retrying on short writes and EINTR. Returns 0 or an errno value.
inline int write_all(int fd, std::span<const std::byte> data) {
    const std::byte* p = data.data();
    size_t left = data.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        p += n;
        left -= size_t(n);
    }
    return 0;
}

}  // namespace detail

// Atomically replaces the file at `path` with the concatenation of `parts` (a gather write, so
// large files need not be assembled in memory first). Throws temper::Error naming the path.
inline void write_file_atomic(const std::string& path, const std::vector<std::span<const std::byte>>& parts) {
    namespace fs = std::filesystem;
    static std::atomic<uint64_t> counter{0};
    check(!path.empty(), "write_file_atomic: empty path");
    const fs::path target(path);
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    const std::string tmp_name = str(".", target.filename().string(), ".tmp.", ::getpid(), ".", counter.fetch_add(1));
    const std::string tmp = (dir / tmp_name).string();

    detail::Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
    if (out.fd < 0)
        fail("cannot write '", path, "': creating temporary file '", tmp, "' failed: ", detail::errno_text(errno));

    // From here on, any failure removes the temporary file before throwing.
    auto abort_with = [&](const char* step, int err) {
        if (out.fd >= 0) ::close(out.release());
        ::unlink(tmp.c_str());
        fail("cannot write '", path, "': ", step, " failed: ", detail::errno_text(err));
    };
    for (auto part : parts)
        if (int err = detail::write_all(out.fd, part)) abort_with("write", err);
    if (::fsync(out.fd) != 0) abort_with("fsync", errno);
    if (::close(out.release()) != 0) abort_with("close", errno);  // NFS reports write errors here
    if (::rename(tmp.c_str(), path.c_str()) != 0) abort_with("rename", errno);

    // Make the rename itself durable. Some filesystems cannot fsync a directory (EINVAL): the data
    // is already in place then, so that alone is not an error.
    detail::Fd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d.fd < 0) fail("wrote '", path, "' but cannot open its directory to fsync it: ", detail::errno_text(errno));
    if (::fsync(d.fd) != 0 && errno != EINVAL)
        fail("wrote '", path, "' but fsync of its directory failed: ", detail::errno_text(errno));
}

inline void write_file_atomic(const std::string& path, std::span<const std::byte> data) {
    write_file_atomic(path, std::vector<std::span<const std::byte>>{data});
}

inline void write_file_atomic(const std::string& path, std::string_view text) {
    write_file_atomic(path, std::as_bytes(std::span<const char>(text.data(), text.size())));
}

// Fails up front, saying what the space is for, when the file system holding `dir` has less than `bytes`
// available. Where the free space cannot be read, the writes themselves will report any failure.
inline void require_free_space(const std::string& dir, uint64_t bytes, const std::string& what) {
    std::error_code ec;
    const std::filesystem::space_info s = std::filesystem::space(dir, ec);
    if (ec) return;
    check(s.available >= bytes, dir, ": ", what, " need about ", (bytes + (1 << 20) - 1) >> 20, " MiB, but only ",
          s.available >> 20, " MiB are free on its file system");
}

// Reads a whole file. Throws temper::Error naming the path when it is missing, a directory or
// unreadable.
inline std::vector<std::byte> read_file(const std::string& path) {
    detail::Fd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.fd < 0) fail("cannot open '", path, "': ", detail::errno_text(errno));
    struct stat st {};
    if (::fstat(in.fd, &st) != 0) fail("cannot stat '", path, "': ", detail::errno_text(errno));
    if (S_ISDIR(st.st_mode)) fail("cannot read '", path, "': it is a directory");

    // st_size is only a hint (the file may change under us; pipes and /proc files report 0):
    // read until EOF, probing with a small buffer once the expected size is reached.
    std::vector<std::byte> buf(S_ISREG(st.st_mode) ? size_t(st.st_size) : 0);
    size_t used = 0;
    for (;;) {
        std::byte probe[4096];
        const bool full = used == buf.size();
        std::byte* dst = full ? probe : buf.data() + used;
        ssize_t n = ::read(in.fd, dst, full ? sizeof probe : buf.size() - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("cannot read '", path, "': ", detail::errno_text(errno));
        }
        if (n == 0) break;
        if (full) buf.insert(buf.end(), probe, probe + n);
        used += size_t(n);
    }
    buf.resize(used);
    return buf;
}

inline std::string read_text_file(const std::string& path) {
    std::vector<std::byte> b = read_file(path);
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace temper::io
