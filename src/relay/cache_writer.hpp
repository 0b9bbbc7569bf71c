// The relay's disk side: a thread that turns blocks of the burst buffer into Avro container
// files, rotates them, applies retention and survives a full or unwritable disk.
//
// The receive thread appends each valid datagram's datums to the burst buffer (one copy)
// and publishes a block at block_size or flush_interval; the writer thread writes it with
// writev straight from the buffer (count and size varints, datums, sync marker: the block
// is never copied again for the null codec) and frees its bytes. When the buffer is full
// (the disk is slower than the network, or stalled longer than the buffer lasts), the
// receive thread counts the records as records_not_written and multicast goes on.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/avro/container.hpp"
#include "core/config/config.hpp"
#include "core/net/socket.hpp"
#include "core/time.hpp"
#include "relay/burst_buffer.hpp"
#include "relay/cache_files.hpp"
#include "relay/stats.hpp"

namespace speeddata::relay {

// The writer's sense of time, swapped in tests (rotation, retention and block age are
// decided through it; nothing sleeps on it).
class Clock {
public:
    virtual ~Clock() = default;
    virtual int64_t monotonic_ns() const;  // for ages and intervals
    virtual int64_t wall_ns() const;       // for file names and retention by age
    static const Clock& real();
};

struct CacheWriterOptions {
    const Clock* clock = nullptr;  // nullptr: the real clock
    // Test-only: the writer thread sleeps once for stall_ms, stall_after_ms after it starts
    // (SPEEDDATA_TEST_WRITER_STALL=AFTER_MS:STALL_MS in the relay's environment).
    int64_t stall_after_ms = -1;
    int64_t stall_ms = 0;
    // The file stream this writer writes (receive thread K: names end _s<K>.avro, K >= 1).
    unsigned stream = 0;
    // The channel's file list shared by every stream's writer (retention, gauges); nullptr:
    // the writer keeps its own (one stream).
    CacheFiles* files = nullptr;
};

// The burst buffer a channel gets: burst_buffer, but at least two blocks and a datagram.
size_t burst_buffer_bytes(const config::ChannelConfig& config);

class CacheWriter {
public:
    CacheWriter(const config::ChannelConfig& config, const avro::Schema& schema, Counters& counters,
                std::string time_unit, CacheWriterOptions options = {});
    ~CacheWriter();

    // Scans the channel directory (unless the file list is shared: its owner scans it) and
    // starts the writer thread. Never fails on disk problems (they are retried); the relay
    // must run without a disk.
    void start();
    // Writes everything published, closes the file and joins the thread.
    void stop();

    // Receive thread: adds one valid datagram's datums to the block being filled; when the
    // burst buffer has no room they are counted as records_not_written instead.
    void append(const uint8_t* p, size_t len, uint64_t records, int64_t min_ns, int64_t max_ns);
    // Receive thread: publishes the block being filled when it is flush_interval old (or
    // now, with force), and returns idle buffer pages about once a second.
    void flush_if_due(bool force);
    size_t buffer_bytes() const { return ring_.capacity(); }
    const BurstBuffer& buffer() const { return ring_; }

    // Tests without the writer thread: scan() once, then write_pending() writes every
    // published block and runs the periodic duties (idle rotation, retention) on the
    // calling thread.
    void scan();
    void write_pending();

private:
    void run();
    void housekeeping();
    void maybe_stall();
    void write_block(const BlockRef& b);
    bool open_file();
    void close_file();
    bool rotation_due() const;
    void log_disk_error(const std::string& message);

    const config::ChannelConfig& config_;
    const avro::Schema& schema_;
    Counters& counters_;
    std::string time_unit_;
    CacheWriterOptions options_;
    const Clock& clock_;

    BurstBuffer ring_;
    int64_t last_trim_mono_ns_ = 0;  // receive thread
    std::atomic<bool> stopping_{false};
    std::thread thread_;

    // Writer-thread state.
    std::optional<avro::BlockEncoder> encoder_;
    net::Fd fd_;
    net::Fd index_fd_;
    bool index_ok_ = false;
    uint64_t file_end_ = 0;       // bytes of the open container file
    std::string encoded_;         // compressed codecs: the encoded block
    std::string contiguous_;      // compressed codecs: a block that wraps the ring, in one piece
    std::unique_ptr<CacheFiles> own_files_;  // when the list is not shared
    CacheFiles* files_ = nullptr;
    std::filesystem::path open_path_;
    uint64_t open_size_ = 0;      // bytes of the open file and its index (rotation.max_size)
    bool file_open_ = false;
    int64_t file_opened_mono_ns_ = 0;
    int64_t last_retention_mono_ns_ = 0;
    int64_t last_error_log_mono_ns_ = 0;
    uint64_t suppressed_errors_ = 0;
    int64_t started_mono_ns_ = 0;
    bool stalled_ = false;
};

}  // namespace speeddata::relay
