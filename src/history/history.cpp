#include "history/history.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <system_error>
#include <unordered_map>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/cache_blocks.hpp"
#include "core/cache_layout.hpp"
#include "core/config/config.hpp"
#include "core/fs.hpp"
#include "core/suggest.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "history/summaries.hpp"

namespace speeddata::history {

namespace fs = std::filesystem;

namespace {

// ---- the numeric fields of a file's schema, and decoding them from a record ------------

const char* kind_name(Kind k) {
    switch (k) {
        case Kind::int_field: return "int";
        case Kind::long_field: return "long";
        case Kind::float_field: return "float";
        case Kind::double_field: return "double";
    }
    return "";
}

struct NumericField {
    std::string name;
    Kind kind;
    int index = 0;  // top-level field index in the file's schema
};

// A file's layout: its time field and numeric fields (the summaries' fields, schema order).
struct Layout {
    std::string time_field;
    int time_index = -1;
    Kind time_kind = Kind::long_field;
    TimeUnit unit = TimeUnit::unknown;
    std::vector<NumericField> fields;

    int find(const std::string& name) const {
        for (size_t i = 0; i < fields.size(); ++i)
            if (fields[i].name == name) return static_cast<int>(i);
        return -1;
    }
};

std::optional<Kind> numeric_kind(avro::Type t) {
    switch (t) {
        case avro::Type::int_type: return Kind::int_field;
        case avro::Type::long_type: return Kind::long_field;
        case avro::Type::float_type: return Kind::float_field;
        case avro::Type::double_type: return Kind::double_field;
        default: return std::nullopt;
    }
}

Layout layout_of(const avro::FileReader& r) {
    Layout l;
    const auto& meta = r.metadata();
    auto it = meta.find(cache::meta::time_field);
    l.time_field = it == meta.end() || it->second.empty() ? "time" : it->second;
    auto ut = meta.find(cache::meta::time_unit);
    const avro::Schema& s = r.schema();
    if (s.root().type != avro::Type::record) return l;
    l.time_index = s.field_index(l.time_field);
    const auto& fields = s.root().fields;
    if (l.time_index >= 0) {
        const auto& node = s.node(fields[static_cast<size_t>(l.time_index)].type);
        auto k = numeric_kind(node.type);
        if (!k) l.time_index = -1;
        else {
            l.time_kind = *k;
            l.unit = time_unit_of(node, ut == meta.end() ? "" : ut->second);
        }
    }
    for (size_t i = 0; i < fields.size(); ++i) {
        if (static_cast<int>(i) == l.time_index) continue;
        if (auto k = numeric_kind(s.node(fields[i].type).type))
            l.fields.push_back({fields[i].name, *k, static_cast<int>(i)});
    }
    return l;
}

// The non-numeric top-level fields, for error messages.
std::vector<std::string> all_field_names(const avro::FileReader& r) {
    std::vector<std::string> out;
    if (r.schema().root().type != avro::Type::record) return out;
    for (const auto& f : r.schema().root().fields) out.push_back(f.name);
    return out;
}

double read_value(Kind k, const uint8_t* p, size_t n) {
    switch (k) {
        case Kind::int_field:
        case Kind::long_field: {
            int64_t v = 0;
            avro::read_long(p, p + n, v);
            return static_cast<double>(v);
        }
        case Kind::float_field: return static_cast<double>(avro::read_float(p));
        case Kind::double_field: return avro::read_double(p);
    }
    return 0;
}

// Decodes the records of a block: time (ns) and every numeric field of the layout.
class Decoder {
public:
    Decoder(const avro::Schema& schema, const Layout& layout)
        : validator_(schema), layout_(layout), spans_(std::max<size_t>(1, validator_.field_count())) {}

