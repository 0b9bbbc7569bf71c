// The relay's disk side: a thread that turns filled blocks into Avro container files,
// rotates them, applies retention and survives a full or unwritable disk.
//
// The receive thread fills a Block from a small fixed pool and submits it; the writer
// thread compresses and writes it with one write(2) and returns it to the pool. When the
// pool is empty (the disk is slower than the network), the receive thread drops records
// for the disk only (counted as records_not_written) and the multicast streams go on.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/avro/container.hpp"
#include "core/config/config.hpp"
#include "core/net/socket.hpp"
#include "relay/stats.hpp"

namespace speeddata::relay {

struct Block {
    std::string data;       // concatenated datums
    uint64_t count = 0;     // datums in data
    int64_t min_ns = INT64_MAX;
    int64_t max_ns = INT64_MIN;
    int64_t opened_mono_ns = 0;  // monotonic time of the first datum (for the age limit)
    void clear() { data.clear(); count = 0; min_ns = INT64_MAX; max_ns = INT64_MIN; opened_mono_ns = 0; }
};

class CacheWriter {
public:
    // pool_blocks buffers of block_bytes + max_datagram_bytes capacity are allocated once.
    CacheWriter(const config::ChannelConfig& config, const avro::Schema& schema, Counters& counters,
                std::string time_unit, size_t pool_blocks = 4);
    ~CacheWriter();

    // Scans the channel directory and starts the writer thread. Never fails on disk
    // problems (they are retried); the relay must run without a disk.
    void start();
    // Writes everything submitted, closes the file and joins the thread.
    void stop();

    // Receive thread: a free block, or nullptr when all are queued (writer behind).
    std::unique_ptr<Block> acquire();
    // Receive thread: hands a filled block to the writer.
    void submit(std::unique_ptr<Block> block);

private:
    struct FileState {
        std::filesystem::path path;
        uint64_t size = 0;
        int64_t start_ns = 0;
        int64_t first_time_ns = 0;  // first record time stamp in it (0 = none yet)
    };

    void run();
    void write_block(Block& b);
    bool open_file();
    void close_file();
    bool rotation_due() const;
    void apply_retention();
    void remove_file(size_t index);
    void refresh_gauges();
    void log_disk_error(const std::string& message);

    const config::ChannelConfig& config_;
    const avro::Schema& schema_;
    Counters& counters_;
    std::string time_unit_;

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<Block>> queue_;
    std::vector<std::unique_ptr<Block>> free_;
    bool stopping_ = false;
    std::thread thread_;

    // Writer-thread state.
    std::optional<avro::BlockEncoder> encoder_;
    net::Fd fd_;
    net::Fd index_fd_;
    bool index_ok_ = false;
    std::string encoded_;
    std::vector<FileState> files_;  // oldest first; the open one (if any) is last
    bool file_open_ = false;
    int64_t file_opened_mono_ns_ = 0;
    int64_t last_retention_mono_ns_ = 0;
    int64_t last_error_log_mono_ns_ = 0;
    uint64_t suppressed_errors_ = 0;
};

int64_t monotonic_ns();

}  // namespace speeddata::relay
