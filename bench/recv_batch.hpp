// The bare recvmmsg loop shared by the benchmark baselines (udp_sink, min_relay): a batch of
// slots re-armed before each call, the kernel's drop counter (SO_RXQ_OVFL) read from each
// datagram's control data, and SIGINT/SIGTERM ending the loop. Kept apart from the relay's
// own receiver on purpose: a baseline must not share the code it is the baseline for.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <vector>

namespace bench {

inline std::atomic<bool> g_stop{false};

// SIGINT and SIGTERM set g_stop; recvmmsg returns EINTR and the loop ends.
inline void stop_on_signals() {
    struct sigaction sa{};
    sa.sa_handler = [](int) { g_stop = true; };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

class RecvBatch {
public:
    RecvBatch(unsigned batch, size_t slot)
        : batch_(batch), slot_(slot), buf_(slot * batch), msgs_(batch), iov_(batch), control_(cbytes * batch) {}

    // Up to batch datagrams (waits for the first only); <= 0 on a signal or an error.
    int receive(int fd) {
        for (unsigned i = 0; i < batch_; ++i) {
            iov_[i] = {&buf_[i * slot_], slot_};
            msgs_[i].msg_hdr = msghdr{};
            msgs_[i].msg_hdr.msg_iov = &iov_[i];
            msgs_[i].msg_hdr.msg_iovlen = 1;
            msgs_[i].msg_hdr.msg_control = &control_[i * cbytes];
            msgs_[i].msg_hdr.msg_controllen = cbytes;
        }
        const int n = ::recvmmsg(fd, msgs_.data(), batch_, MSG_WAITFORONE, nullptr);
        for (int i = 0; i < n; ++i) {
            auto& h = msgs_[static_cast<size_t>(i)].msg_hdr;
            for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) std::memcpy(&drops_, CMSG_DATA(c), 4);
        }
        return n;
    }
    uint8_t* data(int i) { return &buf_[static_cast<size_t>(i) * slot_]; }
    size_t size(int i) const { return msgs_[static_cast<size_t>(i)].msg_len; }
    uint32_t kernel_drops() const { return drops_; }  // the socket's counter, as of the last datagram

private:
    static constexpr size_t cbytes = CMSG_SPACE(sizeof(uint32_t));
    unsigned batch_;
    size_t slot_;
    std::vector<uint8_t> buf_;
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
    std::vector<uint8_t> control_;
    uint32_t drops_ = 0;
};

}  // namespace bench