    // Calls fn(t, values, offset) for up to count records starting at byte `from` of the
    // block's data (values: one per layout field; offset: the record's start in the data);
    // stops at a malformed record. Returns the records decoded.
    template <typename Fn>
    uint64_t each_record(const avro::Block& b, size_t from, uint64_t count, std::vector<double>& values, Fn&& fn) {
        const uint8_t* base = reinterpret_cast<const uint8_t*>(b.data.data());
        const uint8_t* p = base + from;
        const uint8_t* end = base + b.data.size();
        values.resize(layout_.fields.size());
        uint64_t n = 0;
        for (; n < count && p < end; ++n) {
            auto v = validator_.validate(p, static_cast<size_t>(end - p), spans_.data());
            if (!v.ok()) break;
            const auto& ts = spans_[static_cast<size_t>(layout_.time_index)];
            int64_t t = 0;
            if (layout_.time_kind == Kind::int_field || layout_.time_kind == Kind::long_field) {
                int64_t raw = 0;
                avro::read_long(p + ts.offset, p + ts.offset + ts.length, raw);
                t = to_ns(raw, layout_.unit);
            } else {
                t = to_ns(read_value(layout_.time_kind, p + ts.offset, ts.length), layout_.unit);
            }
            for (size_t f = 0; f < layout_.fields.size(); ++f) {
                const auto& s = spans_[static_cast<size_t>(layout_.fields[f].index)];
                values[f] = read_value(layout_.fields[f].kind, p + s.offset, s.length);
            }
            fn(t, values, static_cast<size_t>(p - base));
            p += v.consumed;
        }
        return n;
    }
    template <typename Fn>
    uint64_t each_record(const avro::Block& b, std::vector<double>& values, Fn&& fn) {
        return each_record(b, 0, b.count, values, fn);
    }

private:
    avro::Validator validator_;
    const Layout& layout_;
    std::vector<avro::FieldSpan> spans_;
};

}  // namespace

// ---- the engine ----------------------------------------------------------------------------

struct HistoryEngine::Impl {
    HistoryOptions options;

    std::mutex mu;  // guards the fields below
    struct Entry {
        std::shared_ptr<FileSummaries> summaries;
        std::list<std::string>::iterator lru;
    };
    std::unordered_map<std::string, Entry> files;
    std::list<std::string> lru;  // most recently used first
    size_t bytes = 0;

    // Makes room (least recently used first), never evicting keep.
    void evict_locked(const std::string& keep) {
        while (bytes > options.memory_bytes && lru.size() > 1) {
            const std::string& victim = lru.back() == keep ? *std::prev(lru.end(), 2) : lru.back();
            auto it = files.find(victim);
            bytes -= it->second.summaries->bytes;
            auto l = it->second.lru;
            files.erase(it);
            lru.erase(l);
        }
    }

    void put_locked(const std::string& key, std::shared_ptr<FileSummaries> s) {
        auto it = files.find(key);
        if (it != files.end()) {
            bytes -= it->second.summaries->bytes;
            lru.erase(it->second.lru);
            files.erase(it);
        }
        lru.push_front(key);
        bytes += s->bytes;
        files[key] = Entry{std::move(s), lru.begin()};
        evict_locked(key);
    }

    std::shared_ptr<FileSummaries> get_locked(const std::string& key) {
        auto it = files.find(key);
        if (it == files.end()) return nullptr;
        lru.splice(lru.begin(), lru, it->second.lru);
        return it->second.summaries;
    }

    // One channel's part of a query: fills the series of its signals (aggs[i] per signal).
    struct Wanted {
        std::string field;
        std::vector<Agg>* tiles;
    };
    bool run_channel(const std::string& channel, const std::vector<fs::path>& files,
                     const std::vector<bool>& newest_of_stream, const SeriesRequest& req,
                     std::vector<Wanted>& wanted, Coverage& cov, QueryStats& stats, QueryError& err);
};

HistoryEngine::HistoryEngine(HistoryOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->options = std::move(options);
}
HistoryEngine::~HistoryEngine() = default;
const HistoryOptions& HistoryEngine::options() const { return impl_->options; }

void HistoryEngine::clear_memory() {
    std::lock_guard lk(impl_->mu);
    impl_->files.clear();
    impl_->lru.clear();
    impl_->bytes = 0;
}

HistoryOptions history_options(const config::StorageConfig& storage) {
    HistoryOptions o;
    o.avro_path = storage.avro_path;
    o.summary_path = storage.state_path / "history";
    return o;
}

fs::path sidecar_path(const fs::path& summary_path, const std::string& channel, const fs::path& avro_file) {
    fs::path p = summary_path / channel / avro_file.filename();
    p += ".sum";
    return p;
}

size_t remove_stale_sidecars(const fs::path& summary_path, const fs::path& avro_path, const std::string& channel) {
    size_t removed = 0;
    std::error_code ec;
    fs::path dir = summary_path / channel;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::string name = it->path().filename().string();
        std::string avro_name;
        if (name.size() > 4 && name.ends_with(".sum")) avro_name = name.substr(0, name.size() - 4);
        else if (name.find(".sum.tmp.") != std::string::npos) {
            // A temporary file older than a minute was left by a process that died writing it.
            std::error_code e2;
            auto age = fs::file_time_type::clock::now() - fs::last_write_time(it->path(), e2);
            if (!e2 && age > std::chrono::minutes(1) && fs::remove(it->path(), e2)) ++removed;
            continue;
        } else {
            continue;
        }
        std::error_code e2;
        if (!fs::exists(avro_path / channel / avro_name, e2) && !e2 && fs::remove(it->path(), e2)) ++removed;
    }
    return removed;
}

