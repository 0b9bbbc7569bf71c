#include "pivot/pivot.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <memory>
#include <system_error>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/cache_layout.hpp"
#include "core/decimate/decimator.hpp"
#include "core/time.hpp"

namespace speeddata::pivot {

namespace fs = std::filesystem;

namespace {

// One file to read and which of its blocks.
struct FileSel {
    fs::path path;
    std::vector<uint64_t> offsets;  // indexed blocks overlapping the range
    bool scan_from_start = false;   // no usable index: read every block
    uint64_t tail_from = 0;         // then scan blocks from here to the end (0 = none)
};

struct ChannelSource {
    std::string name;
    std::vector<FileSel> files;
    fs::path schema_file;  // a file to take the schema from when no block is read
};

ExportResult fail(ErrorKind kind, std::string message) {
    ExportResult r;
    r.kind = kind;
    r.status = Status::error(std::move(message));
    return r;
}

// The blocks of a cache file that may hold records in [start, end).
std::optional<FileSel> select_blocks(const fs::path& file, int64_t start, int64_t end) {
    FileSel sel;
    sel.path = file;
    auto index = cache::read_index(cache::index_path(file));
    std::error_code ec;
    uint64_t size = fs::file_size(file, ec);
    if (ec) return std::nullopt;  // removed by retention meanwhile
    if (index.empty()) {
        sel.scan_from_start = true;
        return sel;
    }
    for (const auto& e : index)
        if (e.max_ns >= start && e.min_ns < end) sel.offsets.push_back(e.offset);
    uint64_t indexed_end = index.back().offset + index.back().size;
    if (size > indexed_end) sel.tail_from = indexed_end;
    if (sel.offsets.empty() && sel.tail_from == 0) return std::nullopt;
    return sel;
}

std::string channel_of_file(const fs::path& p, const std::map<std::string, std::string>& meta) {
    auto it = meta.find("speeddata.channel");
    if (it != meta.end() && !it->second.empty()) return it->second;
    std::string stem = p.stem().string();
    auto us = stem.find('_');
    return us == std::string::npos || us == 0 ? stem : stem.substr(0, us);
}

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += sep;
        out += v[i];
    }
    return out;
}

