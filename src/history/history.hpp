// History tiles from the Avro cache: for a time range [start, end) split into `points`
// equal tiles, each numeric signal's count, min, max, first and last per tile, exactly as
// the raw records give them (docs/stripchart.md, "History API").
//
// Reading: the block selection of the pivot (core/cache_blocks.hpp). Each indexed block has
// a summary, computed once from its records: its records in segments of up to 256, each
// with its byte offset in the block, time range and per numeric field count, min, max,
// first and last. A segment whose records all fall into one tile is merged from the
// summary; a segment straddling a tile boundary is decoded from the block. Summaries are
// kept in memory and, for closed files (every file but a channel's newest), in a sidecar
// under HistoryOptions::summary_path (docs/wire-format.md, "History summaries"). Blocks past
// the last indexed one, and every block of a zoomed-in query (tiles shorter than segments),
// are decoded record by record. So each tile's min and max are the true extremes of the
// samples in it, and zooming out over a day reads summaries, not a day of records.
//
// Semantics per tile and signal: count = records with start <= time < end in the tile;
// min/max over the values that are not NaN (the first occurrence in read order wins a tie);
// first/last = the values of the samples with the smallest / largest time stamp (on equal
// time stamps the one read first / last). Read order = files by name, blocks by offset.
// Values are doubles (int and long converted; longs beyond 2^53 round as in any JSON reader).
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/config/config.hpp"
#include "core/status.hpp"

namespace speeddata::history {

// Aggregate of one signal's samples (a tile, or a block's summary).
struct Agg {
    static constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    uint64_t count = 0;
    double min = nan, max = nan, first = nan, last = nan;
    int64_t t_min = 0, t_max = 0, t_first = 0, t_last = 0;

    void add(int64_t t, double v) {
        if (v == v) {  // not NaN
            if (!(min == min) || v < min) { min = v; t_min = t; }
            if (!(max == max) || v > max) { max = v; t_max = t; }
        }
        if (count == 0 || t < t_first) { first = v; t_first = t; }
        if (count == 0 || t >= t_last) { last = v; t_last = t; }
        ++count;
    }
    // o holds samples read after this one's.
    void merge(const Agg& o) {
        if (o.count == 0) return;
        if (o.min == o.min && (!(min == min) || o.min < min)) { min = o.min; t_min = o.t_min; }
        if (o.max == o.max && (!(max == max) || o.max > max)) { max = o.max; t_max = o.t_max; }
        if (count == 0 || o.t_first < t_first) { first = o.first; t_first = o.t_first; }
        if (count == 0 || o.t_last >= t_last) { last = o.last; t_last = o.t_last; }
        count += o.count;
    }
};

struct SignalRef {
    std::string channel;
    std::string field;
};

struct SeriesRequest {
    std::vector<SignalRef> signals;  // at least one
    int64_t start_ns = 0;            // inclusive
    int64_t end_ns = 0;              // exclusive, > start
    int points = 1000;               // tiles, 1..max_points
};

inline constexpr int max_points = 10000;

// Tile k covers [tile_start(k), tile_start(k + 1)); exact integer boundaries.
inline int64_t tile_start(int64_t start, int64_t end, int points, int k) {
    __extension__ typedef __int128 i128;
    return start + static_cast<int64_t>(static_cast<i128>(end - start) * k / points);
}
// The tile of time t (start <= t < end): the k with tile_start(k) <= t < tile_start(k + 1).
// With d = t - start: floor(k·span/P) <= d < floor((k+1)·span/P) <=> k·span/P < d + 1 <=
// (k+1)·span/P, so k = ceil((d + 1)·P / span) - 1.
inline int tile_of(int64_t start, int64_t end, int points, int64_t t) {
    __extension__ typedef __int128 i128;
    return static_cast<int>((static_cast<i128>(t - start + 1) * points - 1) / (end - start));
}

struct Coverage {
    bool any = false;
    int64_t first_ns = 0;  // earliest time stamp cached for the channel (block index + blocks read)
    int64_t last_ns = 0;   // latest
};

struct Series {
    SignalRef signal;
    std::string type;        // Avro type of the field: int, long, float, double
    std::vector<Agg> tiles;  // points of them
    Coverage coverage;       // of the signal's channel
};

// Counters of one query, for tests and the benchmark.
struct QueryStats {
    uint64_t files = 0;              // files with selected blocks
    uint64_t blocks_read = 0;        // blocks decoded record by record (partial tiles, tails, new summaries)
    uint64_t records_read = 0;       // records decoded
    uint64_t summaries_used = 0;     // whole blocks taken from their summaries
    uint64_t summaries_computed = 0; // block summaries computed by this query
    uint64_t sidecars_written = 0;
    uint64_t sidecars_loaded = 0;
};

struct SeriesAnswer {
    std::vector<Series> series;  // in request order
    QueryStats stats;
};

enum class ErrorKind { none, bad_request, not_found, io };

struct QueryError {
    ErrorKind kind = ErrorKind::none;
    std::string message;  // starts with the parameter: "signals: unknown channel 'x' ..."
};

struct HistoryOptions {
    std::filesystem::path avro_path = "data/avro";  // storage.avro_path
    // Summary sidecars of closed files go to <summary_path>/<channel>/<file>.avro.sum;
    // empty: summaries are kept in memory only.
    std::filesystem::path summary_path;
    // Bound of the summaries kept in memory (closed files are reloaded from their sidecar).
    size_t memory_bytes = 512u << 20;
};

// The options for a server configured by global.yaml's storage: avro_path, and sidecars
// under <state_path>/history.
HistoryOptions history_options(const config::StorageConfig& storage);

// Thread-safe: one engine serves concurrent requests.
class HistoryEngine {
public:
    explicit HistoryEngine(HistoryOptions options);
    ~HistoryEngine();
    HistoryEngine(const HistoryEngine&) = delete;
    HistoryEngine& operator=(const HistoryEngine&) = delete;

    // Errors: bad_request (no signal, malformed name, range, points, non-numeric field),
    // not_found (unknown channel or field: the message lists the known ones), io.
    bool query(const SeriesRequest& request, SeriesAnswer& answer, QueryError& error);

    const HistoryOptions& options() const;
    // Drops the in-memory summaries (the benchmark's cold runs; sidecars stay).
    void clear_memory();

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// The summary sidecar of a cache file (under summary_path), and removal of sidecars whose
// cache file is gone (retention). Returns how many were removed.
std::filesystem::path sidecar_path(const std::filesystem::path& summary_path, const std::string& channel,
                                   const std::filesystem::path& avro_file);
size_t remove_stale_sidecars(const std::filesystem::path& summary_path, const std::filesystem::path& avro_path,
                             const std::string& channel);

}  // namespace speeddata::history
