// Inside the pivot: which files and blocks of each requested channel an export reads. Shared
// by the HDF5 export (pivot.cpp) and the CSV export (csv.cpp).
#pragma once

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>
#include <string>
#include <vector>

#include "core/cache_blocks.hpp"
#include "pivot/pivot.hpp"

namespace speeddata::pivot {

struct ChannelSource {
    std::string name;
    std::vector<cache::BlockSelection> files;
    std::filesystem::path schema_file;  // a file to take the schema from when no block is read
};

ExportResult fail(ErrorKind kind, std::string message);

// The selection of one of the channel's files, or nullptr. A block merged from several file
// streams (cache::read_channel_blocks) counts as progress in the file its first record came
// from.
inline const cache::BlockSelection* selection_of(const ChannelSource& src, const std::filesystem::path& path) {
    for (const auto& f : src.files)
        if (f.path == path) return &f;
    return nullptr;
}

// ExportRequest::progress in bytes of the selected spans of the cache files: a file's span
// runs from its first selected block to its end; after each block, the block's offset in it.
class ProgressMeter {
public:
    ProgressMeter(const ExportRequest& req, const std::vector<ChannelSource>& sources) : fn_(req.progress) {
        if (!fn_) return;
        for (const auto& s : sources)
            for (const auto& f : s.files) {
                auto [from, to] = span(f);
                total_ += to - from;
            }
    }
    // fn, and after it the progress (the identity when nobody listens).
    cache::BlockFn wrap(const cache::BlockSelection& sel, cache::BlockFn fn) {
        if (!fn_) return fn;
        auto [from, to] = span(sel);
        return [this, fn = std::move(fn), from = from, to = to](const avro::Block& b) {
            Status st = fn(b);
            fn_(done_ + (std::clamp(b.file_offset, from, to) - from), total_);
            return st;
        };
    }
    void file_done(const cache::BlockSelection& sel) {
        if (!fn_) return;
        auto [from, to] = span(sel);
        done_ += to - from;
        fn_(done_, total_);
    }

private:
    static std::pair<uint64_t, uint64_t> span(const cache::BlockSelection& s) {
        uint64_t size = s.file_size;
        if (size == 0) {
            std::error_code ec;
            auto n = std::filesystem::file_size(s.path, ec);
            size = ec ? 0 : static_cast<uint64_t>(n);
        }
        const uint64_t from = s.blocks.empty() || s.scan_from_start ? 0 : std::min(s.blocks.front().offset, size);
        return {from, size};
    }
    std::function<void(uint64_t, uint64_t)> fn_;
    uint64_t total_ = 0;
    uint64_t done_ = 0;
};

// A no_data result with what each requested channel has cached added to its message
// ("...: channel 'example' has 2026-12-01T10:00:00Z .. 2026-12-01T12:00:00Z cached"); any
// other result unchanged.
ExportResult with_coverage(ExportResult result, const std::filesystem::path& avro_path, const ExportRequest& request);

// Checks the request (channels, range, decimation, signals) and selects each channel's
// blocks. Returns an error result, or ok with sources filled.
ExportResult select_sources(const std::filesystem::path& avro_path, const ExportRequest& request,
                            std::vector<ChannelSource>& sources);

// Channels and their explicit files for convert_files(), grouped as documented there. A file
// without a container header (the earlier relay's) is read with request.headerless_schema.
ExportResult sources_of_files(const std::vector<std::filesystem::path>& files, const ExportRequest& request,
                              std::vector<ChannelSource>& sources);

}  // namespace speeddata::pivot
