// The on-disk layout of a channel's cache (docs/wire-format.md, "Cache files"), shared by
// the relay that writes it and the pivot that reads it.
//
//   <avro_path>/<channel>/<channel>_<YYYYmmddTHHMMSS.mmm>Z.avro   Avro container file
//   <avro_path>/<channel>/<channel>_<YYYYmmddTHHMMSS.mmm>Z.avro.idx  block index
//
// The stamp is the UTC wall-clock time the file was opened; names sort chronologically.
// The index holds one 40-byte little-endian entry per block written, after an 8-byte magic
// "SDIDX\x01\0\0": {u64 block offset, u64 record count, i64 min time ns, i64 max time ns,
// u64 block bytes on disk}. It may lag the container file by the last block after a crash;
// readers then scan the blocks past the last indexed one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace speeddata::cache {

inline constexpr char index_magic[8] = {'S', 'D', 'I', 'D', 'X', 1, 0, 0};
inline constexpr size_t index_entry_bytes = 40;

struct IndexEntry {
    uint64_t offset = 0;
    uint64_t count = 0;
    int64_t min_ns = 0;
    int64_t max_ns = 0;
    uint64_t size = 0;
};

void encode_index_entry(const IndexEntry& e, uint8_t out[index_entry_bytes]);
IndexEntry decode_index_entry(const uint8_t in[index_entry_bytes]);

// "<channel>_<stamp>.avro" for a file opened at start_ns.
std::string file_name(std::string_view channel, int64_t start_ns);
// The start time encoded in a cache file name of this channel, or nullopt.
std::optional<int64_t> parse_file_name(std::string_view file_name, std::string_view channel);

struct CacheFile {
    std::filesystem::path path;
    int64_t start_ns = 0;  // from the name
};
// The channel's container files, oldest first (by name).
std::vector<CacheFile> list_files(const std::filesystem::path& channel_dir, std::string_view channel);

// Reads a whole index file; a trailing partial entry is ignored. Empty on a missing file.
std::vector<IndexEntry> read_index(const std::filesystem::path& index_path);
inline std::filesystem::path index_path(const std::filesystem::path& avro_file) {
    auto p = avro_file;
    p += ".idx";
    return p;
}

}  // namespace speeddata::cache
