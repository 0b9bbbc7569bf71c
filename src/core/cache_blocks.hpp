// Which blocks of a channel's cache files can hold records of a time range, and reading
// them: the block selection through the .idx (docs/pivot.md, "Reading the cache"), shared by
// the pivot's export and the history engine (src/history/).
//
// For one file: the indexed blocks whose [min, max] overlaps [start, end) are read by
// seeking to their offsets; when the index stops short of the file's size (the relay is
// still writing the file, or crashed before indexing its last block) the blocks past the
// last indexed one are scanned; a file without an index is read whole; a fully indexed
// file without an overlapping block is not selected at all (and so never opened).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/avro/container.hpp"
#include "core/cache_layout.hpp"
#include "core/status.hpp"

namespace speeddata::cache {

struct BlockSelection {
    std::filesystem::path path;
    unsigned stream = 0;             // the file stream (relay receive thread) it belongs to
    std::vector<IndexEntry> blocks;  // indexed blocks to read, in file order
    bool scan_from_start = false;    // no usable index: read every block
    uint64_t tail_from = 0;          // then scan blocks from here to the end (0 = none)
    uint64_t file_size = 0;          // when selected
};

// The blocks of a cache file that may hold records in [start, end); nullopt when none can
// (or the file is gone). The index read is returned in *index when given.
std::optional<BlockSelection> select_blocks(const std::filesystem::path& file, int64_t start, int64_t end,
                                            std::vector<IndexEntry>* index = nullptr);
// Every block of a file, scanned from its first (explicit files, no index used).
BlockSelection whole_file(const std::filesystem::path& file);

// Reads the selected blocks of an open reader in file order and calls fn for each; stops at
// the first error (fn's or the reader's). A block cut off at the end (a file being written)
// ends the iteration; damage is skipped as FileReader does (reader.problems()).
using BlockFn = std::function<Status(const avro::Block&)>;
Status for_each_block(avro::FileReader& reader, const BlockSelection& selection, const BlockFn& fn);

// The same selected blocks one at a time (what for_each_block iterates over).
class BlockCursor {
public:
    BlockCursor(avro::FileReader& reader, const BlockSelection& selection) : r_(&reader), sel_(&selection) {}
    // The next selected block into out; false after the last.
    Result<bool> next(avro::Block& out);

private:
    avro::FileReader* r_;
    const BlockSelection* sel_;
    size_t next_indexed_ = 0;
    enum class Phase : uint8_t { start, indexed, tail, done } phase_ = Phase::start;
};

// Reading a whole channel: its selected files, which may belong to several file streams (a
// relay with several receive threads writes one per thread, each in arrival order).
//
// One stream: every file in order, its blocks as they are. Several: the streams' records are
// merged by time stamp (the file's speeddata.time_field and unit), record by record, the
// lower stream first on equal times, and handed over in blocks of merged records (a copy of
// the records; Block::file_offset is then that of the block the first record came from). A
// reader sees the same sequence as if one thread had received everything in time order.
struct ChannelReadHooks {
    // A file is opened, in the order its stream reaches it: take or check its schema; an error
    // stops the read. A file that cannot be opened because it is gone (retention) is skipped.
    std::function<Status(avro::FileReader&, const BlockSelection&)> opened;
    // A file was read to its end (its reader's problems() are final).
    std::function<void(avro::FileReader&, const BlockSelection&)> finished;
    // Damage found while merging (a record that does not decode: the rest of its block is
    // skipped, as the consumers do themselves).
    std::function<void(std::string)> problem;
};
using ChannelBlockFn = std::function<Status(const avro::Block&, const std::filesystem::path& file)>;
Status read_channel_blocks(const std::vector<BlockSelection>& files, const avro::FileReaderOptions& options,
                           const ChannelReadHooks& hooks, const ChannelBlockFn& fn);

}  // namespace speeddata::cache
