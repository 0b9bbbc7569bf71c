#include "core/cache_blocks.hpp"

#include <algorithm>
#include <string>
#include <system_error>

#include "core/avro/codec.hpp"
#include "core/time.hpp"

namespace speeddata::cache {

namespace fs = std::filesystem;

std::optional<BlockSelection> select_blocks(const fs::path& file, int64_t start, int64_t end,
                                            std::vector<IndexEntry>* index_out) {
    BlockSelection sel;
    sel.path = file;
    auto index = read_index(index_path(file));
    std::error_code ec;
    sel.file_size = fs::file_size(file, ec);
    if (ec) return std::nullopt;  // removed by retention meanwhile
    if (index_out) *index_out = index;
    if (index.empty()) {
        sel.scan_from_start = true;
        return sel;
    }
    for (const auto& e : index)
        if (e.max_ns >= start && e.min_ns < end) sel.blocks.push_back(e);
    uint64_t indexed_end = index.back().offset + index.back().size;
    if (sel.file_size > indexed_end) sel.tail_from = indexed_end;
    if (sel.blocks.empty() && sel.tail_from == 0) return std::nullopt;
    return sel;
}

BlockSelection whole_file(const fs::path& file) {
    BlockSelection sel;
    sel.path = file;
    sel.scan_from_start = true;
    return sel;
}

Result<bool> BlockCursor::next(avro::Block& out) {
    for (;;) {
        switch (phase_) {
            case Phase::start:
                phase_ = sel_->scan_from_start ? Phase::tail : Phase::indexed;
                break;
            case Phase::indexed: {
                if (next_indexed_ < sel_->blocks.size()) {
                    Status st = r_->seek(sel_->blocks[next_indexed_++].offset);
                    if (!st.ok()) return st;
                    auto more = r_->next_block(out);
                    if (!more.ok() || *more) return more;
                }
                // The indexed blocks are read (or one was cut off): the blocks past the index.
                phase_ = Phase::done;
                if (sel_->tail_from) {
                    Status st = r_->seek(sel_->tail_from);
                    if (!st.ok()) return st;
                    phase_ = Phase::tail;
                }
                break;
            }
            case Phase::tail: {
                auto more = r_->next_block(out);
                if (!more.ok() || *more) return more;
                phase_ = Phase::done;
                break;
            }
            case Phase::done:
                return false;
        }
    }
}

Status for_each_block(avro::FileReader& r, const BlockSelection& sel, const BlockFn& fn) {
    avro::Block block;
    BlockCursor cursor(r, sel);
    for (;;) {
        auto more = cursor.next(block);
        if (!more.ok()) return more.status();
        if (!*more) return {};
        Status st = fn(block);
        if (!st.ok()) return st;
    }
}

namespace {

// Opens a selected file: nullopt with ok status when it is gone (retention removed it).
Result<std::optional<avro::FileReader>> open_selected(const BlockSelection& sel, const avro::FileReaderOptions& o) {
    auto r = avro::FileReader::open(sel.path, o);
    if (r.ok()) return std::optional<avro::FileReader>(std::move(*r));
    std::error_code ec;
    if (!fs::exists(sel.path, ec)) return std::optional<avro::FileReader>();
    return r.status();
}

Status read_one_stream(const std::vector<BlockSelection>& files, const avro::FileReaderOptions& options,
                       const ChannelReadHooks& hooks, const ChannelBlockFn& fn) {
    for (const auto& sel : files) {
        auto r = open_selected(sel, options);
        if (!r.ok()) return r.status();
        if (!*r) continue;
        avro::FileReader& reader = **r;
        if (hooks.opened) {
            Status st = hooks.opened(reader, sel);
            if (!st.ok()) return st;
        }
        Status st = for_each_block(reader, sel, [&](const avro::Block& b) { return fn(b, sel.path); });
        if (!st.ok()) return st;
        if (hooks.finished) hooks.finished(reader, sel);
    }
    return {};
}

// The time stamp of each record of a file, in ns: its speeddata.time_field in its unit (as
// the relay indexed it). Records without a usable time field sort as time 0.
class RecordClock {
public:
    explicit RecordClock(const avro::FileReader& r) : validator_(r.schema()) {
        spans_.resize(std::max<size_t>(1, validator_.field_count()));
        const auto& meta = r.metadata();
        auto get = [&](const char* k, const char* d) {
            auto it = meta.find(k);
            return it == meta.end() ? std::string(d) : it->second;
        };
        const avro::Schema& schema = r.schema();
        field_ = schema.root().type == avro::Type::record ? schema.field_index(get(cache::meta::time_field, "time")) : -1;
        if (field_ < 0) return;
        const auto& node = schema.node(schema.root().fields[static_cast<size_t>(field_)].type);
        unit_ = time_unit_of(node, get(cache::meta::time_unit, ""));
        type_ = node.type;
    }
    // Length of the record at p (0 when it does not decode) and its time stamp.
    size_t next(const uint8_t* p, const uint8_t* end, int64_t& t) {
        auto v = validator_.validate(p, static_cast<size_t>(end - p), spans_.data());
        if (!v.ok() || v.consumed == 0) return 0;
        t = 0;
        if (field_ >= 0) {
            const auto& s = spans_[static_cast<size_t>(field_)];
            const uint8_t* q = p + s.offset;
            switch (type_) {
                case avro::Type::int_type:
                case avro::Type::long_type: {
                    int64_t x = 0;
                    avro::read_long(q, q + s.length, x);
                    t = to_ns(x, unit_);
                    break;
                }
                case avro::Type::float_type: t = to_ns(static_cast<double>(avro::read_float(q)), unit_); break;
                case avro::Type::double_type: t = to_ns(avro::read_double(q), unit_); break;
                default: break;
            }
        }
        return v.consumed;
    }

private:
    avro::Validator validator_;
    std::vector<avro::FieldSpan> spans_;
    int field_ = -1;
    TimeUnit unit_ = TimeUnit::unknown;
    avro::Type type_ = avro::Type::null_type;
};

// One stream's position in a merge: its files in order, the open file's selected blocks, and
// the record at the head.
struct StreamHead {
    std::vector<const BlockSelection*> files;
    size_t next_file = 0;
    const BlockSelection* sel = nullptr;
    std::optional<avro::FileReader> reader;
    std::optional<BlockCursor> cursor;
    std::optional<RecordClock> clock;
    avro::Block block;
    const uint8_t* p = nullptr;
    const uint8_t* end = nullptr;
    uint64_t left = 0;  // records of the block from p on
    size_t len = 0;     // the head record's length (0: the stream is exhausted)
    int64_t t = 0;      // and its time stamp
};

class Merge {
public:
    Merge(const avro::FileReaderOptions& o, const ChannelReadHooks& h) : options_(o), hooks_(h) {}

