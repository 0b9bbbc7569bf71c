// File descriptors: an owning handle and a complete write, shared by the Avro container
// files, the relay's cache writer and the sockets.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <utility>

namespace speeddata {

// Owns a file descriptor; closes it on destruction.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;

    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release() { return std::exchange(fd_, -1); }
    // Closes the current descriptor (ignoring errors) and owns fd instead.
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }
    // Closes now and returns the errno close() reports (write-back failures show up here), or 0.
    int close() {
        if (fd_ < 0) return 0;
        int r = ::close(std::exchange(fd_, -1));
        return r == 0 ? 0 : errno;
    }

private:
    int fd_ = -1;
};

// Writes all of [p, p+n) at the descriptor's position, retrying on EINTR and short writes.
// Returns 0, or the errno of the failed write.
inline int write_all(int fd, const void* p, size_t n) {
    auto c = static_cast<const char*>(p);
    while (n > 0) {
        ssize_t w = ::write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        c += w;
        n -= static_cast<size_t>(w);
    }
    return 0;
}

}  // namespace speeddata
