// The pivot engine: cuts a time range [start, end) of channels out of the relay's Avro cache
// into one column HDF5 file (a Set), or converts explicit container files. No HTTP here: the
// CLI (src/cli/cmd_pivot.cpp) and the REST server (src/pivot/server.cpp) both call this.
//
// Reading: only the files and blocks that can overlap the range are read. A file whose
// .idx covers it completely (last entry's end == file size) and has no overlapping block
// is not opened; overlapping blocks are read by seeking to their offsets; blocks past the
// last indexed one (the index lags, or the relay is still writing the file) are scanned.
// Records keep the order of the files; each is kept when start <= time < end.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/avro/schema.hpp"
#include "core/config/config.hpp"
#include "core/status.hpp"
#include "pivot/columns.hpp"

namespace speeddata::pivot {

struct Decimation {
    int factor = 1;  // 1 = every record
    config::DecimationAlgorithm algorithm = config::DecimationAlgorithm::downsample;
};

struct ExportRequest {
    int64_t start_ns = 0;                 // inclusive, ns since the Unix epoch
    int64_t end_ns = 0;                   // exclusive
    std::vector<std::string> channels;    // at least one
    std::vector<std::string> signals;     // top-level field names; empty = all
    Decimation decimation;
    // Schema of input files without a container header (the earlier relay's cache files;
    // avro::FileReaderOptions::headerless_schema). Files with a header ignore it.
    std::optional<avro::Schema> headerless_schema;
    // The v0.6 pivot API's answer (pivot.yaml compat.v06): a channel without a cache directory
    // and a range without records give empty groups, not not_found / no_data.
    bool empty_groups = false;
    // Called as blocks are read: bytes of the selected cache files read so far, and in all
    // (for a progress bar; the CLI's on a terminal). Empty: not called.
    std::function<void(uint64_t done, uint64_t total)> progress;
};

// How an export failed, so each boundary can pick its answer (HTTP status, exit code).
enum class ErrorKind { none, bad_request, not_found, no_data, io };

struct ExportResult {
    Status status;                    // ok, or the one-line reason
    ErrorKind kind = ErrorKind::none;
    uint64_t rows = 0;                // rows written, all channels
    uint64_t avro_bytes = 0;          // decompressed block bytes read
    uint64_t blocks_read = 0;
    uint64_t files_opened = 0;
    std::vector<std::string> problems;  // damaged blocks skipped (reported, not fatal)
    bool ok() const { return status.ok(); }
};

// Writes channels' records in [start_ns, end_ns) from <avro_path>/<channel>/ to out_path
// (replaced). Errors: bad_request (bad channel name, no such signal, end <= start),
// not_found (no cache directory for a channel), no_data (no record in the range in any
// channel; no file is left behind), io.
ExportResult export_range(const std::filesystem::path& avro_path, const ExportRequest& request,
                          const Hdf5Options& options, const std::filesystem::path& out_path);

// Converts explicit container files into one HDF5 Set: one group per channel (the file's
// speeddata.channel metadata, else the name before the first '_' of its file name, else the
// stem); files of the same channel are appended in the given order. The range filter of
// request applies when end_ns > start_ns; request.channels is ignored.
ExportResult convert_files(const std::vector<std::filesystem::path>& files, const ExportRequest& request,
                           const Hdf5Options& options, const std::filesystem::path& out_path);

// A channel's cached coverage, from the file names and .idx indexes (nothing else read).
struct ChannelCoverage {
    std::string name;
    uint64_t files = 0;
    uint64_t bytes = 0;      // .avro + .idx
    uint64_t records = 0;    // indexed records
    int64_t first_ns = 0;    // earliest indexed time stamp (0 when nothing indexed yet)
    int64_t last_ns = 0;     // latest indexed time stamp
};
std::vector<ChannelCoverage> list_channels(const std::filesystem::path& avro_path);
// One channel's coverage (all zero when it has no cache directory).
ChannelCoverage channel_coverage(const std::filesystem::path& avro_path, const std::string& name);
// The names of the channel directories under avro_path, sorted (what "known" channels are).
std::vector<std::string> cached_channel_names(const std::filesystem::path& avro_path);
// "channel 'a' has <first> .. <last> cached; channel 'b' has nothing cached" (from the .idx
// indexes: the block being written is not in them yet).
std::string describe_coverage(const std::filesystem::path& avro_path, const std::vector<std::string>& channels);

// speeddata::parse_time (core/time.hpp) relative to the current time: ISO 8601 with a zone,
// a date alone, or "now-30s". -> ns since the epoch.
Result<int64_t> parse_time(std::string_view text);
// speeddata::parse_duration_ns (core/time.hpp): "PT30S", "P1D", "30s", "5m". -> ns (> 0).
Result<int64_t> parse_iso_duration(std::string_view text);

// Splits a comma-separated list ("a, b,c"): items trimmed of spaces, empty items dropped.
std::vector<std::string> split_list(std::string_view text);

// pivot.yaml's hdf5.* as Hdf5Options.
Hdf5Options hdf5_options(const config::PivotConfig& cfg);

}  // namespace speeddata::pivot
