// A lock per state directory, so that a second `speeddata up` (or a second server of the same
// kind on the same data) fails fast instead of running beside the first: the relays of two
// stacks on one cache would interleave records (issue: a second `make demo` fed its source
// into the first stack's relay).
#pragma once

#include <filesystem>
#include <string>

#include "core/status.hpp"

namespace speeddata {

// Holds an exclusive flock(2) on a file for its lifetime (released by the kernel when the
// process dies, however it dies; the descriptor is close-on-exec, so children do not keep it).
class LockFile {
public:
    LockFile() = default;
    LockFile(LockFile&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
    LockFile& operator=(LockFile&& o) noexcept;
    ~LockFile();

    // Takes the lock and writes `info` (one line: who holds it, e.g. "pid 123 http://...")
    // into the file. When another process holds it: conflict, whose message is that line.
    static Result<LockFile> acquire(const std::filesystem::path& path, const std::string& info);
    // Replaces the holder's line (once the URL is known).
    void update(const std::string& info);
    bool held() const { return fd_ >= 0; }

private:
    int fd_ = -1;
    std::filesystem::path path_;
};

}  // namespace speeddata
