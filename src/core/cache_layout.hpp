// The on-disk layout of a channel's cache (docs/wire-format.md, "Cache files"), shared by
// the relay that writes it and the pivot that reads it.
//
//   <avro_path>/<channel>/<channel>_<YYYYmmddTHHMMSS.mmm>Z.avro   Avro container file
//   <avro_path>/<channel>/<channel>_<YYYYmmddTHHMMSS.mmm>Z.avro.idx  block index
//   <avro_path>/<channel>/<channel>_<YYYYmmddTHHMMSS.mmm>Z_s<K>.avro  file stream K >= 1
//
// The stamp is the UTC wall-clock time the file was opened; names sort chronologically.
// A relay with several receive threads writes one file stream per thread: thread 0's files
// have the plain name, thread K's the suffix _s<K>. Each stream is in arrival order by
// itself; a reader of the channel reads every stream and merges them by time
// (core/cache_blocks.hpp: read_channel_blocks).
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

// The container-file metadata every cache file carries besides avro.schema and avro.codec
// (docs/wire-format.md, "Cache files"). Written by the relay (relay/cache_writer.cpp), read
// by the pivot, the history engine and lib/python/speeddata/dataset.py (the same names).
namespace meta {
inline constexpr const char* channel = "speeddata.channel";        // the channel name
inline constexpr const char* time_field = "speeddata.time_field";  // the time field's name
inline constexpr const char* time_unit = "speeddata.time_unit";    // ns|us|ms|s, empty: inferred per value
inline constexpr const char* fingerprint = "speeddata.fingerprint";  // schema fingerprint, 16 hex digits
inline constexpr const char* created = "speeddata.created";        // ISO 8601, when the file was opened
inline constexpr const char* writer = "speeddata.writer";          // "speeddata relay <version>"
}  // namespace meta

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

// "<channel>_<stamp>.avro" for a file opened at start_ns; "<channel>_<stamp>_s<K>.avro" for
// file stream K >= 1 (receive thread K).
inline constexpr unsigned max_streams = 64;
std::string file_name(std::string_view channel, int64_t start_ns, unsigned stream = 0);
// The start time encoded in a cache file name of this channel, or nullopt.
std::optional<int64_t> parse_file_name(std::string_view file_name, std::string_view channel);
struct ParsedName {
    int64_t start_ns = 0;
    unsigned stream = 0;
};
// Start time and file stream of a cache file name of this channel, or nullopt.
std::optional<ParsedName> parse_cache_name(std::string_view file_name, std::string_view channel);

struct CacheFile {
    std::filesystem::path path;
    int64_t start_ns = 0;  // from the name
    unsigned stream = 0;   // file stream (receive thread) that wrote it, from the name
};
// The channel's container files of every stream, oldest first (by name: by start time, then
// by stream).
std::vector<CacheFile> list_files(const std::filesystem::path& channel_dir, std::string_view channel);
// The same files grouped by stream (lowest stream first), each group oldest first.
std::vector<std::vector<CacheFile>> by_stream(const std::vector<CacheFile>& files);

// Reads a whole index file; a trailing partial entry is ignored. Empty on a missing file.
std::vector<IndexEntry> read_index(const std::filesystem::path& index_path);
inline std::filesystem::path index_path(const std::filesystem::path& avro_file) {
    auto p = avro_file;
    p += ".idx";
    return p;
}

}  // namespace speeddata::cache