    // Moves the stream to its next record (opening blocks and files as needed).
    Status advance(StreamHead& s) {
        s.len = 0;
        for (;;) {
            if (s.left > 0) {
                s.len = s.clock->next(s.p, s.end, s.t);
                if (s.len > 0) return {};
                if (hooks_.problem)
                    hooks_.problem(s.sel->path.string() + ": malformed record in block at offset " +
                                   std::to_string(s.block.file_offset) + "; rest of block skipped");
                s.left = 0;
            }
            if (s.cursor) {
                auto more = s.cursor->next(s.block);
                if (!more.ok()) return more.status();
                if (*more) {
                    s.p = reinterpret_cast<const uint8_t*>(s.block.data.data());
                    s.end = s.p + s.block.data.size();
                    s.left = s.block.count;
                    continue;
                }
                s.cursor.reset();
                if (hooks_.finished) hooks_.finished(*s.reader, *s.sel);
                s.reader.reset();
            }
            if (s.next_file == s.files.size()) return {};  // exhausted
            s.sel = s.files[s.next_file++];
            auto r = open_selected(*s.sel, options_);
            if (!r.ok()) return r.status();
            if (!*r) continue;
            s.reader.emplace(std::move(**r));
            if (hooks_.opened) {
                Status st = hooks_.opened(*s.reader, *s.sel);
                if (!st.ok()) return st;
            }
            s.clock.emplace(*s.reader);
            s.cursor.emplace(*s.reader, *s.sel);
        }
    }

    // Takes the head record of the stream into the merged block and moves on.
    Status take(StreamHead& s) {
        if (count_ == 0) {
            first_offset_ = s.block.file_offset;
            first_file_ = s.sel->path;
        }
        out_.append(reinterpret_cast<const char*>(s.p), s.len);
        ++count_;
        s.p += s.len;
        --s.left;
        return advance(s);
    }

    Status flush(const ChannelBlockFn& fn, bool force) {
        if (count_ == 0 || (!force && out_.size() < block_bytes)) return {};
        avro::Block b;
        b.count = count_;
        b.data = out_;
        b.file_offset = first_offset_;
        Status st = fn(b, first_file_);
        out_.clear();
        count_ = 0;
        return st;
    }

private:
    static constexpr size_t block_bytes = 256 * 1024;
    const avro::FileReaderOptions& options_;
    const ChannelReadHooks& hooks_;
    std::string out_;
    uint64_t count_ = 0;
    uint64_t first_offset_ = 0;
    fs::path first_file_;
};

}  // namespace

Status read_channel_blocks(const std::vector<BlockSelection>& files, const avro::FileReaderOptions& options,
                           const ChannelReadHooks& hooks, const ChannelBlockFn& fn) {
    std::vector<unsigned> ids;
    for (const auto& f : files)
        if (std::find(ids.begin(), ids.end(), f.stream) == ids.end()) ids.push_back(f.stream);
    if (ids.size() <= 1) return read_one_stream(files, options, hooks, fn);

    std::sort(ids.begin(), ids.end());
    std::vector<StreamHead> heads(ids.size());
    for (const auto& f : files) {
        auto at = static_cast<size_t>(std::lower_bound(ids.begin(), ids.end(), f.stream) - ids.begin());
        heads[at].files.push_back(&f);
    }
    Merge merge(options, hooks);
    for (auto& h : heads) {
        Status st = merge.advance(h);
        if (!st.ok()) return st;
    }
    for (;;) {
        // The earliest head (a handful of streams: a linear scan beats a heap).
        StreamHead* best = nullptr;
        for (auto& h : heads)
            if (h.len > 0 && (!best || h.t < best->t)) best = &h;
        if (!best) break;
        Status st = merge.take(*best);
        if (st.ok()) st = merge.flush(fn, false);
        if (!st.ok()) return st;
    }
    return merge.flush(fn, true);
}

}  // namespace speeddata::cache
