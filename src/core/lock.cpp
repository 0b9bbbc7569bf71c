#include "core/lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace speeddata {

LockFile& LockFile::operator=(LockFile&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = o.fd_;
        path_ = std::move(o.path_);
        o.fd_ = -1;
    }
    return *this;
}

LockFile::~LockFile() {
    if (fd_ >= 0) ::close(fd_);
}

Result<LockFile> LockFile::acquire(const std::filesystem::path& path, const std::string& info) {
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Status::io_error("open " + path.string() + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int err = errno;
        std::string holder;
        char buf[512];
        const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) holder.assign(buf, static_cast<size_t>(n));
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        ::close(fd);
        if (err == EWOULDBLOCK) return Status::conflict(holder.empty() ? "held by another process" : holder);
        return Status::io_error("lock " + path.string() + ": " + std::strerror(err));
    }
    LockFile lock;
    lock.fd_ = fd;
    lock.path_ = path;
    lock.update(info);
    return lock;
}

void LockFile::update(const std::string& info) {
    if (fd_ < 0) return;
    const std::string line = info + "\n";
    if (::ftruncate(fd_, 0) == 0) {
        ssize_t ignored = ::pwrite(fd_, line.data(), line.size(), 0);
        (void)ignored;
    }
}

}  // namespace speeddata
