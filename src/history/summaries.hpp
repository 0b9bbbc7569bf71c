// Block summaries of the history engine (history.cpp): what one cache block holds per segment
// of records, in memory, and the sidecar files that keep a closed cache file's summaries
// across restarts (a versioned, checksummed binary layout; see encode_sidecar). Internal to
// src/history.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/cache_layout.hpp"
#include "history/history.hpp"

namespace speeddata::history {

enum class Kind : uint8_t { int_field = 1, long_field = 2, float_field = 3, double_field = 4 };

// A block's records in runs of at most segment_records, each with its byte offset in the
// block's decoded data, time range and per-field aggregate. A tile boundary inside a block
// then costs decoding one segment, not the block.
inline constexpr uint32_t segment_records = 256;

struct Segment {
    uint32_t offset = 0;  // of its first record in the block's decoded data
    uint32_t records = 0;
    int64_t t_min = 0, t_max = 0;
};

struct BlockSummary {
    cache::IndexEntry entry;  // the index entry it summarises
    uint64_t records = 0;     // records decoded (== entry.count unless the block is damaged)
    std::vector<Segment> segments;
    std::vector<Agg> aggs;  // segments × fields, segment-major
    size_t fields = 0;
    const Agg& agg(size_t seg, size_t field) const { return aggs[seg * fields + field]; }
};

struct FileIdentity {
    uint64_t size = 0;
    int64_t mtime_ns = 0;
    uint64_t inode = 0;
    bool operator==(const FileIdentity&) const = default;
};

// The file's size, modification time and inode: a sidecar is for exactly one version of it.
std::optional<FileIdentity> identity_of(const std::filesystem::path& p);

inline bool same_entry(const cache::IndexEntry& a, const cache::IndexEntry& b) {
    return a.offset == b.offset && a.count == b.count && a.min_ns == b.min_ns && a.max_ns == b.max_ns &&
           a.size == b.size;
}

// A file's summaries, block by block as queries need them. A closed file's (every file of
// a channel but its newest) go to its sidecar once every indexed block has one.
struct FileSummaries {
    FileIdentity identity;
    bool closed = false;
    bool persisted = false;  // loaded from or written to the sidecar
    std::vector<std::pair<std::string, Kind>> fields;
    std::map<uint64_t, std::shared_ptr<const BlockSummary>> blocks;  // by offset
    size_t bytes = 0;
};

inline size_t summary_bytes(const BlockSummary& b) {
    return sizeof(BlockSummary) + 64 + b.segments.size() * sizeof(Segment) + b.aggs.size() * sizeof(Agg);
}

// The sidecar of a closed file: its identity, fields and every block's summary.
std::string encode_sidecar(const FileSummaries& f, const std::vector<std::shared_ptr<const BlockSummary>>& blocks);
// Parses a sidecar; nullopt when damaged or for another version of the file.
std::optional<FileSummaries> decode_sidecar(const std::string& s, const FileIdentity& id,
                                            const std::vector<cache::IndexEntry>& index);

}  // namespace speeddata::history
