// Publishes a relay's figures: the status file (docs/wire-format.md, section 4) every second
// and a log line every stats_interval, from a thread of its own so that neither the receive
// loop nor the writer ever formats JSON.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "relay/stats.hpp"

namespace speeddata::relay {

struct StatusInfo {
    uint64_t fingerprint = 0;
    size_t receive_buffer_bytes = 0;
    bool multicast_on = false;
    size_t burst_buffer_bytes = 0;
    unsigned receive_threads = 1;
};

class StatusPublisher {
public:
    StatusPublisher(const config::ChannelConfig& config, const Counters& counters, StatusInfo info);
    ~StatusPublisher();

    // Starts the thread (publishes at once, then every second) / stops it.
    void start(const std::atomic<bool>& stop);
    void join();
    // One publication now (the final one after a stop); interval_s 0 = no rates.
    void publish(double interval_s, bool log_line);

private:
    void loop(const std::atomic<bool>& stop);

    const config::ChannelConfig& config_;
    const Counters& counters_;
    StatusInfo info_;
    int64_t started_ns_ = 0;
    nlohmann::json last_snapshot_;
    bool status_failing_ = false;          // the last rewrite failed (full disk)
    int64_t last_status_error_log_ns_ = 0;
    std::thread thread_;
};

}  // namespace speeddata::relay
