#include "pivot/csv.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cmath>
#include <memory>
#include <optional>
#include <system_error>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/avro/json_node.hpp"
#include "core/decimate/decimator.hpp"
#include "core/fd.hpp"
#include "core/time.hpp"
#include "pivot/sources.hpp"

namespace speeddata::pivot {

namespace fs = std::filesystem;
using avro::NodeId;
using avro::Type;
using avro::Value;

std::string csv_quote(std::string_view s) {
    if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
    std::string out = "\"";
    for (char c : s) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::string csv_time(int64_t ns) {
    int64_t s = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        --s;
    }
    std::string whole = format_iso8601(s * 1000000000);  // "...T08:05:12Z"
    char buf[16];
    std::snprintf(buf, sizeof buf, ".%09lldZ", static_cast<long long>(frac));
    whole.pop_back();
    return whole + buf;
}

namespace {

template <typename T>
void append_number(std::string& out, T v) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
    out.append(buf, r.ptr);
}

void append_hex(std::string& out, std::string_view bytes) {
    static const char* digits = "0123456789abcdef";
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
}

// The branch of ["null", T] / [T, "null"] that is not null, or no_node.
NodeId nullable_branch(const avro::Schema& s, const avro::Node& n) {
    if (n.type != Type::union_type || n.branches.size() != 2) return avro::no_node;
    bool a = s.node(n.branches[0]).type == Type::null_type, b = s.node(n.branches[1]).type == Type::null_type;
    if (a == b) return avro::no_node;
    return a ? n.branches[1] : n.branches[0];
}

// One channel's CSV: columns are the HDF5 export's datasets (records flattened with '.'),
// except that a nullable value is one column, empty where null (no __valid column).
class CsvChannel {
public:
    CsvChannel(const ChannelSource& src, const ExportRequest& req, ExportResult& res) : src_(src), req_(req), res_(res) {}

    ProgressMeter* meter = nullptr;  // ExportRequest::progress, when set

    Status write(const fs::path& out_path, uint64_t& rows_out) {
        fd_.reset(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd_.valid()) return Status::error("cannot create " + out_path.string() + ": " + std::strerror(errno));
        path_ = out_path;
        avro::FileReaderOptions ropt;
        ropt.validate_datums = false;  // decode() checks every datum
        cache::ChannelReadHooks hooks;
        hooks.opened = [&](avro::FileReader& r, const cache::BlockSelection& sel) -> Status {
            ++res_.files_opened;
            if (!schema_) return setup(r);
            if (r.schema().canonical_form() != canonical_)
                return Status::invalid("channel '" + src_.name + "': the schema changes at " +
                                     sel.path.filename().string() + "; export the ranges before and after it separately");
            return {};
        };
        hooks.finished = [&](avro::FileReader& r, const cache::BlockSelection& sel) {
            if (meter) meter->file_done(sel);
            for (const auto& p : r.problems()) res_.problems.push_back(sel.path.filename().string() + ": " + p);
        };
        hooks.problem = [&](std::string p) { res_.problems.push_back(std::move(p)); };
        // Every file has the channel's schema (checked when opened), so its records decode with
        // schema_, also in blocks merged from several file streams.
        Status read = cache::read_channel_blocks(src_.files, ropt, hooks, [&](const avro::Block& b, const fs::path& path) -> Status {
            const cache::BlockSelection* sel = meter ? selection_of(src_, path) : nullptr;
            if (!sel) return block(b, *schema_, path);
            return meter->wrap(*sel, [&](const avro::Block& blk) { return block(blk, *schema_, path); })(b);
        });
        if (!read.ok()) return read;
        if (!schema_ && !src_.schema_file.empty()) {
            auto rr = avro::FileReader::open(src_.schema_file, ropt);
            if (rr.ok()) {
                Status st = setup(*rr);
                if (!st.ok()) return st;
            }
        }
        if (!schema_) buf_ += "time,time_ns\r\n";
        Status st = flush(true);
        if (!st.ok()) return st;
        if (int e = fd_.close()) return Status::error("write " + path_.string() + ": " + std::strerror(e));
        rows_out = rows_;
        return {};
    }

private:
    struct Column {
        std::string name;
    };

