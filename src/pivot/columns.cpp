// ChannelColumns: the decoder (the plan's steps run over each datum into the column buffers)
// and the chunk pipeline (full buffers handed to the export's writer thread and encoders while
// decoding goes on into the other set). The plan: column_plan.*; HDF5: column_writer.*,
// varlen_columns.*; the threads: export_threads.hpp.
#include "pivot/columns.hpp"

#include <algorithm>
#include <cstring>
#include <future>

#include "core/avro/codec.hpp"
#include "core/avro/walk.hpp"
#include "pivot/column_plan.hpp"
#include "pivot/column_writer.hpp"
#include "pivot/export_threads.hpp"

namespace speeddata::pivot {

using avro::NodeId;
using avro::Type;

namespace {

inline const uint8_t* rd_long(const uint8_t* p, const uint8_t* end, int64_t& v) {
    size_t n = avro::read_long(p, end, v);
    return n ? p + n : nullptr;
}

// Reads an array block's item count; a negative count is followed by the block's byte size
// (skipped) and is returned positive. 0 ends the array.
inline const uint8_t* rd_block_count(const uint8_t* p, const uint8_t* end, int64_t& count) {
    if (!(p = rd_long(p, end, count))) return nullptr;
    if (count < 0) {
        int64_t bytes = 0;
        if (!(p = rd_long(p, end, bytes))) return nullptr;
        count = -count;
    }
    return p;
}

}  // namespace

struct ChannelColumns::Impl {
    avro::Schema schema;
    Hdf5Options options;
    TimeUnit time_unit = TimeUnit::unknown;
    ColumnPlan plan;  // plan.cols: the columns, with their buffers
    std::unique_ptr<ExportThreads> own_threads;  // when the caller passed none
    ExportThreads* threads = nullptr;
    std::unique_ptr<ColumnWriter> out;
    uint64_t rows = 0;          // rows buffered
    uint64_t written = 0;       // rows handed to the writer
    int64_t first_ns = 0, last_ns = 0;
    std::future<Status> writer;  // the chunk being written, if any

    Impl() = default;
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    ~Impl() {
        if (writer.valid()) writer.wait();
        for (Column& c : plan.cols)
            if (c.enc.valid()) c.enc.wait();  // a task still reads c.wdata
    }

    // Appends a column's zero/empty value (its part of a null in a nullable union).
    void fill_default(Column& c) {
        switch (c.kind) {
            case Kind::string: case Kind::bytes: case Kind::json:
                c.text.push_back('\0');
                c.ends.push_back(c.text.size());
                break;
            case Kind::array_num:
                c.ends.push_back(c.ends.empty() ? 0 : c.ends.back());
                break;
            case Kind::fixed:
                c.data.resize(c.data.size() + c.fixed_size, 0);
                break;
            default:
                std::memset(c.data.data() + rows * c.elem, 0, c.elem);
                break;
        }
    }

    // Decodes one datum into the row `rows`; nullptr when malformed.
    const uint8_t* run(const uint8_t* p, const uint8_t* end) {
        Column* const cols = plan.cols.data();  // kept in a register through the loop
        const Step* const first = plan.prog.data();
        const Step* const last = first + plan.prog.size();
        for (const Step* s = first; s < last; ++s) {
            switch (s->op) {
                case Step::value:
                    p = decode_value(cols[static_cast<size_t>(s->col)], s->node, p, end);
                    break;
                case Step::time: {
                    int64_t ns = 0;
                    if (!(p = read_time(p, end, ns))) return nullptr;
                    put<int64_t>(cols[static_cast<size_t>(s->col)], ns);
                    break;
                }
                case Step::skip:
                    p = avro::skip_value(schema, s->node, p, end);
                    break;
                case Step::nullable: {
                    int64_t v = 0;
                    if (!(p = rd_long(p, end, v)) || (v != 0 && v != 1)) return nullptr;
                    const bool is_null = v == s->null_branch;
                    cols[static_cast<size_t>(s->mask)].data[rows] = !is_null;
                    if (is_null) {
                        const Step* after = first + s->after;
                        for (const Step* k = s + 1; k < after; ++k) {
                            if (k->op == Step::value) fill_default(cols[static_cast<size_t>(k->col)]);
                            else if (k->op == Step::nullable) cols[static_cast<size_t>(k->mask)].data[rows] = 0;
                        }
                        s = after - 1;
                    }
                    break;
                }
            }
            if (!p) return nullptr;
        }
        return p;
    }

    // A scalar column's value of the row being decoded.
    template <typename T>
    void put(Column& c, T v) {
        std::memcpy(c.data.data() + rows * sizeof(T), &v, sizeof(T));
    }

    // Appends to a growing buffer (array items).
    template <typename T>
    static void push(Column& c, T v) {
        size_t at = c.data.size();
        c.data.resize(at + sizeof(T));
        std::memcpy(c.data.data() + at, &v, sizeof(T));
    }

