#include "pivot/pivot.hpp"
#include "pivot/sources.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <memory>
#include <system_error>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/cache_blocks.hpp"
#include "core/cache_layout.hpp"
#include "core/decimate/decimator.hpp"
#include "core/suggest.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "pivot/export_threads.hpp"

namespace speeddata::pivot {

namespace fs = std::filesystem;

namespace {

std::string channel_of_file(const fs::path& p, const std::map<std::string, std::string>& meta) {
    auto it = meta.find(cache::meta::channel);
    if (it != meta.end() && !it->second.empty()) return it->second;
    std::string stem = p.stem().string();
    auto us = stem.find('_');
    return us == std::string::npos || us == 0 ? stem : stem.substr(0, us);
}

// One channel's group of an export: set up from the first file read (schema, time field,
// columns, decimator), fed block by block (time filter, decimation, column append), then
// finished with the group's attributes.
class ChannelExport {
public:
    ChannelExport(hid_t file, const ChannelSource& src, const ExportRequest& req, bool filter,
                  const Hdf5Options& options, ExportResult& res)
        : file_(file), src_(src), req_(req), filter_(filter), options_(options), res_(res) {}

    ProgressMeter* meter = nullptr;  // ExportRequest::progress, when set
    ExportThreads* threads = nullptr;  // the export's encoders and writer thread

    // Reads the selected blocks of every file of the channel, its file streams merged by time.
    Status read_files() {
        cache::ChannelReadHooks hooks;
        hooks.opened = [&](avro::FileReader& r, const cache::BlockSelection& sel) -> Status {
            ++res_.files_opened;
            if (!cols_) {
                Status st = setup(r, sel.path);
                if (!st.ok()) return st;
            } else if (r.schema().canonical_form() != canonical_) {
                return Status::invalid("channel '" + src_.name + "': the schema changes at " +
                                     sel.path.filename().string() + "; export the ranges before and after it separately");
            }
            source_files_.push_back(sel.path.filename().string());
            return {};
        };
        hooks.finished = [&](avro::FileReader& r, const cache::BlockSelection& sel) {
            if (meter) meter->file_done(sel);
            for (const auto& p : r.problems()) res_.problems.push_back(sel.path.filename().string() + ": " + p);
        };
        hooks.problem = [&](std::string p) { res_.problems.push_back(std::move(p)); };
        Status st = cache::read_channel_blocks(
            src_.files, reader_options(req_), hooks, [&](const avro::Block& b, const fs::path& path) -> Status {
                const cache::BlockSelection* sel = meter ? selection_of(src_, path) : nullptr;
                if (!sel) return process_block(b, path);
                return meter->wrap(*sel, [&](const avro::Block& blk) { return process_block(blk, path); })(b);
            });
        if (!st.ok()) return st;
        if (!cols_ && !src_.schema_file.empty()) {
            // No block overlapped: still give the channel its (empty) datasets.
            auto rr = avro::FileReader::open(src_.schema_file, reader_options(req_));
            if (rr.ok()) {
                Status st = setup(*rr, src_.schema_file);
                if (!st.ok()) return st;
            }
        }
        return {};
    }

