// File helpers shared by every part: whole-file reads, atomic writes, path containment.
// Header-only, like text.hpp: the Avro core (below sd_core) reads schema files with them.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/fd.hpp"
#include "core/status.hpp"

namespace speeddata {

// Reads the whole of a file into out (replacing it). Returns 0 or the errno: EISDIR for a
// directory, EFBIG for a file larger than max_bytes. For callers that word the error
// themselves (the config loader: "relay.yaml: channels.x.schema: cannot read ...").
inline int read_file_into(const std::filesystem::path& path, std::string& out, size_t max_bytes = SIZE_MAX) {
    out.clear();
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return errno ? errno : EIO;
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return errno ? errno : EIO;
    if (S_ISDIR(st.st_mode)) return EISDIR;
    if (static_cast<uint64_t>(st.st_size) > max_bytes) return EFBIG;
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    for (;;) {
        // A file can grow between fstat and read (a log; a /proc file says 0): read to EOF.
        if (got == out.size()) {
            if (out.size() >= max_bytes) {
                char probe;
                if (::read(fd.get(), &probe, 1) > 0) return EFBIG;
                break;
            }
            out.resize(std::min(max_bytes, std::max<size_t>(4096, out.size() * 2)));
        }
        const ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    out.resize(got);
    return 0;
}

// The whole of a file, or "cannot read PATH: REASON" (code not_found, too_large or io).
inline Result<std::string> read_file(const std::filesystem::path& path, size_t max_bytes = SIZE_MAX) {
    std::string out;
    if (int e = read_file_into(path, out, max_bytes); e != 0) {
        const StatusCode code = e == ENOENT ? StatusCode::not_found : e == EFBIG ? StatusCode::too_large : StatusCode::io;
        return Status::error(code, "cannot read " + path.string() + ": " +
                                       (e == EFBIG ? "over " + std::to_string(max_bytes) + " bytes" : std::strerror(e)));
    }
    return out;
}

struct AtomicWriteOptions {
    bool keep_permissions = false;  // an existing file's mode carries over (else 0644)
};

// Writes data to path so that a reader, or a crash, sees the old file or the new one whole:
// a temporary file beside it (unique per process and call, so two writers never share one),
// written, closed (close reports what a delayed allocation could not write), renamed over.
// Parent directories are created. On failure the temporary file is removed and the error
// names the call, the path and errno ("write /d/status.json.tmp.12.0: No space left on
// device"), with code io.
inline Status write_file_atomically(const std::filesystem::path& path, std::string_view data,
                                    AtomicWriteOptions options = {}) {
    static std::atomic<uint64_t> seq{0};
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    auto tmp = path;
    tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(seq++);
    mode_t mode = 0644;
    if (options.keep_permissions) {
        struct stat st{};
        if (::stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
    }
    auto failed = [&](const char* call, const std::filesystem::path& p, int e) {
        ::unlink(tmp.c_str());  // a half-written temporary file must not stay behind
        return Status::io_error(std::string(call) + " " + p.string() + ": " + std::strerror(e ? e : EIO));
    };
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    if (!fd.valid()) return Status::io_error("open " + tmp.string() + ": " + std::strerror(errno));
    if (options.keep_permissions) (void)::fchmod(fd.get(), mode);  // not narrowed by the umask
    if (int e = write_all(fd.get(), data.data(), data.size()); e != 0) return failed("write", tmp, e);
    if (int e = fd.close(); e != 0) return failed("close", tmp, e);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("rename", path, errno);
    return Status();
}

// True when path lies strictly below root, compared component by component (so "/srv/web"
// does not contain "/srv/website"). Both must already be absolute and normalised the way the
// caller's policy wants (canonical, to resolve symlinks; weakly_canonical for a file that
// may not exist yet): this function does no I/O.
inline bool is_inside(std::filesystem::path root, const std::filesystem::path& path) {
    if (!root.has_filename() && root.has_relative_path()) root = root.parent_path();  // "/srv/web/"
    const auto rel = path.lexically_relative(root);
    return !rel.empty() && rel != "." && *rel.begin() != "..";
}

}  // namespace speeddata