bool HistoryEngine::Impl::run_channel(const std::string& channel, const std::vector<fs::path>& paths,
                                      const std::vector<bool>& newest_of_stream, const SeriesRequest& req, std::vector<Wanted>& wanted, Coverage& cov,
                                      QueryStats& stats, QueryError& err) {
    const int64_t start = req.start_ns, end = req.end_ns;
    const int points = req.points;
    const int64_t tile_ns = (end - start) / points;
    // The tile a time range lies in whole, or -1.
    auto whole_tile = [&](int64_t lo, int64_t hi) {
        if (lo < start || hi >= end) return -1;
        int a = tile_of(start, end, points, lo);
        return a == tile_of(start, end, points, hi) ? a : -1;
    };
    auto note = [&](int64_t lo, int64_t hi) {
        if (!cov.any || lo < cov.first_ns) cov.first_ns = lo;
        if (!cov.any || hi > cov.last_ns) cov.last_ns = hi;
        cov.any = true;
    };
    avro::FileReaderOptions ropt;
    ropt.validate_datums = false;  // the decoder validates each record itself
    std::vector<double> values;

    for (size_t fi = 0; fi < paths.size(); ++fi) {
        const fs::path& path = paths[fi];
        // The newest file of its stream may still be written: no sidecar for it.
        const bool newest = newest_of_stream[fi];
        std::vector<cache::IndexEntry> index;
        auto sel = cache::select_blocks(path, start, end, &index);
        for (const auto& e : index) note(e.min_ns, e.max_ns);
        if (!sel) continue;
        ++stats.files;

        std::optional<avro::FileReader> reader;
        std::optional<Layout> layout;
        std::optional<Decoder> decoder;
        std::vector<int> dec_field;  // the requested signals' positions in the file's layout
        // 1: reader and decoder ready; 0: the file is gone (retention), skip it; -1: error.
        auto open_reader = [&]() -> int {
            if (reader) return 1;
            auto r = avro::FileReader::open(path, ropt);
            if (!r.ok()) {
                std::error_code ec;
                if (!fs::exists(path, ec)) return 0;
                err = {ErrorKind::io, r.message()};
                return -1;
            }
            reader.emplace(std::move(*r));
            layout.emplace(layout_of(*reader));
            if (layout->time_index < 0) {
                err = {ErrorKind::bad_request, "signals: channel '" + channel + "' has no numeric time field '" +
                                                   layout->time_field + "' in " + path.filename().string()};
                return -1;
            }
            decoder.emplace(reader->schema(), *layout);
            dec_field.assign(wanted.size(), -1);
            for (size_t w = 0; w < wanted.size(); ++w) dec_field[w] = layout->find(wanted[w].field);
            return 1;
        };
        // Records [from, from + count) of a block into the tiles.
        auto add_records = [&](const avro::Block& blk, size_t from, uint64_t count) {
            stats.records_read += decoder->each_record(
                blk, from, count, values, [&](int64_t t, const std::vector<double>& v, size_t) {
                    if (t < start || t >= end) return;
                    size_t tile = static_cast<size_t>(tile_of(start, end, points, t));
                    for (size_t w = 0; w < wanted.size(); ++w)
                        if (dec_field[w] >= 0) (*wanted[w].tiles)[tile].add(t, v[static_cast<size_t>(dec_field[w])]);
                });
        };

        // Summaries pay when their segments are about as long as a tile or shorter; for a
        // zoomed-in view every segment straddles tiles and the records are read directly.
        bool want = false;
        for (const auto& e : sel->blocks) {
            uint64_t segs = std::max<uint64_t>(1, (e.count + segment_records - 1) / segment_records);
            want = want || static_cast<uint64_t>(e.max_ns - e.min_ns) / segs <= static_cast<uint64_t>(tile_ns);
        }
        const bool closed = !newest && !index.empty();
        std::shared_ptr<FileSummaries> sums;
        if (want) {
            auto id = identity_of(path);
            if (!id) continue;  // removed by retention since we listed
            const std::string key = path.string();
            {
                std::lock_guard lk(mu);
                sums = get_locked(key);
            }
            if (sums && (sums->identity.inode != id->inode || sums->closed != closed ||
                         (closed && sums->identity != *id)))
                sums.reset();
            if (!sums && closed && !options.summary_path.empty()) {
                if (auto text = read_file(sidecar_path(options.summary_path, channel, path))) {
                    if (auto f = decode_sidecar(*text, *id, index)) {
                        sums = std::make_shared<FileSummaries>(std::move(*f));
                        ++stats.sidecars_loaded;
                    }
                }
            }
            if (!sums) {
                int ok = open_reader();
                if (ok < 0) return false;
                if (ok == 0) continue;
                sums = std::make_shared<FileSummaries>();
                sums->identity = *id;
                sums->closed = closed;
                for (const auto& nf : layout->fields) sums->fields.emplace_back(nf.name, nf.kind);
            }
            std::lock_guard lk(mu);
            put_locked(key, sums);
        }
        // The requested signals' positions in the summaries' fields.
        std::vector<int> sum_field(wanted.size(), -1);
        if (sums)
            for (size_t w = 0; w < wanted.size(); ++w)
                for (size_t f = 0; f < sums->fields.size(); ++f)
                    if (sums->fields[f].first == wanted[w].field) sum_field[w] = static_cast<int>(f);

        // A block through its summary: whole segments merged, straddling ones decoded from
        // blk (nullptr when no segment needs it).
        auto use_summary = [&](const BlockSummary& b, const avro::Block* blk) {
            ++stats.summaries_used;
            for (size_t g = 0; g < b.segments.size(); ++g) {
                const Segment& seg = b.segments[g];
                if (seg.t_max < start || seg.t_min >= end) continue;
                int k = whole_tile(seg.t_min, seg.t_max);
                if (k < 0) {
                    add_records(*blk, seg.offset, seg.records);
                    continue;
                }
                for (size_t w = 0; w < wanted.size(); ++w)
                    if (sum_field[w] >= 0)
                        (*wanted[w].tiles)[static_cast<size_t>(k)].merge(b.agg(g, static_cast<size_t>(sum_field[w])));
            }
        };
        auto needs_records = [&](const BlockSummary& b) {
            for (const auto& seg : b.segments)
                if (!(seg.t_max < start || seg.t_min >= end) && whole_tile(seg.t_min, seg.t_max) < 0) return true;
            return false;
        };
        // Computes a block's summary from its records.
        auto summarise = [&](const avro::Block& blk, const cache::IndexEntry& e) {
            auto s = std::make_shared<BlockSummary>();
            s->entry = e;
            s->fields = layout->fields.size();
            s->records = decoder->each_record(blk, values, [&](int64_t t, const std::vector<double>& v, size_t off) {
                if (s->segments.empty() || s->segments.back().records == segment_records) {
                    s->segments.push_back({static_cast<uint32_t>(off), 0, t, t});
                    s->aggs.resize(s->aggs.size() + s->fields);
                }
                Segment& seg = s->segments.back();
                seg.t_min = std::min(seg.t_min, t);
                seg.t_max = std::max(seg.t_max, t);
                ++seg.records;
                Agg* a = &s->aggs[(s->segments.size() - 1) * s->fields];
                for (size_t f = 0; f < v.size(); ++f) a[f].add(t, v[f]);
            });
            ++stats.summaries_computed;
            stats.records_read += s->records;
            return s;
        };

        for (const auto& e : sel->blocks) {
            std::shared_ptr<const BlockSummary> b;
            if (sums) {
                std::lock_guard lk(mu);
                auto it = sums->blocks.find(e.offset);
                if (it != sums->blocks.end() && same_entry(it->second->entry, e)) b = it->second;
            }
            if (b && !needs_records(*b)) {
                use_summary(*b, nullptr);
                continue;
            }
            int ok = open_reader();
            if (ok < 0) return false;
            if (ok == 0) break;
            cache::BlockSelection one;
            one.path = path;
            one.blocks.push_back(e);
            Status st = cache::for_each_block(*reader, one, [&](const avro::Block& blk) -> Status {
                if (blk.file_offset != e.offset) return {};  // damaged: the reader skipped ahead (problems())
                ++stats.blocks_read;
                if (!b && sums) {
                    auto s = summarise(blk, e);
                    if (s->records == e.count) {
                        std::lock_guard lk(mu);
                        if (sums->blocks.emplace(e.offset, s).second) {
                            size_t add = summary_bytes(*s);
                            sums->bytes += add;
                            auto fit = files.find(path.string());
                            if (fit != files.end() && fit->second.summaries == sums) {
                                bytes += add;
                                evict_locked(path.string());
                            }
                        }
                        b = s;
                    }
                }
                if (b) use_summary(*b, &blk);
                else add_records(blk, 0, blk.count);
                return {};
            });
            if (!st.ok()) {
                err = {ErrorKind::io, st.message()};
                return false;
            }
        }

        // Blocks past the index (the relay is writing them) or a file without an index.
        if (sel->tail_from || sel->scan_from_start) {
            int ok = open_reader();
            if (ok < 0) return false;
            if (ok == 0) continue;
            cache::BlockSelection rest;
            rest.path = path;
            rest.tail_from = sel->tail_from;
            rest.scan_from_start = sel->scan_from_start;
            Status st = cache::for_each_block(*reader, rest, [&](const avro::Block& blk) -> Status {
                ++stats.blocks_read;
                stats.records_read += decoder->each_record(blk, values, [&](int64_t t, const std::vector<double>& v, size_t) {
                    note(t, t);
                    if (t < start || t >= end) return;
                    size_t tile = static_cast<size_t>(tile_of(start, end, points, t));
                    for (size_t w = 0; w < wanted.size(); ++w)
                        if (dec_field[w] >= 0) (*wanted[w].tiles)[tile].add(t, v[static_cast<size_t>(dec_field[w])]);
                });
                return {};
            });
            if (!st.ok()) {
                err = {ErrorKind::io, st.message()};
                return false;
            }
        }

        // A closed file whose every indexed block is summarised is written to its sidecar once.
        if (sums && closed && !sums->persisted && !options.summary_path.empty()) {
            std::vector<std::shared_ptr<const BlockSummary>> all;
            {
                std::lock_guard lk(mu);
                if (sums->blocks.size() == index.size())
                    for (const auto& e : index) {
                        auto it = sums->blocks.find(e.offset);
                        if (it == sums->blocks.end() || !same_entry(it->second->entry, e)) break;
                        all.push_back(it->second);
                    }
            }
            if (all.size() == index.size() &&
                write_file_atomically(sidecar_path(options.summary_path, channel, path), encode_sidecar(*sums, all)).ok()) {
                std::lock_guard lk(mu);
                sums->persisted = true;
                ++stats.sidecars_written;
            }
        }
    }
    return true;
}