    Status setup(const avro::FileReader& r) {
        schema_.emplace(r.schema());
        const avro::Schema& s = *schema_;
        if (s.root().type != Type::record)
            return Status::error("channel '" + src_.name + "': the schema is not a record");
        canonical_ = s.canonical_form();
        const auto& meta = r.metadata();
        auto it = meta.find(cache::meta::time_field);
        std::string time_field = it == meta.end() ? "time" : it->second;
        auto ut = meta.find(cache::meta::time_unit);
        time_index_ = s.field_index(time_field);
        if (time_index_ < 0)
            return Status::error("channel '" + src_.name + "': no time field '" + time_field + "'");
        unit_ = time_unit_of(s.node(s.root().fields[static_cast<size_t>(time_index_)].type),
                             ut == meta.end() ? "" : ut->second);
        buf_ += "time,time_ns";
        const auto& fields = s.root().fields;
        for (size_t i = 0; i < fields.size(); ++i) {
            if (static_cast<int>(i) == time_index_) continue;
            const std::string& name = fields[i].name;
            if (name == "time" || name == "time_ns") continue;  // would clash with the time columns
            if (!req_.signals.empty() && std::find(req_.signals.begin(), req_.signals.end(), name) == req_.signals.end())
                continue;
            if (s.node(fields[i].type).type == Type::null_type) continue;
            keep_.push_back(i);
            header(fields[i].type, name);
        }
        buf_ += "\r\n";
        if (req_.decimation.factor > 1) {
            validator_ = std::make_unique<avro::Validator>(s);
            spans_.resize(std::max<size_t>(1, validator_->field_count()));
            auto d = decimate::Decimator::create(s, time_index_, req_.decimation.algorithm, req_.decimation.factor);
            if (!d.ok()) return d.status();
            decimator_.emplace(std::move(*d));
        }
        return {};
    }

    void header(NodeId id, const std::string& name) {
        const avro::Schema& s = *schema_;
        const avro::Node& n = s.node(id);
        if (n.type == Type::record) {
            for (const auto& f : n.fields) header(f.type, name + field_separator + f.name);
            return;
        }
        NodeId inner = nullable_branch(s, n);
        if (inner != avro::no_node && s.node(inner).type == Type::record) {
            header(inner, name);
            return;
        }
        buf_ += ',';
        buf_ += csv_quote(name);
    }

    // Appends the cells of a value of node id (as many as header() made columns).
    void cells(NodeId id, const Value* v) {
        const avro::Schema& s = *schema_;
        const avro::Node& n = s.node(id);
        if (n.type == Type::record) {
            const avro::Record* rec = v ? &std::get<Value::record_index>(v->v) : nullptr;
            for (size_t i = 0; i < n.fields.size(); ++i) cells(n.fields[i].type, rec ? &(*rec)[i] : nullptr);
            return;
        }
        NodeId inner = nullable_branch(s, n);
        if (inner != avro::no_node) {
            const Value* x = nullptr;
            if (v) {
                const auto& u = *std::get<Value::union_index>(v->v);
                if (n.branches[static_cast<size_t>(u.branch)] == inner) x = &u.value;
            }
            if (s.node(inner).type == Type::record) {
                cells(inner, x);
                return;
            }
            buf_ += ',';
            if (x) leaf(inner, *x);
            return;
        }
        buf_ += ',';
        if (v) leaf(id, *v);
    }

