#include "relay/receiver.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

namespace speeddata::relay {

void MalformedLog::report(Malformed why, size_t where, size_t len, const sockaddr_in& from) {
    std::lock_guard lock(mu_);
    int64_t now = monotonic_ns();
    if (now - last_ns_ < 1'000'000'000LL) {
        ++suppressed_;
        return;
    }
    std::string detail = why == Malformed::oversized ? fmt::format("larger than max_datagram ({} bytes)", max_)
                         : why == Malformed::empty   ? std::string("empty datagram")
                                                     : fmt::format("{} at byte {}", malformed_name(why), where);
    spdlog::warn("[{}] dropped malformed datagram from {} ({} bytes): {}{}", channel_, net::to_string(from), len, detail,
                 suppressed_ ? fmt::format(" ({} more dropped since the last report)", suppressed_) : std::string());
    last_ns_ = now;
    suppressed_ = 0;
}

Receiver::Receiver(const config::ChannelConfig& config, DatagramChecker checker, net::Fd socket, CacheWriter& writer,
                   MulticastOut* mcast, Counters& counters, MalformedLog& log)
    : config_(config),
      checker_(std::move(checker)),
      sock_(std::move(socket)),
      writer_(writer),
      mcast_(mcast),
      counters_(counters),
      malformed_log_(log) {
    batch_ = static_cast<unsigned>(std::clamp(config.batch, 1, 1024));
    // One byte more than the limit so that an oversized datagram is seen, not silently cut.
    slot_bytes_ = std::min(config.max_datagram_bytes, max_udp_payload) + 1;
    // Not zero-filled: only the bytes datagrams actually use become resident.
    rx_buffers_ = std::make_unique_for_overwrite<uint8_t[]>(slot_bytes_ * batch_);
    rx_msgs_.resize(batch_);
    rx_iov_.resize(batch_);
    rx_from_.resize(batch_);
    control_bytes_ = CMSG_SPACE(sizeof(uint32_t));
    rx_control_.resize(control_bytes_ * batch_);
    for (unsigned i = 0; i < batch_; ++i) {
        rx_iov_[i] = {rx_buffers_.get() + i * slot_bytes_, slot_bytes_};
        msghdr& m = rx_msgs_[i].msg_hdr;
        m = msghdr{};
        m.msg_name = &rx_from_[i];
        m.msg_iov = &rx_iov_[i];
        m.msg_iovlen = 1;
        m.msg_control = &rx_control_[i * control_bytes_];
    }
    rx_used_ = batch_;  // all need their lengths set before the first call
    checked_.datagrams.reserve(batch_);
    checked_.datums.reserve(batch_);
    checked_.spans.reserve(static_cast<size_t>(batch_) * checker_.field_count());
}

void Receiver::count_kernel_drops(const msghdr& m) {
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&m), c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
            uint32_t drops = 0;
            std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
            if (drops > last_kernel_drops_) {
                counters_.kernel_drops.fetch_add(drops - last_kernel_drops_, std::memory_order_relaxed);
                last_kernel_drops_ = drops;
            }
        }
    }
}

void Receiver::process_batch(unsigned n) {
    uint64_t datagrams = 0, records = 0, bytes = 0;
    checked_.clear();
    for (unsigned i = 0; i < n; ++i) {
        const mmsghdr& mm = rx_msgs_[i];
        const uint8_t* p = rx_buffers_.get() + i * slot_bytes_;
        const size_t len = mm.msg_len;
        count_kernel_drops(mm.msg_hdr);
        DatagramCheck c = checker_.check(p, len, (mm.msg_hdr.msg_flags & MSG_TRUNC) != 0, checked_);
        if (!c.ok) {
            counters_.malformed.fetch_add(1, std::memory_order_relaxed);
            counters_.malformed_by_kind[static_cast<size_t>(c.why)].fetch_add(1, std::memory_order_relaxed);
            malformed_log_.report(c.why, c.where, len, rx_from_[i]);
            continue;
        }
        if (!checker_.has_time()) c.min_ns = c.max_ns = now_ns();
        ++datagrams;
        records += c.records;
        bytes += len;
        writer_.append(p, len, c.records, c.min_ns, c.max_ns);
    }
    if (mcast_) mcast_->send(checked_, counters_);
    counters_.datagrams.fetch_add(datagrams, std::memory_order_relaxed);
    counters_.records.fetch_add(records, std::memory_order_relaxed);
    counters_.bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void Receiver::receive_batch() {
    // recvmmsg changes only the headers it filled: reset those (rx_used_), not the batch.
    for (unsigned i = 0; i < rx_used_; ++i) {
        msghdr& m = rx_msgs_[i].msg_hdr;
        m.msg_namelen = sizeof(sockaddr_in);
        m.msg_controllen = control_bytes_;
        m.msg_flags = 0;
    }
    int n = ::recvmmsg(sock_.get(), rx_msgs_.data(), batch_, MSG_WAITFORONE, nullptr);
    rx_used_ = n > 0 ? static_cast<unsigned>(n) : 0;
    if (n > 0) {
        process_batch(static_cast<unsigned>(n));
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        spdlog::error("[{}] {}", config_.name, net::errno_message("recvmmsg"));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void Receiver::run(const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_relaxed)) {
        receive_batch();
        writer_.flush_if_due(false);
    }
    writer_.flush_if_due(true);
}

}  // namespace speeddata::relay