// Writes one channel's group: reads the selected blocks, filters by time, decimates, appends.
Status write_channel(hid_t file, const ChannelSource& src, const ExportRequest& req, bool filter,
                     const Hdf5Options& options, ExportResult& res, uint64_t& rows_out) {
    std::unique_ptr<ChannelColumns> cols;
    std::unique_ptr<avro::Validator> validator;
    std::optional<decimate::Decimator> decimator;
    std::vector<avro::FieldSpan> spans;
    std::string dec_out;
    std::string canonical;
    std::vector<std::string> source_files;
    std::string schema_json, time_field, unit_text, fingerprint;

    auto setup = [&](const avro::FileReader& r, const fs::path& path) -> Status {
        const auto& meta = r.metadata();
        auto get = [&](const char* k, const char* d) {
            auto it = meta.find(k);
            return it == meta.end() ? std::string(d) : it->second;
        };
        time_field = get("speeddata.time_field", "time");
        unit_text = get("speeddata.time_unit", "");
        const avro::Schema& schema = r.schema();
        int ti = schema.field_index(time_field);
        TimeUnit unit = TimeUnit::unknown;
        if (ti >= 0) unit = time_unit_of(schema.node(schema.root().fields[ti].type), unit_text);
        if (unit_text.empty()) unit_text = unit == TimeUnit::unknown ? "inferred" : std::string(time_unit_name(unit));
        std::vector<std::string> sig;
        for (const auto& s : req.signals)
            if (schema.field_index(s) >= 0) sig.push_back(s);
        if (!req.signals.empty() && sig.empty()) sig.push_back(time_field);  // time only
        auto c = ChannelColumns::create(schema, time_field, unit, sig, options);
        if (!c.ok()) return c.status().with_context("channel '" + src.name + "' (" + path.filename().string() + ")");
        cols = std::move(*c);
        canonical = schema.canonical_form();
        schema_json = schema.json_text();
        char fp[17];
        std::snprintf(fp, sizeof fp, "%016llx", static_cast<unsigned long long>(schema.fingerprint()));
        fingerprint = fp;
        if (req.decimation.factor > 1) {
            validator = std::make_unique<avro::Validator>(schema);
            spans.resize(std::max<size_t>(1, validator->field_count()));
            auto d = decimate::Decimator::create(schema, ti, req.decimation.algorithm, req.decimation.factor);
            if (!d.ok()) return d.status();
            decimator.emplace(std::move(*d));
        }
        return cols->open_group(file, src.name);
    };

    avro::FileReaderOptions ropt;
    ropt.validate_datums = false;  // the column decoder checks bounds itself
    avro::Block block;
    for (const auto& sel : src.files) {
        auto rr = avro::FileReader::open(sel.path, ropt);
        if (!rr.ok()) {
            std::error_code ec;
            if (!fs::exists(sel.path, ec)) continue;  // retention removed it since we listed
            return rr.status();
        }
        ++res.files_opened;
        avro::FileReader& r = *rr;
        if (!cols) {
            Status st = setup(r, sel.path);
            if (!st.ok()) return st;
        } else if (r.schema().canonical_form() != canonical) {
            return Status::error("channel '" + src.name + "': the schema changes at " + sel.path.filename().string() +
                                 "; export the ranges before and after it separately");
        }
        source_files.push_back(sel.path.filename().string());

        auto process_block = [&](const avro::Block& b) -> Status {
            ++res.blocks_read;
            res.avro_bytes += b.data.size();
            const uint8_t* p = reinterpret_cast<const uint8_t*>(b.data.data());
            const uint8_t* end = p + b.data.size();
            for (uint64_t i = 0; i < b.count; ++i) {
                int64_t t = 0;
                if (!cols->peek_time(p, end, t)) {
                    res.problems.push_back(sel.path.string() + ": malformed record in block at offset " +
                                           std::to_string(b.file_offset) + "; rest of block skipped");
                    return {};
                }
                bool keep = !filter || (t >= req.start_ns && t < req.end_ns);
                const uint8_t* next = nullptr;
                Status io;
                if (!keep) {
                    next = cols->skip(p, end);
                } else if (decimator) {
                    auto v = validator->validate(p, static_cast<size_t>(end - p), spans.data());
                    if (v.ok()) {
                        next = p + v.consumed;
                        dec_out.clear();
                        int n = decimator->push(p, v.consumed, spans.data(), dec_out);
                        const uint8_t* q = reinterpret_cast<const uint8_t*>(dec_out.data());
                        const uint8_t* qe = q + dec_out.size();
                        for (int k = 0; k < n && q; ++k) q = cols->append(q, qe, io);
                    }
                } else {
                    next = cols->append(p, end, io);
                }
                if (!io.ok()) return io;
                if (!next) {
                    res.problems.push_back(sel.path.string() + ": malformed record in block at offset " +
                                           std::to_string(b.file_offset) + "; rest of block skipped");
                    return {};
                }
                p = next;
            }
            return {};
        };

        if (sel.scan_from_start) {
            for (;;) {
                auto more = r.next_block(block);
                if (!more.ok()) return more.status();
                if (!*more) break;
                Status st = process_block(block);
                if (!st.ok()) return st;
            }
        } else {
            for (uint64_t off : sel.offsets) {
                Status st = r.seek(off);
                if (!st.ok()) return st;
                auto more = r.next_block(block);
                if (!more.ok()) return more.status();
                if (!*more) break;
                st = process_block(block);
                if (!st.ok()) return st;
            }
            if (sel.tail_from) {
                Status st = r.seek(sel.tail_from);
                if (!st.ok()) return st;
                for (;;) {
                    auto more = r.next_block(block);
                    if (!more.ok()) return more.status();
                    if (!*more) break;
                    st = process_block(block);
                    if (!st.ok()) return st;
                }
            }
        }
        for (const auto& p : r.problems()) res.problems.push_back(sel.path.filename().string() + ": " + p);
    }
    if (!cols && !src.schema_file.empty()) {
        // No block overlapped: still give the channel its (empty) datasets.
        auto rr = avro::FileReader::open(src.schema_file, ropt);
        if (rr.ok()) {
            Status st = setup(*rr, src.schema_file);
            if (!st.ok()) return st;
        }
    }
    hid_t g;
    h5::H5Id bare;
    if (cols) {
        Status st = cols->finish();
        if (!st.ok()) return st;
        g = cols->group();
    } else {
        bare = h5::H5Id(H5Gcreate2(file, src.name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        if (!bare.valid()) return Status::error("HDF5: cannot create group '" + src.name + "'");
        g = bare.get();
    }
    uint64_t rows = cols ? cols->rows() : 0;
    rows_out = rows;
    Status st = h5::set_attr(g, "channel", src.name);
    if (st.ok()) st = h5::set_attr(g, "rows", static_cast<int64_t>(rows));
    if (st.ok()) st = h5::set_attr(g, "start_ns", req.start_ns);
    if (st.ok()) st = h5::set_attr(g, "end_ns", req.end_ns);
    if (st.ok()) st = h5::set_attr(g, "decimation_factor", static_cast<int64_t>(req.decimation.factor));
    if (st.ok())
        st = h5::set_attr(g, "decimation_algorithm",
                          req.decimation.factor > 1 ? config::algorithm_name(req.decimation.algorithm) : "none");
    if (st.ok()) st = h5::set_attr(g, "source_files", source_files);
    if (cols) {
        if (st.ok()) st = h5::set_attr(g, "schema", schema_json);
        if (st.ok()) st = h5::set_attr(g, "fingerprint", fingerprint);
        if (st.ok()) st = h5::set_attr(g, "time_field", time_field);
        if (st.ok()) st = h5::set_attr(g, "time_unit", unit_text);
        if (st.ok() && rows) st = h5::set_attr(g, "first_time_ns", cols->first_time_ns());
        if (st.ok() && rows) st = h5::set_attr(g, "last_time_ns", cols->last_time_ns());
    }
    return st;
}

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
    for (const auto& src : sources) {
        uint64_t rows = 0;
        st = write_channel(file.get(), src, req, filter, options, res, rows);
        if (!st.ok()) {
            bool user = st.message().find("no signal") != std::string::npos ||
                        st.message().find("schema changes") != std::string::npos;
            return abort(user ? ErrorKind::bad_request : ErrorKind::io, st.message());
        }
        res.rows += rows;
    }
    if (res.rows == 0) {
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

ExportResult export_range(const fs::path& avro_path, const ExportRequest& req, const Hdf5Options& options,
                          const fs::path& out_path) {
    if (req.channels.empty()) return fail(ErrorKind::bad_request, "channels: at least one channel is required");
    if (req.end_ns <= req.start_ns) return fail(ErrorKind::bad_request, "end: must be after start");
    if (req.decimation.factor < 1) return fail(ErrorKind::bad_request, "decimate: must be an integer >= 1");
    std::vector<ChannelSource> sources;
    for (const auto& ch : req.channels) {
        Status st = config::check_channel_name(ch);
        if (!st.ok()) return fail(ErrorKind::bad_request, "channels: " + st.message());
        fs::path dir = avro_path / ch;
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) return fail(ErrorKind::not_found, "channels: unknown channel '" + ch + "'");
        for (const auto& s : sources)
            if (s.name == ch) return fail(ErrorKind::bad_request, "channels: '" + ch + "' named twice");
        ChannelSource src;
        src.name = ch;
        auto files = cache::list_files(dir, ch);
        for (const auto& f : files)
            if (auto sel = select_blocks(f.path, req.start_ns, req.end_ns)) src.files.push_back(std::move(*sel));
        if (!files.empty()) src.schema_file = files.back().path;
        sources.push_back(std::move(src));
    }
    // A signal must exist in at least one requested channel.
    if (!req.signals.empty()) {
        for (const auto& s : req.signals) {
            bool found = false;
            for (const auto& src : sources) {
                if (src.schema_file.empty()) continue;
                auto r = avro::FileReader::open(src.schema_file);
                if (r.ok() && r->schema().field_index(s) >= 0) found = true;
                if (found) break;
            }
            if (!found) return fail(ErrorKind::bad_request, "signals: no requested channel has a signal '" + s + "'");
        }
    }
    return write_set(sources, req, true, options, out_path);
}

ExportResult convert_files(const std::vector<fs::path>& files, const ExportRequest& req, const Hdf5Options& options,
                           const fs::path& out_path) {
    if (files.empty()) return fail(ErrorKind::bad_request, "files: at least one .avro file is required");
    std::vector<ChannelSource> sources;
    for (const auto& f : files) {
        auto r = avro::FileReader::open(f);
        if (!r.ok()) return fail(ErrorKind::not_found, r.message());
        std::string ch = channel_of_file(f, r->metadata());
        auto it = std::find_if(sources.begin(), sources.end(), [&](const ChannelSource& s) { return s.name == ch; });
        if (it == sources.end()) {
            sources.push_back(ChannelSource{ch, {}, f});
            it = sources.end() - 1;
        }
        FileSel sel;
        sel.path = f;
        sel.scan_from_start = true;
        it->files.push_back(std::move(sel));
    }
    bool filter = req.end_ns > req.start_ns;
    return write_set(sources, req, filter, options, out_path);
}

std::vector<ChannelCoverage> list_channels(const fs::path& avro_path) {
    std::vector<ChannelCoverage> out;
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(avro_path, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code e2;
        if (it->is_directory(e2) && config::check_channel_name(it->path().filename().string()).ok())
            names.push_back(it->path().filename().string());
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
        ChannelCoverage c;
        c.name = n;
        bool any = false;
        for (const auto& f : cache::list_files(avro_path / n, n)) {
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
        out.push_back(c);
    }
    return out;
}

// ---- ISO 8601 ---------------------------------------------------------------------------

namespace {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Cursor {
    std::string_view s;
    size_t i = 0;
    bool digits(int n, int& out) {
        out = 0;
        for (int k = 0; k < n; ++k) {
            if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
            out = out * 10 + (s[i++] - '0');
        }
        return true;
    }
    bool eat(char c) {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    bool done() const { return i >= s.size(); }
};

}  // namespace

Result<int64_t> parse_time(std::string_view text) {
    auto bad = [&]() {
        return Status::error("'" + std::string(text) +
                             "' is not an ISO 8601 time (expected e.g. 2025-01-23T14:00:00Z or ...+01:00)");
    };
    Cursor c{text};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (!c.digits(4, y) || !c.eat('-') || !c.digits(2, mo) || !c.eat('-') || !c.digits(2, d)) return bad();
    if (mo < 1 || mo > 12 || d < 1 || d > 31) return bad();
    int64_t frac_ns = 0;
    int64_t offset_s = 0;
    if (!c.done()) {
        if (!c.eat('T') && !c.eat('t') && !c.eat(' ')) return bad();
        if (!c.digits(2, h) || !c.eat(':') || !c.digits(2, mi)) return bad();
        if (c.eat(':')) {
            if (!c.digits(2, se)) return bad();
            if (c.eat('.') || c.eat(',')) {
                int n = 0;
                int64_t scale = 100000000;
                while (!c.done() && std::isdigit(static_cast<unsigned char>(c.s[c.i]))) {
                    if (n < 9) frac_ns += (c.s[c.i] - '0') * scale;
                    scale /= 10;
                    ++n;
                    ++c.i;
                }
                if (n == 0) return bad();
            }
        }
        if (h > 24 || mi > 59 || se > 60) return bad();
        if (c.eat('Z') || c.eat('z')) {
        } else if (!c.done() && (c.s[c.i] == '+' || c.s[c.i] == '-')) {
            int sign = c.s[c.i++] == '-' ? -1 : 1;
            int oh = 0, om = 0;
            if (!c.digits(2, oh)) return bad();
            if (c.eat(':')) {
                if (!c.digits(2, om)) return bad();
            } else if (!c.done()) {
                if (!c.digits(2, om)) return bad();
            }
            if (oh > 23 || om > 59) return bad();
            offset_s = sign * (oh * 3600 + om * 60);
        }
        if (!c.done()) return bad();
    }
    int64_t secs = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
                   mi * 60 + se - offset_s;
    return secs * 1000000000LL + frac_ns;
}

Result<int64_t> parse_iso_duration(std::string_view text) {
    auto bad = [&]() {
        return Status::error("'" + std::string(text) + "' is not a duration (expected e.g. PT30S, PT1M, PT1H30M, P1D or 30s)");
    };
    if (text.empty()) return bad();
    if (text[0] != 'P' && text[0] != 'p') {
        auto d = config::parse_duration(text);
        if (!d.ok() || d->count() <= 0) return bad();
        return static_cast<int64_t>(d->count()) * 1000000;
    }
    size_t i = 1;
    bool in_time = false, any = false;
    long double total = 0;
    while (i < text.size()) {
        if (text[i] == 'T' || text[i] == 't') {
            if (in_time) return bad();
            in_time = true;
            ++i;
            continue;
        }
        size_t j = i;
        while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.' || text[j] == ','))
            ++j;
        if (j == i || j >= text.size()) return bad();
        std::string num(text.substr(i, j - i));
        std::replace(num.begin(), num.end(), ',', '.');
        char* endp = nullptr;
        long double v = std::strtold(num.c_str(), &endp);
        if (!endp || *endp) return bad();
        char u = static_cast<char>(std::toupper(static_cast<unsigned char>(text[j])));
        long double mult = 0;
        if (!in_time && u == 'W') mult = 7 * 86400.0L;
        else if (!in_time && u == 'D') mult = 86400.0L;
        else if (in_time && u == 'H') mult = 3600.0L;
        else if (in_time && u == 'M') mult = 60.0L;
        else if (in_time && u == 'S') mult = 1.0L;
        else return bad();  // years and months have no fixed length
        total += v * mult;
        any = true;
        i = j + 1;
    }
    if (!any) return bad();
    long double ns = total * 1e9L;
    if (ns < 1 || ns > 9.2e18L) return bad();
    return static_cast<int64_t>(std::llround(static_cast<double>(ns)));
}

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