    void leaf(NodeId id, const Value& v) {
        const avro::Schema& s = *schema_;
        const avro::Node& n = s.node(id);
        switch (n.type) {
            case Type::null_type: return;
            case Type::boolean: buf_ += std::get<bool>(v.v) ? "true" : "false"; return;
            case Type::int_type: append_number(buf_, std::get<int32_t>(v.v)); return;
            case Type::long_type: append_number(buf_, std::get<int64_t>(v.v)); return;
            case Type::float_type: append_number(buf_, std::get<float>(v.v)); return;
            case Type::double_type: append_number(buf_, std::get<double>(v.v)); return;
            case Type::string: buf_ += csv_quote(std::get<std::string>(v.v)); return;
            case Type::bytes: append_hex(buf_, std::get<BytesValue>(v.v).bytes); return;
            case Type::fixed: append_hex(buf_, std::get<avro::FixedValue>(v.v).bytes); return;
            case Type::enum_type: {
                auto i = static_cast<size_t>(std::get<avro::EnumValue>(v.v).index);
                buf_ += csv_quote(i < n.symbols.size() ? n.symbols[i] : std::to_string(i));
                return;
            }
            default: {
                std::string j;
                avro::append_json(s, id, v, j);
                buf_ += csv_quote(j);
                return;
            }
        }
    }
    using BytesValue = avro::BytesValue;

    bool time_of(const Value& rec, int64_t& t) const {
        const auto& fields = std::get<Value::record_index>(rec.v);
        const Value& x = fields[static_cast<size_t>(time_index_)];
        switch (x.v.index()) {
            case Value::int_index: t = to_ns(static_cast<int64_t>(std::get<int32_t>(x.v)), unit_); return true;
            case Value::long_index: t = to_ns(std::get<int64_t>(x.v), unit_); return true;
            case Value::float_index: t = to_ns(static_cast<double>(std::get<float>(x.v)), unit_); return true;
            case Value::double_index: t = to_ns(std::get<double>(x.v), unit_); return true;
            default: return false;
        }
    }

    void row(const Value& rec, int64_t t) {
        buf_ += csv_time(t);
        buf_ += ',';
        append_number(buf_, t);
        const auto& fields = std::get<Value::record_index>(rec.v);
        const auto& sf = schema_->root().fields;
        for (size_t i : keep_) cells(sf[i].type, &fields[i]);
        buf_ += "\r\n";
        ++rows_;
    }

    Status block(const avro::Block& b, const avro::Schema& file_schema, const fs::path& path) {
        ++res_.blocks_read;
        res_.avro_bytes += b.data.size();
        const uint8_t* p = reinterpret_cast<const uint8_t*>(b.data.data());
        const uint8_t* end = p + b.data.size();
        for (uint64_t i = 0; i < b.count; ++i) {
            const uint8_t* start = p;
            auto v = avro::decode(file_schema, p, end);
            int64_t t = 0;
            if (!v.ok() || !time_of(*v, t)) {
                res_.problems.push_back(path.string() + ": malformed record in block at offset " +
                                        std::to_string(b.file_offset) + "; rest of block skipped");
                return {};
            }
            if (t < req_.start_ns || t >= req_.end_ns) continue;
            if (decimator_) {
                auto ok = validator_->validate(start, static_cast<size_t>(p - start), spans_.data());
                if (!ok.ok()) continue;
                dec_out_.clear();
                int n = decimator_->push(start, ok.consumed, spans_.data(), dec_out_);
                const uint8_t* q = reinterpret_cast<const uint8_t*>(dec_out_.data());
                const uint8_t* qe = q + dec_out_.size();
                for (int k = 0; k < n; ++k) {
                    auto d = avro::decode(*schema_, q, qe);
                    int64_t dt = 0;
                    if (!d.ok() || !time_of(*d, dt)) break;
                    row(*d, dt);
                }
            } else {
                row(*v, t);
            }
            if (buf_.size() >= (1u << 20)) {
                Status st = flush(false);
                if (!st.ok()) return st;
            }
        }
        return {};
    }

    Status flush(bool) {
        if (int e = write_all(fd_.get(), buf_.data(), buf_.size()))
            return Status::error("write " + path_.string() + ": " + std::strerror(e));
        buf_.clear();
        return {};
    }