    // Inlined into run(): a call per field costs ~10 % of the decoding (callgrind).
    [[gnu::always_inline]] const uint8_t* decode_value(Column& c, NodeId node, const uint8_t* p, const uint8_t* end) {
        int64_t v = 0;
        switch (c.kind) {
            case Kind::boolean:
                if (p >= end || *p > 1) return nullptr;
                c.data[rows] = *p;
                return p + 1;
            case Kind::i32: case Kind::enum_i32:
                if (!(p = rd_long(p, end, v))) return nullptr;
                if (c.kind == Kind::enum_i32 && (v < 0 || static_cast<size_t>(v) >= c.symbols.size())) return nullptr;
                put<int32_t>(c, static_cast<int32_t>(v));
                return p;
            case Kind::i64:
                if (!(p = rd_long(p, end, v))) return nullptr;
                put<int64_t>(c, v);
                return p;
            case Kind::f32:
                if (end - p < 4) return nullptr;
                std::memcpy(c.data.data() + rows * 4, p, 4);
                return p + 4;
            case Kind::f64:
                if (end - p < 8) return nullptr;
                std::memcpy(c.data.data() + rows * 8, p, 8);
                return p + 8;
            case Kind::string: case Kind::bytes:
                if (!(p = rd_long(p, end, v)) || v < 0 || v > end - p) return nullptr;
                c.text.append(reinterpret_cast<const char*>(p), static_cast<size_t>(v));
                c.text.push_back('\0');
                c.ends.push_back(c.text.size());
                return p + v;
            case Kind::fixed:
                if (static_cast<uint64_t>(end - p) < c.fixed_size) return nullptr;
                c.data.insert(c.data.end(), p, p + c.fixed_size);
                return p + c.fixed_size;
            case Kind::json:
                if (!(p = avro::append_json_value(schema, node, p, end, c.text))) return nullptr;
                c.text.push_back('\0');
                c.ends.push_back(c.text.size());
                return p;
            case Kind::array_num: {
                for (;;) {
                    if (!(p = rd_block_count(p, end, v))) return nullptr;
                    if (v == 0) break;
                    if (v > end - p) return nullptr;  // every number takes >= 1 byte
                    for (int64_t i = 0; i < v; ++i) {
                        switch (c.item_type) {
                            case Type::boolean:
                                if (p >= end || *p > 1) return nullptr;
                                c.data.push_back(*p++);
                                break;
                            case Type::int_type: {
                                int64_t x = 0;
                                if (!(p = rd_long(p, end, x))) return nullptr;
                                push<int32_t>(c, static_cast<int32_t>(x));
                                break;
                            }
                            case Type::long_type: {
                                int64_t x = 0;
                                if (!(p = rd_long(p, end, x))) return nullptr;
                                push<int64_t>(c, x);
                                break;
                            }
                            default: {
                                size_t n = c.elem;
                                if (static_cast<size_t>(end - p) < n) return nullptr;
                                c.data.insert(c.data.end(), p, p + n);
                                p += n;
                            }
                        }
                    }
                }
                c.ends.push_back(c.data.size() / c.elem);
                return p;
            }
        }
        return nullptr;
    }

    const uint8_t* read_time(const uint8_t* p, const uint8_t* end, int64_t& ns) const {
        switch (plan.time_type) {
            case Type::int_type: case Type::long_type: {
                int64_t v = 0;
                if (!(p = rd_long(p, end, v))) return nullptr;
                ns = to_ns(v, time_unit);
                return p;
            }
            case Type::float_type:
                if (end - p < 4) return nullptr;
                ns = to_ns(static_cast<double>(avro::read_float(p)), time_unit);
                return p + 4;
            case Type::double_type:
                if (end - p < 8) return nullptr;
                ns = to_ns(avro::read_double(p), time_unit);
                return p + 8;
            default: return nullptr;
        }
    }

    // Drops a partially decoded row: every column back to `rows` complete rows.
    void rollback() {
        for (Column& c : plan.cols) {
            switch (c.kind) {
                case Kind::string: case Kind::bytes: case Kind::json:
                    c.ends.resize(rows);
                    c.text.resize(rows ? c.ends.back() : 0);
                    break;
                case Kind::array_num:
                    c.ends.resize(rows);
                    c.data.resize((rows ? c.ends.back() : 0) * c.elem);
                    break;
                case Kind::fixed:
                    c.data.resize(rows * c.fixed_size);
                    break;
                default:
                    break;  // scalar slots: the next row overwrites the partial one
            }
        }
    }