    // Writes the buffered rows and the group's attributes; rows_out: the group's rows.
    Status finish(uint64_t& rows_out) {
        hid_t g;
        h5::H5Id bare;
        if (cols_) {
            Status st = cols_->finish();
            if (!st.ok()) return st;
            g = cols_->group();
        } else {
            bare = h5::H5Id(H5Gcreate2(file_, src_.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
            if (!bare.valid()) return Status::error("HDF5: cannot create group '" + src_.name + "'");
            g = bare.get();
        }
        uint64_t rows = cols_ ? cols_->rows() : 0;
        rows_out = rows;
        Status st = h5::set_attr(g, "channel", src_.name);
        if (st.ok()) st = h5::set_attr(g, "rows", static_cast<int64_t>(rows));
        if (st.ok()) st = h5::set_attr(g, "start_ns", req_.start_ns);
        if (st.ok()) st = h5::set_attr(g, "end_ns", req_.end_ns);
        if (st.ok()) st = h5::set_attr(g, "decimation_factor", static_cast<int64_t>(req_.decimation.factor));
        if (st.ok())
            st = h5::set_attr(g, "decimation_algorithm",
                              req_.decimation.factor > 1 ? config::algorithm_name(req_.decimation.algorithm) : "none");
        if (st.ok()) st = h5::set_attr(g, "source_files", source_files_);
        if (cols_) {
            if (st.ok()) st = h5::set_attr(g, "schema", schema_json_);
            if (st.ok()) st = h5::set_attr(g, "fingerprint", fingerprint_);
            if (st.ok()) st = h5::set_attr(g, "time_field", time_field_);
            if (st.ok()) st = h5::set_attr(g, "time_unit", unit_text_);
            if (st.ok() && rows) st = h5::set_attr(g, "first_time_ns", cols_->first_time_ns());
            if (st.ok() && rows) st = h5::set_attr(g, "last_time_ns", cols_->last_time_ns());
        }
        return st;
    }

private:
    static avro::FileReaderOptions reader_options(const ExportRequest& req) {
        avro::FileReaderOptions o;
        o.validate_datums = false;  // the column decoder checks bounds itself
        o.headerless_schema = req.headerless_schema;  // the earlier relay's files (docs/upgrading.md)
        return o;
    }

    // Compiles the channel's columns (and decimator) from the first file's schema and metadata.
    Status setup(const avro::FileReader& r, const fs::path& path) {
        const auto& meta = r.metadata();
        auto get = [&](const char* k, const char* d) {
            auto it = meta.find(k);
            return it == meta.end() ? std::string(d) : it->second;
        };
        time_field_ = get(cache::meta::time_field, "time");
        unit_text_ = get(cache::meta::time_unit, "");
        const avro::Schema& schema = r.schema();
        int ti = schema.field_index(time_field_);
        TimeUnit unit = TimeUnit::unknown;
        if (ti >= 0) unit = time_unit_of(schema.node(schema.root().fields[ti].type), unit_text_);
        if (unit_text_.empty())
            unit_text_ = unit == TimeUnit::unknown ? "inferred" : std::string(time_unit_name(unit));
        std::vector<std::string> sig;
        for (const auto& s : req_.signals)
            if (schema.field_index(s) >= 0) sig.push_back(s);
        if (!req_.signals.empty() && sig.empty()) sig.push_back(time_field_);  // time only
        auto c = ChannelColumns::create(schema, time_field_, unit, sig, options_, threads);
        if (!c.ok())
            return c.status().with_context("channel '" + src_.name + "' (" + path.filename().string() + ")");
        cols_ = std::move(*c);
        canonical_ = schema.canonical_form();
        schema_json_ = schema.json_text();
        fingerprint_ = hex16(schema.fingerprint());
        if (req_.decimation.factor > 1) {
            validator_ = std::make_unique<avro::Validator>(schema);
            spans_.resize(std::max<size_t>(1, validator_->field_count()));
            auto d = decimate::Decimator::create(schema, ti, req_.decimation.algorithm, req_.decimation.factor);
            if (!d.ok()) return d.status();
            decimator_.emplace(std::move(*d));
        }
        return cols_->open_group(file_, src_.name);
    }

    // Filters one block's records by time, decimates them and appends them to the columns.
    Status process_block(const avro::Block& b, const fs::path& path) {
        ++res_.blocks_read;
        res_.avro_bytes += b.data.size();
        const uint8_t* p = reinterpret_cast<const uint8_t*>(b.data.data());
        const uint8_t* end = p + b.data.size();
        auto malformed = [&] {
            res_.problems.push_back(path.string() + ": malformed record in block at offset " +
                                    std::to_string(b.file_offset) + "; rest of block skipped");
            return Status{};
        };
        for (uint64_t i = 0; i < b.count; ++i) {
            int64_t t = 0;
            if (!cols_->peek_time(p, end, t)) return malformed();
            bool keep = !filter_ || (t >= req_.start_ns && t < req_.end_ns);
            const uint8_t* next = nullptr;
            Status io;
            if (!keep) {
                next = cols_->skip(p, end);
            } else if (decimator_) {
                auto v = validator_->validate(p, static_cast<size_t>(end - p), spans_.data());
                if (v.ok()) {
                    next = p + v.consumed;
                    dec_out_.clear();
                    int n = decimator_->push(p, v.consumed, spans_.data(), dec_out_);
                    const uint8_t* q = reinterpret_cast<const uint8_t*>(dec_out_.data());
                    const uint8_t* qe = q + dec_out_.size();
                    for (int k = 0; k < n && q; ++k) q = cols_->append(q, qe, io);
                }
            } else {
                next = cols_->append(p, end, io);
            }
            if (!io.ok()) return io;
            if (!next) return malformed();
            p = next;
        }
        return {};
    }

    hid_t file_;
    const ChannelSource& src_;
    const ExportRequest& req_;
    const bool filter_;
    const Hdf5Options& options_;
    ExportResult& res_;

    std::unique_ptr<ChannelColumns> cols_;
    std::unique_ptr<avro::Validator> validator_;
    std::optional<decimate::Decimator> decimator_;
    std::vector<avro::FieldSpan> spans_;
    std::string dec_out_;
    std::string canonical_;
    std::vector<std::string> source_files_;
    std::string schema_json_, time_field_, unit_text_, fingerprint_;
};

ExportResult write_set(const std::vector<ChannelSource>& sources, const ExportRequest& req, bool filter,
                       const Hdf5Options& options, const fs::path& out_path) {
    h5::quiet_errors();
    ExportResult res;
    std::error_code ec;
    fs::remove(out_path, ec);
    h5::H5Id file(H5Fcreate(out_path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    if (!file.valid()) return fail(ErrorKind::io, "cannot create " + out_path.string());
    auto abort = [&](ErrorKind k, const std::string& msg) {
        file.reset();
        fs::remove(out_path, ec);
        auto r = fail(k, msg);
        r.problems = res.problems;
        return r;
    };
    std::vector<std::string> names;
    for (const auto& s : sources) names.push_back(s.name);
    Status st = h5::set_attr(file.get(), "format", "speeddata-pivot 1");
    if (st.ok()) st = h5::set_attr(file.get(), "channels", names);
    if (st.ok() && filter) st = h5::set_attr(file.get(), "start", format_iso8601(req.start_ns));
    if (st.ok() && filter) st = h5::set_attr(file.get(), "end", format_iso8601(req.end_ns));
    if (st.ok()) st = h5::set_attr(file.get(), "start_ns", filter ? req.start_ns : 0);
    if (st.ok()) st = h5::set_attr(file.get(), "end_ns", filter ? req.end_ns : 0);
    if (st.ok()) st = h5::set_attr(file.get(), "created", format_iso8601(now_ns()));
    if (st.ok()) st = h5::set_attr(file.get(), "decimation_factor", static_cast<int64_t>(req.decimation.factor));
    if (st.ok())
        st = h5::set_attr(file.get(), "decimation_algorithm",
                          req.decimation.factor > 1 ? config::algorithm_name(req.decimation.algorithm) : "none");
    if (!st.ok()) return abort(ErrorKind::io, st.message());
    ProgressMeter meter(req, sources);
    ExportThreads threads(options.threads);  // joined before the file is closed
    for (const auto& src : sources) {
        uint64_t rows = 0;
        ChannelExport channel(file.get(), src, req, filter, options, res);
        channel.meter = &meter;
        channel.threads = &threads;
        st = channel.read_files();
        if (st.ok()) st = channel.finish(rows);
        if (!st.ok()) {
            const bool user = st.code() == StatusCode::invalid_argument;  // the request's fault, not the disk's
            return abort(user ? ErrorKind::bad_request : ErrorKind::io, st.message());
        }
        res.rows += rows;
    }
    if (res.rows == 0 && !req.empty_groups) {
        std::string range = filter ? " in [" + format_iso8601(req.start_ns) + ", " + format_iso8601(req.end_ns) + ")" : "";
        return abort(ErrorKind::no_data, "no data" + range + " for channels " + join(names, ","));
    }
    if (!file.reset()) return abort(ErrorKind::io, "HDF5: cannot close " + out_path.string() + " (disk full?)");
    return res;
}

}  // namespace

Hdf5Options hdf5_options(const config::PivotConfig& cfg) {
    Hdf5Options o;
    o.gzip = cfg.compression == "gzip";
    o.gzip_level = cfg.compression_level;
    o.shuffle = cfg.shuffle;
    o.chunk_rows = cfg.chunk_rows;
    o.threads = static_cast<unsigned>(cfg.threads);
    return o;
}

ExportResult fail(ErrorKind kind, std::string message) {
    ExportResult r;
    r.kind = kind;
    r.status = Status::error(std::move(message));
    return r;
}

ExportResult select_sources(const fs::path& avro_path, const ExportRequest& req, std::vector<ChannelSource>& sources) {
    if (req.channels.empty()) return fail(ErrorKind::bad_request, "channels: at least one channel is required");
    if (req.end_ns <= req.start_ns) return fail(ErrorKind::bad_request, "end: must be after start");
    if (req.decimation.factor < 1) return fail(ErrorKind::bad_request, "decimate: must be an integer >= 1");
    for (const auto& ch : req.channels) {
        Status st = config::check_channel_name(ch);
        if (!st.ok()) return fail(ErrorKind::bad_request, "channels: " + st.message());
        fs::path dir = avro_path / ch;
        std::error_code ec;
        const bool known = fs::is_directory(dir, ec);
        if (!known && !req.empty_groups) {
            const std::string hint = did_you_mean(ch, cached_channel_names(avro_path));
            return fail(ErrorKind::not_found, "channels: unknown channel '" + ch + "' (" +
                                                  (hint.empty() ? "no channel is cached in " + avro_path.string() + " yet" : hint) + ")");
        }
        for (const auto& s : sources)
            if (s.name == ch) return fail(ErrorKind::bad_request, "channels: '" + ch + "' named twice");
        ChannelSource src;
        src.name = ch;
        if (!known) {
            sources.push_back(std::move(src));  // an empty group
            continue;
        }
        auto files = cache::list_files(dir, ch);
        for (const auto& f : files) {
            if (auto sel = cache::select_blocks(f.path, req.start_ns, req.end_ns)) {
                sel->stream = f.stream;
                src.files.push_back(std::move(*sel));
            }
        }
        if (!files.empty()) src.schema_file = files.back().path;
        sources.push_back(std::move(src));
    }
    // A signal must exist in at least one requested channel.
    // With empty groups allowed, channels with no file have nothing to check a name against.
    const bool any_schema =
        std::any_of(sources.begin(), sources.end(), [](const ChannelSource& c) { return !c.schema_file.empty(); });
    if (!req.signals.empty() && (any_schema || !req.empty_groups)) {
        // The requested channels' fields (newest file's schema), in schema order, each once.
        std::vector<std::string> fields;
        for (const auto& src : sources) {
            if (src.schema_file.empty()) continue;
            auto r = avro::FileReader::open(src.schema_file);
            if (!r.ok() || r->schema().root().type != avro::Type::record) continue;
            for (const auto& f : r->schema().root().fields)
                if (std::find(fields.begin(), fields.end(), f.name) == fields.end()) fields.push_back(f.name);
        }
        for (const auto& s : req.signals) {
            if (std::find(fields.begin(), fields.end(), s) != fields.end()) continue;
            const std::string hint = did_you_mean(s, fields);
            return fail(ErrorKind::bad_request, "signals: no requested channel has a signal '" + s + "'" +
                                                    (hint.empty() ? std::string() : " (" + hint + ")"));
        }
    }
    return {};
}

ExportResult sources_of_files(const std::vector<fs::path>& files, const ExportRequest& req,
                              std::vector<ChannelSource>& sources) {
    if (files.empty()) return fail(ErrorKind::bad_request, "files: at least one .avro file is required");
    avro::FileReaderOptions ropt;
    ropt.validate_datums = false;
    ropt.headerless_schema = req.headerless_schema;
    for (const auto& f : files) {
        auto r = avro::FileReader::open(f, ropt);
        if (!r.ok()) return fail(ErrorKind::not_found, r.message());
        std::string ch = channel_of_file(f, r->metadata());
        auto it = std::find_if(sources.begin(), sources.end(), [&](const ChannelSource& s) { return s.name == ch; });
        if (it == sources.end()) {
            sources.push_back(ChannelSource{ch, {}, f});
            it = sources.end() - 1;
        }
        it->files.push_back(cache::whole_file(f));
        // Files of one relay's several file streams are merged by time like the cache is.
        if (auto name = cache::parse_cache_name(f.filename().string(), ch)) it->files.back().stream = name->stream;
    }
    return {};
}

ExportResult export_range(const fs::path& avro_path, const ExportRequest& req, const Hdf5Options& options,
                          const fs::path& out_path) {
    std::vector<ChannelSource> sources;
    ExportResult sel = select_sources(avro_path, req, sources);
    if (!sel.ok()) return sel;
    return with_coverage(write_set(sources, req, true, options, out_path), avro_path, req);
}

ExportResult with_coverage(ExportResult result, const fs::path& avro_path, const ExportRequest& req) {
    if (result.kind != ErrorKind::no_data) return result;
    result.status = Status::error(result.status.message() + ": " + describe_coverage(avro_path, req.channels));
    return result;
}

std::vector<std::string> cached_channel_names(const fs::path& avro_path) {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(avro_path, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code e2;
        if (it->is_directory(e2) && config::check_channel_name(it->path().filename().string()).ok())
            names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

ChannelCoverage channel_coverage(const fs::path& avro_path, const std::string& name) {
    ChannelCoverage c;
    c.name = name;
    bool any = false;
    for (const auto& f : cache::list_files(avro_path / name, name)) {
        std::error_code e;
        uint64_t sz = fs::file_size(f.path, e);
        if (e) continue;
        ++c.files;
        c.bytes += sz;
        auto ip = cache::index_path(f.path);
        uint64_t isz = fs::file_size(ip, e);
        if (!e) c.bytes += isz;
        for (const auto& entry : cache::read_index(ip)) {
            c.records += entry.count;
            if (!any || entry.min_ns < c.first_ns) c.first_ns = entry.min_ns;
            if (!any || entry.max_ns > c.last_ns) c.last_ns = entry.max_ns;
            any = true;
        }
    }
    return c;
}

std::string describe_coverage(const fs::path& avro_path, const std::vector<std::string>& channels) {
    std::string out;
    for (const auto& ch : channels) {
        if (!out.empty()) out += "; ";
        const ChannelCoverage c = channel_coverage(avro_path, ch);
        out += "channel '" + ch + "' has ";
        if (c.records > 0)
            out += format_iso8601(c.first_ns) + " .. " + format_iso8601(c.last_ns) + " cached";
        else if (c.files > 0)
            out += "no indexed records yet (" + std::to_string(c.files) + (c.files == 1 ? " file" : " files") + ")";
        else
            out += "nothing cached";
    }
    return out;
}

ExportResult convert_files(const std::vector<fs::path>& files, const ExportRequest& req, const Hdf5Options& options,
                           const fs::path& out_path) {
    std::vector<ChannelSource> sources;
    ExportResult sel = sources_of_files(files, req, sources);
    if (!sel.ok()) return sel;
    bool filter = req.end_ns > req.start_ns;
    return write_set(sources, req, filter, options, out_path);
}

std::vector<ChannelCoverage> list_channels(const fs::path& avro_path) {
    std::vector<ChannelCoverage> out;
    for (const auto& n : cached_channel_names(avro_path)) out.push_back(channel_coverage(avro_path, n));
    return out;
}

// ---- time parameters: the parsers live in core/time ------------------------------------

Result<int64_t> parse_time(std::string_view text) { return speeddata::parse_time(text, now_ns()); }

Result<int64_t> parse_iso_duration(std::string_view text) { return parse_duration_ns(text); }

std::vector<std::string> split_list(std::string_view text) {
    std::vector<std::string> out;
    size_t b = 0;
    while (b <= text.size()) {
        size_t e = text.find(',', b);
        if (e == std::string_view::npos) e = text.size();
        std::string_view item = text.substr(b, e - b);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (!item.empty()) out.emplace_back(item);
        b = e + 1;
    }
    return out;
}

}  // namespace speeddata::pivot