bool HistoryEngine::query(const SeriesRequest& req, SeriesAnswer& answer, QueryError& err) {
    answer = {};
    err = {};
    if (req.signals.empty()) {
        err = {ErrorKind::bad_request, "signals: at least one signal (channel.field) is required"};
        return false;
    }
    int64_t span = 0;
    if (req.end_ns <= req.start_ns || __builtin_sub_overflow(req.end_ns, req.start_ns, &span)) {
        err = {ErrorKind::bad_request, req.end_ns <= req.start_ns ? "end: must be after start"
                                                                  : "end: the range is too long"};
        return false;
    }
    if (req.points < 1 || req.points > max_points) {
        err = {ErrorKind::bad_request, "points: must be an integer in 1.." + std::to_string(max_points)};
        return false;
    }
    const fs::path& root = impl_->options.avro_path;
    auto known_channels = [&]() {
        std::vector<std::string> names;
        std::error_code ec;
        for (fs::directory_iterator it(root, ec), e; !ec && it != e; it.increment(ec)) {
            std::error_code e2;
            if (it->is_directory(e2) && config::check_channel_name(it->path().filename().string()).ok())
                names.push_back(it->path().filename().string());
        }
        std::sort(names.begin(), names.end());
        return names;
    };

    // Channels in order of first mention; each read once for all of its signals.
    std::vector<std::string> channels;
    for (const auto& s : req.signals) {
        Status st = config::check_channel_name(s.channel);
        if (!st.ok()) {
            err = {ErrorKind::bad_request, "signals: '" + s.channel + "." + s.field + "': " + st.message()};
            return false;
        }
        if (std::find(channels.begin(), channels.end(), s.channel) == channels.end()) channels.push_back(s.channel);
    }
    answer.series.resize(req.signals.size());
    for (size_t i = 0; i < req.signals.size(); ++i) {
        answer.series[i].signal = req.signals[i];
        answer.series[i].tiles.assign(static_cast<size_t>(req.points), Agg{});
    }
    for (const auto& ch : channels) {
        fs::path dir = root / ch;
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            const std::string hint = did_you_mean(ch, known_channels(), SIZE_MAX);
            err = {ErrorKind::not_found, "signals: unknown channel '" + ch + "' (" + (hint.empty() ? "known: none" : hint) + ")"};
            return false;
        }
        std::vector<fs::path> paths;
        std::vector<bool> newest_of_stream;  // a relay with several receive threads writes one file stream each
        {
            auto files = cache::list_files(dir, ch);
            std::vector<unsigned> seen;
            newest_of_stream.assign(files.size(), false);
            for (size_t i = files.size(); i-- > 0;) {
                if (std::find(seen.begin(), seen.end(), files[i].stream) != seen.end()) continue;
                seen.push_back(files[i].stream);
                newest_of_stream[i] = true;
            }
            for (const auto& f : files) paths.push_back(f.path);
        }
        if (!impl_->options.summary_path.empty()) remove_stale_sidecars(impl_->options.summary_path, root, ch);
        // The newest file's schema names the channel's signals.
        std::optional<avro::FileReader> newest;
        for (auto it = paths.rbegin(); it != paths.rend() && !newest; ++it) {
            auto r = avro::FileReader::open(*it);
            if (r.ok()) newest.emplace(std::move(*r));
        }
        if (!newest) {
            err = {ErrorKind::not_found, "signals: channel '" + ch + "' has no cache files yet"};
            return false;
        }
        Layout layout = layout_of(*newest);
        std::vector<std::string> numeric;
        for (const auto& f : layout.fields) numeric.push_back(ch + "." + f.name);
        std::vector<Impl::Wanted> wanted;
        std::vector<size_t> idx;
        for (size_t i = 0; i < req.signals.size(); ++i) {
            const auto& s = req.signals[i];
            if (s.channel != ch) continue;
            int f = layout.find(s.field);
            if (f < 0) {
                auto names = all_field_names(*newest);
                bool exists = std::find(names.begin(), names.end(), s.field) != names.end();
                if (exists)
                    err = {ErrorKind::bad_request, "signals: '" + ch + "." + s.field +
                                                       "' is not a numeric signal (numeric: " + join(numeric, ", ") + ")"};
                else {
                    // Closest by the field alone: the shared "channel." prefix must not make
                    // a short field look close to every other ("ch.q" is not "ch.a").
                    std::vector<std::string> fields;
                    for (const auto& f : layout.fields) fields.push_back(f.name);
                    const std::string near = closest_name(s.field, fields);
                    err = {ErrorKind::not_found, "signals: unknown signal '" + ch + "." + s.field + "' (" +
                                                     (near.empty() ? "" : "did you mean '" + ch + "." + near + "'? ") +
                                                     "known: " + (numeric.empty() ? "none" : join(numeric, ", ")) + ")"};
                }
                return false;
            }
            answer.series[i].type = kind_name(layout.fields[static_cast<size_t>(f)].kind);
            wanted.push_back({s.field, &answer.series[i].tiles});
            idx.push_back(i);
        }
        if (layout.time_index < 0) {
            err = {ErrorKind::bad_request, "signals: channel '" + ch + "' has no numeric time field '" +
                                               layout.time_field + "'"};
            return false;
        }
        Coverage cov;
        if (!impl_->run_channel(ch, paths, newest_of_stream, req, wanted, cov, answer.stats, err)) return false;
        for (size_t i : idx) answer.series[i].coverage = cov;
    }
    return true;
}

}  // namespace speeddata::history