    const ChannelSource& src_;
    const ExportRequest& req_;
    ExportResult& res_;
    Fd fd_;
    fs::path path_;
    std::string buf_;
    uint64_t rows_ = 0;
    std::optional<avro::Schema> schema_;
    std::string canonical_;
    int time_index_ = -1;
    TimeUnit unit_ = TimeUnit::unknown;
    std::vector<size_t> keep_;
    std::unique_ptr<avro::Validator> validator_;
    std::optional<decimate::Decimator> decimator_;
    std::vector<avro::FieldSpan> spans_;
    std::string dec_out_;
};

struct ZipCloser {
    void operator()(zip_t* z) const {
        if (z) zip_discard(z);
    }
};

// A zip of the given files under the given entry names (deflated; zip64 when needed).
Status write_zip(const fs::path& out, const std::vector<std::pair<std::string, fs::path>>& entries) {
    int err = 0;
    std::unique_ptr<zip_t, ZipCloser> z(zip_open(out.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err));
    if (!z) {
        zip_error_t e;
        zip_error_init_with_code(&e, err);
        std::string msg = "cannot create " + out.string() + ": " + zip_error_strerror(&e);
        zip_error_fini(&e);
        return Status::error(msg);
    }
    for (const auto& [name, file] : entries) {
        zip_source_t* src = zip_source_file(z.get(), file.c_str(), 0, -1);
        if (!src) return Status::error("zip: " + std::string(zip_strerror(z.get())));
        zip_int64_t idx = zip_file_add(z.get(), name.c_str(), src, ZIP_FL_ENC_UTF_8 | ZIP_FL_OVERWRITE);
        if (idx < 0) {
            zip_source_free(src);
            return Status::error("zip: " + std::string(zip_strerror(z.get())));
        }
        zip_set_file_compression(z.get(), static_cast<zip_uint64_t>(idx), ZIP_CM_DEFLATE, 1);
    }
    if (zip_close(z.get()) != 0) return Status::error("zip: " + out.string() + ": " + zip_strerror(z.get()));
    z.release();
    return {};
}

ExportResult write_csv(const fs::path& avro_path, const ExportRequest& req, const fs::path& out_path) {
    std::vector<ChannelSource> sources;
    ExportResult res = select_sources(avro_path, req, sources);
    if (!res.ok()) return res;
    std::error_code ec;
    fs::remove(out_path, ec);
    const bool zip = sources.size() > 1;
    std::vector<std::pair<std::string, fs::path>> parts;
    auto cleanup = [&] {
        for (const auto& [n, p] : parts) fs::remove(p, ec);
    };
    auto abort = [&](ErrorKind k, const std::string& msg) {
        cleanup();
        fs::remove(out_path, ec);
        auto r = fail(k, msg);
        r.problems = res.problems;
        return r;
    };
    ProgressMeter meter(req, sources);
    for (const auto& src : sources) {
        fs::path part = zip ? fs::path(out_path.string() + "." + src.name + ".csv.part") : out_path;
        if (zip) parts.emplace_back(src.name + ".csv", part);
        CsvChannel channel(src, req, res);
        channel.meter = &meter;
        uint64_t rows = 0;
        Status st = channel.write(part, rows);
        if (!st.ok()) {
            const bool user = st.code() == StatusCode::invalid_argument;  // the request's fault, not the disk's
            return abort(user ? ErrorKind::bad_request : ErrorKind::io, st.message());
        }
        res.rows += rows;
    }
    if (res.rows == 0) {
        std::string names;
        for (const auto& s : sources) names += (names.empty() ? "" : ",") + s.name;
        return abort(ErrorKind::no_data, "no data in [" + format_iso8601(req.start_ns) + ", " +
                                             format_iso8601(req.end_ns) + ") for channels " + names);
    }
    if (zip) {
        Status st = write_zip(out_path, parts);
        if (!st.ok()) return abort(ErrorKind::io, st.message());
        cleanup();
    }
    return res;
}

}  // namespace

ExportResult export_csv(const fs::path& avro_path, const ExportRequest& req, const fs::path& out_path) {
    return with_coverage(write_csv(avro_path, req, out_path), avro_path, req);
}

}  // namespace speeddata::pivot