    // Hands the buffered rows to the writer thread (and the scalar columns to the encoders)
    // and goes on decoding into the other set of buffers: decoding, encoding and HDF5
    // writing overlap, with two chunks in memory at most.
    Status flush(bool last = false) {
        Status prev = wait_writer();
        if (!prev.ok()) return prev;
        if (!out->created()) {
            // The datasets are made at the first flush: an export that ends before its first
            // chunk is full gets chunks of its own size, not hdf5.chunk_rows rows of padding.
            Status st = out->create(plan.cols, last ? std::max<uint64_t>(1, rows) : options.chunk_rows);
            if (!st.ok()) return st;
        }
        for (Column& c : plan.cols) {
            std::swap(c.data, c.wdata);
            std::swap(c.text, c.wtext);
            std::swap(c.ends, c.wends);
        }
        const uint64_t at = written, n = rows;
        written += rows;
        rows = 0;
        out->encode_slots(plan.cols, n);
        writer = threads->writer().submit([this, at, n] { return out->write(plan.cols, at, n); });
        return {};
    }

    Status wait_writer() {
        if (!writer.valid()) return {};
        return writer.get();
    }
};

ChannelColumns::ChannelColumns(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChannelColumns::~ChannelColumns() = default;

Result<std::unique_ptr<ChannelColumns>> ChannelColumns::create(const avro::Schema& schema,
                                                               const std::string& time_field,
                                                               TimeUnit time_unit,
                                                               const std::vector<std::string>& signals,
                                                               const Hdf5Options& options,
                                                               ExportThreads* threads) {
    auto plan = ColumnPlan::compile(schema, time_field, signals);
    if (!plan.ok()) return plan.status();
    auto impl = std::make_unique<Impl>();
    impl->schema = schema;
    impl->options = options;
    if (impl->options.chunk_rows == 0) impl->options.chunk_rows = 65536;
    impl->time_unit = time_unit;
    impl->plan = std::move(*plan);
    if (!threads) {
        impl->own_threads = std::make_unique<ExportThreads>(options.threads);
        threads = impl->own_threads.get();
    }
    impl->threads = threads;
    impl->out = std::make_unique<ColumnWriter>(impl->options, *threads);
    const uint64_t chunk = impl->options.chunk_rows;
    for (auto& c : impl->plan.cols) {
        switch (c.kind) {
            case Kind::string: case Kind::bytes: case Kind::json: c.ends.reserve(chunk); break;
            case Kind::fixed: c.data.reserve(chunk * c.fixed_size); break;
            case Kind::array_num: break;
            default:  // scalar (is_slot): whole-chunk buffers, memory used as rows arrive
                c.data.resize(chunk * c.elem);
                c.wdata.resize(chunk * c.elem);
        }
    }
    return std::unique_ptr<ChannelColumns>(new ChannelColumns(std::move(impl)));
}

bool ChannelColumns::peek_time(const uint8_t* p, const uint8_t* end, int64_t& time_ns) const {
    const avro::Node& root = impl_->schema.root();
    for (int i = 0; i < impl_->plan.time_index; ++i) {
        p = avro::skip_value(impl_->schema, root.fields[i].type, p, end);
        if (!p) return false;
    }
    return impl_->read_time(p, end, time_ns) != nullptr;
}

const uint8_t* ChannelColumns::skip(const uint8_t* p, const uint8_t* end) const {
    return avro::skip_value(impl_->schema, impl_->schema.root_id(), p, end);
}

const uint8_t* ChannelColumns::append(const uint8_t* p, const uint8_t* end, Status& io_status) {
    Impl& m = *impl_;
    const uint8_t* q = m.run(p, end);
    if (!q) {
        m.rollback();
        return nullptr;
    }
    int64_t t = 0;
    std::memcpy(&t, m.plan.cols[m.plan.time_col].data.data() + m.rows * 8, 8);
    if (m.rows + m.written == 0) m.first_ns = t;
    m.last_ns = t;
    if (++m.rows >= m.options.chunk_rows) io_status = m.flush();
    return q;
}

Status ChannelColumns::open_group(hid_t file, const std::string& group_name) {
    return impl_->out->open_group(file, group_name);
}

Status ChannelColumns::finish() {
    Status st = impl_->flush(/*last=*/true);
    Status w = impl_->wait_writer();
    if (st.ok()) st = w;
    if (st.ok()) st = impl_->out->write_pending(impl_->plan.cols);
    return st;
}
hid_t ChannelColumns::group() const { return impl_->out->group(); }
uint64_t ChannelColumns::rows() const { return impl_->rows + impl_->written; }
int64_t ChannelColumns::first_time_ns() const { return impl_->first_ns; }
int64_t ChannelColumns::last_time_ns() const { return impl_->last_ns; }
std::vector<std::string> ChannelColumns::dataset_names() const {
    std::vector<std::string> out;
    for (const auto& c : impl_->plan.cols) out.push_back(c.name);
    return out;
}

}  // namespace speeddata::pivot
