#include "relay/stats.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "core/fd.hpp"
#include "core/time.hpp"

namespace speeddata::relay {

std::string_view malformed_name(Malformed m) {
    static constexpr std::string_view names[] = {
        "truncated", "bad_varint", "negative_length", "bad_union_index", "bad_enum_index",
        "bad_boolean", "too_deep", "too_large", "bad_utf8", "oversized", "empty"};
    return names[static_cast<size_t>(m)];
}

nlohmann::json snapshot(const Counters& c) {
    auto r = [](const Counters::C& v) { return v.load(std::memory_order_relaxed); };
    nlohmann::json by_kind = nlohmann::json::object();
    for (size_t i = 0; i < c.malformed_by_kind.size(); ++i)
        by_kind[std::string(malformed_name(static_cast<Malformed>(i)))] = r(c.malformed_by_kind[i]);
    int64_t oldest = c.oldest_time_ns.load(), newest = c.newest_time_ns.load();
    return {
        {"datagrams", r(c.datagrams)},
        {"records", r(c.records)},
        {"bytes", r(c.bytes)},
        {"malformed", r(c.malformed)},
        {"malformed_by_kind", by_kind},
        {"kernel_drops", r(c.kernel_drops)},
        {"records_written", r(c.records_written)},
        {"blocks_written", r(c.blocks_written)},
        {"records_not_written", r(c.records_not_written)},
        {"disk_write_errors", r(c.disk_write_errors)},
        {"disk_ok", c.disk_ok.load()},
        {"files", c.files.load()},
        {"files_created", r(c.files_created)},
        {"files_deleted", r(c.files_deleted)},
        {"bytes_on_disk", c.bytes_on_disk.load()},
        {"oldest_time_ns", oldest},
        {"oldest_time", oldest ? nlohmann::json(format_iso8601(oldest)) : nlohmann::json()},
        {"newest_time_ns", newest},
        {"newest_time", newest ? nlohmann::json(format_iso8601(newest)) : nlohmann::json()},
        {"multicast_full_datagrams", r(c.mcast_full_datagrams)},
        {"multicast_decimated_datagrams", r(c.mcast_decimated_datagrams)},
        {"multicast_decimated_records", r(c.mcast_decimated_records)},
        {"multicast_errors", r(c.mcast_errors)},
    };
}

bool touch_file(const std::filesystem::path& path) {
    // Changes only the inode: no data block is needed, so it works on a full file system.
    return ::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) == 0;
}

std::string human_bytes(double b) {
    static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (b >= 1000 && u < 4) { b /= 1000; ++u; }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return buf;
}

}  // namespace speeddata::relay
