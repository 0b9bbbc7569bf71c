// A channel's cache files on disk, shared by the writers of its file streams (one per receive
// thread, docs/relay.md): the list that retention works on and the status file's gauges
// (files, bytes on disk, oldest time). Retention is per channel, so it sees every stream's
// files: the oldest closed file goes first, whichever stream wrote it; no stream's open file
// is ever removed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <vector>

#include "core/config/config.hpp"
#include "relay/stats.hpp"

namespace speeddata::relay {

class Clock;

class CacheFiles {
public:
    CacheFiles(const config::ChannelConfig& config, Counters& counters, const Clock& clock);
    CacheFiles(const CacheFiles&) = delete;
    CacheFiles& operator=(const CacheFiles&) = delete;

    // Lists the channel directory (every stream's files), before the writers start.
    void scan();

    // A writer opened a file (empty but for header and index magic: `bytes`), wrote a block
    // of records [min_ns, max_ns] to it (`bytes` more), closed it.
    void opened(const std::filesystem::path& path, uint64_t bytes, int64_t start_ns);
    void grew(unsigned stream, const std::filesystem::path& path, uint64_t bytes, int64_t wall_ns, int64_t min_ns,
              int64_t max_ns);
    void closed(const std::filesystem::path& path);

    // Removes the oldest closed files while any retention limit is exceeded: age (TTL, by
    // last write), the channel's quota, the filesystem's minimum free space.
    void apply_retention();

private:
    struct FileState {
        std::filesystem::path path;
        uint64_t size = 0;          // container + index bytes
        int64_t start_ns = 0;
        int64_t first_time_ns = 0;  // first record time stamp in it (0 = none yet)
        int64_t last_write_ns = 0;  // wall clock of the last write (retention.ttl)
        bool open = false;          // a writer is appending to it
    };
    FileState* find(const std::filesystem::path& path);
    void remove_file(size_t index);
    void refresh_gauges();

    const config::ChannelConfig& config_;
    Counters& counters_;
    const Clock& clock_;
    std::mutex mu_;
    std::vector<FileState> files_;  // oldest first
    std::vector<int64_t> newest_;   // per stream: the last block's newest time stamp
};

}  // namespace speeddata::relay
