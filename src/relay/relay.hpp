// One relay: UDP in, validated records to the rolling Avro cache, multicast out (full rate
// and decimated). One process per channel, so a bad channel cannot take another down.
//
// The parts: Receiver (a receive thread: socket, DatagramChecker, its file stream's
// CacheWriter), MulticastOut (both multicast streams and the decimator, shared by the
// receive threads), CacheFiles (the channel's files: retention and gauges), StatusPublisher
// (status file and log line). Relay creates them, holds the channel's lock and runs them.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/config/config.hpp"
#include "core/lock.hpp"
#include "relay/cache_files.hpp"
#include "relay/cache_writer.hpp"
#include "relay/multicast_out.hpp"
#include "relay/receiver.hpp"
#include "relay/stats.hpp"

namespace speeddata::relay {

class Relay {
public:
    // Takes the channel's lock (<state_path>/relays/<channel>.lock: a second relay of the
    // channel fails with "already running (pid N)"), loads the schema, checks the time
    // field, binds the UDP port (receive_threads sockets) and opens the multicast socket.
    // Errors are one line naming the problem ("bind 127.0.0.1:26000: Address already in
    // use", "schema ...: time field 'time' not found").
    static Result<std::unique_ptr<Relay>> create(const config::ChannelConfig& config);
    ~Relay();

    // Runs until stop becomes true; then flushes every stream's block, closes the files and
    // writes a final status. Returns the process exit code.
    int run(const std::atomic<bool>& stop);

    const Counters& counters() const { return counters_; }
    size_t effective_receive_buffer() const { return effective_rcvbuf_; }

private:
    explicit Relay(const config::ChannelConfig& config);

    config::ChannelConfig config_;
    LockFile lock_;
    avro::Schema schema_;
    TimeUnit time_unit_ = TimeUnit::unknown;
    size_t effective_rcvbuf_ = 0;

    Counters counters_;
    std::unique_ptr<CacheFiles> files_;
    std::vector<std::unique_ptr<CacheWriter>> writers_;  // one per receive thread
    std::unique_ptr<MulticastOut> mcast_;
    std::unique_ptr<MalformedLog> malformed_log_;
    std::vector<std::unique_ptr<Receiver>> receivers_;
};

}  // namespace speeddata::relay
