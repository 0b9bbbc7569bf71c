// One receive thread of a relay: its socket (one of the port's SO_REUSEPORT group when the
// channel has several), its receive buffers, its DatagramChecker and its file stream's
// CacheWriter. Valid datagrams go to the burst buffer and, at the end of each batch, to the
// shared multicast streams.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/config/config.hpp"
#include "core/net/socket.hpp"
#include "relay/cache_writer.hpp"
#include "relay/datagram_check.hpp"
#include "relay/multicast_out.hpp"
#include "relay/stats.hpp"

namespace speeddata::relay {

// Rate-limited warning about dropped datagrams: at most one line a second for the channel
// (all its receive threads), with the number suppressed since the last one.
class MalformedLog {
public:
    explicit MalformedLog(std::string channel, size_t max_datagram) : channel_(std::move(channel)), max_(max_datagram) {}
    void report(Malformed why, size_t where, size_t len, const sockaddr_in& from);

private:
    std::mutex mu_;
    std::string channel_;
    size_t max_;
    int64_t last_ns_ = 0;
    uint64_t suppressed_ = 0;
};

class Receiver {
public:
    // mcast: nullptr when multicast is off.
    Receiver(const config::ChannelConfig& config, DatagramChecker checker, net::Fd socket, CacheWriter& writer,
             MulticastOut* mcast, Counters& counters, MalformedLog& log);
    Receiver(const Receiver&) = delete;
    Receiver& operator=(const Receiver&) = delete;

    // Receives until stop becomes true, then publishes the block being filled (the writer
    // writes it before it stops).
    void run(const std::atomic<bool>& stop);

private:
    void receive_batch();
    void process_batch(unsigned n);
    void count_kernel_drops(const msghdr& m);

    const config::ChannelConfig& config_;
    DatagramChecker checker_;
    net::Fd sock_;
    CacheWriter& writer_;
    MulticastOut* mcast_;
    Counters& counters_;
    MalformedLog& malformed_log_;

    unsigned batch_ = 64;
    size_t slot_bytes_ = 0;
    std::unique_ptr<uint8_t[]> rx_buffers_;
    std::vector<mmsghdr> rx_msgs_;
    std::vector<iovec> rx_iov_;
    std::vector<sockaddr_in> rx_from_;
    std::vector<uint8_t> rx_control_;
    size_t control_bytes_ = 0;
    unsigned rx_used_ = 0;  // headers the last recvmmsg filled
    uint32_t last_kernel_drops_ = 0;
    CheckedBatch checked_;
};

}  // namespace speeddata::relay
