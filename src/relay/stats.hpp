// A relay's counters: written by the receive and writer threads, read by the monitor thread
// that publishes them as a JSON status file (docs/relay.md, "Status file") and a log line.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace speeddata::relay {

// Why a datagram was dropped; index into Counters::malformed_by_kind.
enum class Malformed : uint8_t {
    truncated, bad_varint, negative_length, bad_union_index, bad_enum_index, bad_boolean,
    too_deep, too_large, bad_utf8, oversized, empty, count_
};
std::string_view malformed_name(Malformed m);

struct Counters {
    using C = std::atomic<uint64_t>;
    // receive path
    C datagrams{0};          // valid datagrams received
    C records{0};            // valid records (datums) received
    C bytes{0};              // payload bytes of valid datagrams
    C malformed{0};          // datagrams dropped as malformed (sum of malformed_by_kind)
    std::array<C, static_cast<size_t>(Malformed::count_)> malformed_by_kind{};
    C kernel_drops{0};       // datagrams the kernel dropped: receive queue full (SO_RXQ_OVFL)
    // disk path
    C records_written{0};    // records in blocks successfully written
    C blocks_written{0};
    C records_not_written{0};// records lost to the disk (full disk, I/O error, writer behind)
    C disk_write_errors{0};  // failed writes/opens
    C files_created{0};
    C files_deleted{0};      // by retention
    std::atomic<uint64_t> files{0};          // gauge: cache files of this channel on disk
    std::atomic<uint64_t> bytes_on_disk{0};  // gauge: their total size (incl. index files)
    std::atomic<int64_t> oldest_time_ns{0};  // gauge: first time stamp in the oldest file (0 = none)
    std::atomic<int64_t> newest_time_ns{0};  // gauge: last time stamp written
    std::atomic<bool> disk_ok{true};         // false while writes are failing
    // multicast
    C mcast_full_datagrams{0};
    C mcast_decimated_datagrams{0};
    C mcast_decimated_records{0};
    C mcast_errors{0};
};

// A point-in-time copy of the counters as JSON (field names are the documented contract).
nlohmann::json snapshot(const Counters& c);

// Sets the file's modification time to now (utimensat): needs no free block, so it succeeds on
// a full disk where rewriting the file cannot. False when the file does not exist.
bool touch_file(const std::filesystem::path& path);

// "1.2 MB", "340 kB", "12 B"
std::string human_bytes(double bytes);

}  // namespace speeddata::relay
