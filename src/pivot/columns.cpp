#include "pivot/columns.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>

#include "core/avro/codec.hpp"
#include "pivot/chunk_codec.hpp"

namespace speeddata::pivot {

using avro::Node;
using avro::NodeId;
using avro::Type;

namespace {

// A byte buffer whose resize() leaves new bytes uninitialised: a column's whole-chunk buffers
// cost memory only for the rows actually written (a small export of many columns stays small).
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
    template <typename U>
    struct rebind {
        using other = DefaultInitAllocator<U>;
    };
    DefaultInitAllocator() = default;
    template <typename U>
    DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
    template <typename U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};
using Bytes = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

enum class Kind : uint8_t { i32, i64, f32, f64, boolean, string, bytes, fixed, enum_i32, array_num, json };

struct Column {
    std::string name;
    Kind kind = Kind::i64;
    std::string avro_type;             // attribute: what the values were in Avro
    std::vector<std::string> symbols;  // enum
    std::string valid_of;              // mask columns: the values dataset they qualify
    std::string mask_name;             // nullable values: their mask dataset
    Type item_type = Type::double_type;  // array_num
    size_t elem = 0;                   // bytes per element (fixed-size kinds, array items)
    uint64_t fixed_size = 0;           // fixed
    // Buffers of the rows not yet written (bounded by chunk_rows).
    Bytes data;                        // scalar values (slot); fixed values; array items
    std::string text;                  // string/bytes/json payloads, each NUL-terminated
    std::vector<uint64_t> ends;        // per row: end offset in text (bytes) / in data (array items)
    // The previous chunk's buffers, being written by the writer thread.
    Bytes wdata;
    std::string wtext;
    std::vector<uint64_t> wends;
    std::vector<uint8_t> wrefs;        // variable-length columns: the chunk of heap references
    uint64_t refs_at = 0, refs_rows = 0;  // ... its first row and row count
    std::vector<uint8_t> wenc;         // the encoded chunk of wdata (slot) or wrefs
    std::future<Status> enc;           // ... being encoded on the chunk pool
    // HDF5 state
    h5::H5Id dset;
    h5::H5Id len_dset;                 // arrays of varying length: "<name>__length"
    uint64_t width = 0;                // 2-D datasets: current second dimension
    int64_t first_len = -1;            // arrays: the first row's length
    bool varying = false;
};

// Scalar columns (numbers, booleans, enums, masks): one element per row, stored at
// data[row * elem] in buffers sized for a whole chunk, and written as whole chunks encoded on
// the chunk pool (H5Dwrite_chunk). The other kinds go through H5Dwrite.
bool is_slot(Kind k) {
    switch (k) {
        case Kind::boolean: case Kind::i32: case Kind::i64: case Kind::f32: case Kind::f64: case Kind::enum_i32:
            return true;
        default: return false;
    }
}

struct Plan {
    enum Op : uint8_t { op_col, op_record, op_nullable, op_skip, op_time, op_json } op = op_skip;
    int col = -1;      // column index (col, json, time)
    int mask = -1;     // nullable: the mask column
    int null_branch = 0;
    NodeId node = avro::no_node;
    std::vector<Plan> children;  // record: fields; nullable: the value plan
};

size_t elem_size(Type t) {
    switch (t) {
        case Type::boolean: return 1;
        case Type::int_type: case Type::float_type: return 4;
        case Type::long_type: case Type::double_type: return 8;
        default: return 0;
    }
}

hid_t mem_type_of(Type t) {
    switch (t) {
        case Type::int_type: return H5T_NATIVE_INT32;
        case Type::long_type: return H5T_NATIVE_INT64;
        case Type::float_type: return H5T_NATIVE_FLOAT;
        case Type::double_type: return H5T_NATIVE_DOUBLE;
        default: return H5T_NATIVE_UINT8;
    }
}

hid_t file_type_of(Type t) {
    switch (t) {
        case Type::int_type: return H5T_STD_I32LE;
        case Type::long_type: return H5T_STD_I64LE;
        case Type::float_type: return H5T_IEEE_F32LE;
        case Type::double_type: return H5T_IEEE_F64LE;
        default: return H5T_STD_U8LE;
    }
}

inline const uint8_t* rd_long(const uint8_t* p, const uint8_t* end, int64_t& v) {
    size_t n = avro::read_long(p, end, v);
    return n ? p + n : nullptr;
}

// Reads an array/map block's item count; a negative count is followed by the block's byte
// size (skipped) and is returned positive. 0 ends the array/map.
inline const uint8_t* rd_block_count(const uint8_t* p, const uint8_t* end, int64_t& count) {
    if (!(p = rd_long(p, end, count))) return nullptr;
    if (count < 0) {
        int64_t bytes = 0;
        if (!(p = rd_long(p, end, bytes))) return nullptr;
        count = -count;
    }
    return p;
}

void json_escape(std::string& out, const uint8_t* s, size_t n, bool latin1) {
    static const char hex[] = "0123456789abcdef";
    out += '"';
    for (size_t i = 0; i < n; ++i) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || (latin1 && c >= 0x7f)) {
            if (c == '\n') { out += "\\n"; continue; }
            if (c == '\t') { out += "\\t"; continue; }
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

void append_number(std::string& out, double d) {
    if (std::isnan(d)) { out += "\"NaN\""; return; }
    if (std::isinf(d)) { out += d > 0 ? "\"Infinity\"" : "\"-Infinity\""; return; }
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%.17g", d);
    out.append(buf, static_cast<size_t>(n));
}

std::string branch_name(const avro::Schema& s, NodeId id) {
    const Node& n = s.node(id);
    if (!n.full_name.empty()) return n.full_name;
    return std::string(avro::type_name(n.type));
}

}  // namespace

// Skips (json == nullptr) or renders as Avro JSON one value of node `id`; nullptr when
// malformed. Depth-limited so hostile recursive data cannot exhaust the stack.
static const uint8_t* walk(const avro::Schema& s, NodeId id, const uint8_t* p, const uint8_t* end,
                           std::string* json, int depth = 0) {
    if (depth > 64 || !p) return nullptr;
    const Node& n = s.node(id);
    int64_t v = 0;
    switch (n.type) {
        case Type::null_type:
            if (json) *json += "null";
            return p;
        case Type::boolean:
            if (p >= end || *p > 1) return nullptr;
            if (json) *json += *p ? "true" : "false";
            return p + 1;
        case Type::int_type: case Type::long_type:
            if (!(p = rd_long(p, end, v))) return nullptr;
            if (json) *json += std::to_string(v);
            return p;
        case Type::enum_type:
            if (!(p = rd_long(p, end, v)) || v < 0 || static_cast<size_t>(v) >= n.symbols.size()) return nullptr;
            if (json) json_escape(*json, reinterpret_cast<const uint8_t*>(n.symbols[v].data()), n.symbols[v].size(), false);
            return p;
        case Type::float_type:
            if (end - p < 4) return nullptr;
            if (json) append_number(*json, avro::read_float(p));
            return p + 4;
        case Type::double_type:
            if (end - p < 8) return nullptr;
            if (json) append_number(*json, avro::read_double(p));
            return p + 8;
        case Type::bytes: case Type::string:
            if (!(p = rd_long(p, end, v)) || v < 0 || v > end - p) return nullptr;
            if (json) json_escape(*json, p, static_cast<size_t>(v), n.type == Type::bytes);
            return p + v;
        case Type::fixed:
            if (static_cast<uint64_t>(end - p) < n.fixed_size) return nullptr;
            if (json) json_escape(*json, p, n.fixed_size, true);
            return p + n.fixed_size;
        case Type::record: {
            if (json) *json += '{';
            bool first = true;
            for (const auto& f : n.fields) {
                if (json) {
                    if (!first) *json += ',';
                    first = false;
                    json_escape(*json, reinterpret_cast<const uint8_t*>(f.name.data()), f.name.size(), false);
                    *json += ':';
                }
                if (!(p = walk(s, f.type, p, end, json, depth + 1))) return nullptr;
            }
            if (json) *json += '}';
            return p;
        }
        case Type::array: case Type::map: {
            bool is_map = n.type == Type::map;
            if (json) *json += is_map ? '{' : '[';
            bool first = true;
            for (;;) {
                if (!(p = rd_block_count(p, end, v))) return nullptr;
                if (v == 0) break;
                if (v > end - p + 1) return nullptr;  // every item takes >= 0 bytes; bound the loop
                for (int64_t i = 0; i < v; ++i) {
                    if (json && !first) *json += ',';
                    first = false;
                    if (is_map) {
                        int64_t kl = 0;
                        if (!(p = rd_long(p, end, kl)) || kl < 0 || kl > end - p) return nullptr;
                        if (json) {
                            json_escape(*json, p, static_cast<size_t>(kl), false);
                            *json += ':';
                        }
                        p += kl;
                    }
                    if (!(p = walk(s, is_map ? n.values : n.items, p, end, json, depth + 1))) return nullptr;
                }
            }
            if (json) *json += is_map ? '}' : ']';
            return p;
        }
        case Type::union_type: {
            if (!(p = rd_long(p, end, v)) || v < 0 || static_cast<size_t>(v) >= n.branches.size()) return nullptr;
            NodeId b = n.branches[v];
            if (s.node(b).type == Type::null_type) {
                if (json) *json += "null";
                return p;
            }
            if (json) {
                *json += '{';
                std::string bn = branch_name(s, b);
                json_escape(*json, reinterpret_cast<const uint8_t*>(bn.data()), bn.size(), false);
                *json += ':';
            }
            if (!(p = walk(s, b, p, end, json, depth + 1))) return nullptr;
            if (json) *json += '}';
            return p;
        }
    }
    return nullptr;
}

struct ChannelColumns::Impl {
    avro::Schema schema;
    Hdf5Options options;
    TimeUnit time_unit = TimeUnit::unknown;
    int time_index = -1;
    int time_col = -1;          // the "time" column (not necessarily the first)
    Type time_type = Type::long_type;
    std::vector<Column> cols;
    Plan root;
    uint64_t rows = 0;          // rows buffered
    uint64_t written = 0;       // rows already in the datasets
    bool created = false;       // the datasets exist (made at the first flush)
    uint64_t chunk_rows = 0;    // rows per dataset chunk: hdf5.chunk_rows, or fewer for a small export
    int64_t first_ns = 0, last_ns = 0;
    h5::H5Id group;
    h5::H5Id str_type, bool_type, bytes_type;
    std::future<Status> writer;     // the chunk being written, if any
    uint64_t w_at = 0, w_rows = 0;  // its first row and row count
    std::vector<const char*> ptrs;  // scratch for vlen writes (writer thread only)
    std::vector<hvl_t> vls;
    std::vector<uint8_t> dense;

    int add_col(std::string name, Kind kind, std::string avro_type, size_t elem) {
        Column c;
        c.name = std::move(name);
        c.kind = kind;
        c.avro_type = std::move(avro_type);
        c.elem = elem;
        cols.push_back(std::move(c));
        return static_cast<int>(cols.size()) - 1;
    }

    // Builds the plan of a value of node id whose dataset name is `name`.
    Result<Plan> compile(NodeId id, const std::string& name, int depth) {
        if (depth > 32) return Status::error("schema nested too deeply for columns at '" + name + "'");
        const Node& n = schema.node(id);
        Plan pl;
        pl.node = id;
        auto leaf = [&](Kind k, size_t elem) {
            pl.op = Plan::op_col;
            pl.col = add_col(name, k, std::string(avro::type_name(n.type)), elem);
        };
        switch (n.type) {
            case Type::null_type: pl.op = Plan::op_skip; break;
            case Type::boolean: leaf(Kind::boolean, 1); break;
            case Type::int_type: leaf(Kind::i32, 4); break;
            case Type::long_type: leaf(Kind::i64, 8); break;
            case Type::float_type: leaf(Kind::f32, 4); break;
            case Type::double_type: leaf(Kind::f64, 8); break;
            case Type::string: leaf(Kind::string, 0); break;
            case Type::bytes: leaf(Kind::bytes, 0); break;
            case Type::enum_type:
                leaf(Kind::enum_i32, 4);
                cols[pl.col].avro_type = "enum";
                cols[pl.col].symbols = n.symbols;
                break;
            case Type::fixed:
                leaf(Kind::fixed, 1);
                cols[pl.col].fixed_size = n.fixed_size;
                cols[pl.col].width = n.fixed_size;
                cols[pl.col].avro_type = "fixed";
                break;
            case Type::record:
                pl.op = Plan::op_record;
                for (const auto& f : n.fields) {
                    auto c = compile(f.type, name + field_separator + f.name, depth + 1);
                    if (!c.ok()) return c.status();
                    pl.children.push_back(std::move(*c));
                }
                break;
            case Type::array: {
                Type it = schema.node(n.items).type;
                if (elem_size(it) > 0) {
                    leaf(Kind::array_num, elem_size(it));
                    cols[pl.col].item_type = it;
                    cols[pl.col].avro_type = "array<" + std::string(avro::type_name(it)) + ">";
                } else {
                    leaf(Kind::json, 0);
                    cols[pl.col].avro_type = "json";
                }
                break;
            }
            case Type::union_type: {
                int nulls = 0, null_at = -1, other = -1;
                for (size_t i = 0; i < n.branches.size(); ++i) {
                    if (schema.node(n.branches[i]).type == Type::null_type) {
                        ++nulls;
                        null_at = static_cast<int>(i);
                    } else {
                        other = static_cast<int>(i);
                    }
                }
                if (n.branches.size() == 2 && nulls == 1) {
                    pl.op = Plan::op_nullable;
                    pl.null_branch = null_at;
                    auto c = compile(n.branches[other], name, depth + 1);
                    if (!c.ok()) return c.status();
                    pl.children.push_back(std::move(*c));
                    pl.mask = add_col(name + "__valid", Kind::boolean, "boolean", 1);
                    cols[pl.mask].valid_of = name;
                    if (pl.children[0].op == Plan::op_col) cols[pl.children[0].col].mask_name = name + "__valid";
                } else {
                    leaf(Kind::json, 0);
                    cols[pl.col].avro_type = "json";
                }
                break;
            }
            case Type::map:
                leaf(Kind::json, 0);
                cols[pl.col].avro_type = "json";
                break;
        }
        return pl;
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

    // The plan flattened into a program of steps, one per field in the order of the
    // encoding (records are just their fields in order), run in a loop: no recursion and
    // one dispatch per field on the hot path.
    struct Step {
        enum Op : uint8_t { value, time, skip, nullable } op = value;
        int col = -1;        // value, time: the column
        int mask = -1;       // nullable: the mask column
        int null_branch = 0; // nullable
        uint32_t after = 0;  // nullable: the first step after its value's steps
        NodeId node = avro::no_node;
    };
    std::vector<Step> prog;

    void flatten(const Plan& pl) {
        switch (pl.op) {
            case Plan::op_record:
                for (const auto& ch : pl.children) flatten(ch);
                break;
            case Plan::op_nullable: {
                size_t at = prog.size();
                prog.push_back({.op = Step::nullable, .mask = pl.mask, .null_branch = pl.null_branch, .node = pl.node});
                flatten(pl.children[0]);
                prog[at].after = static_cast<uint32_t>(prog.size());
                break;
            }
            case Plan::op_time: prog.push_back({.op = Step::time, .col = pl.col, .node = pl.node}); break;
            case Plan::op_skip: prog.push_back({.op = Step::skip, .node = pl.node}); break;
            case Plan::op_col: case Plan::op_json:
                prog.push_back({.op = Step::value, .col = pl.col, .node = pl.node});
                break;
        }
    }

    // Decodes one datum into the row `rows`; nullptr when malformed.
    const uint8_t* run(const uint8_t* p, const uint8_t* end) {
        const Step* const first = prog.data();
        const Step* const last = first + prog.size();
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
                    p = walk(schema, s->node, p, end, nullptr);
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

    const uint8_t* decode_value(Column& c, NodeId node, const uint8_t* p, const uint8_t* end) {
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
                if (!(p = walk(schema, node, p, end, &c.text))) return nullptr;
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
        switch (time_type) {
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
        for (Column& c : cols) {
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

    // A column's dataset filters: declared by create_dataset, and applied by encode_chunk to
    // the chunks written directly, so the two can never disagree.
    ChunkFilters filters_of(const Column& c) const {
        return {.shuffle = options.shuffle && c.elem > 1, .deflate = options.gzip, .level = options.gzip_level};
    }

    Status create_dataset(Column& c, int rank, uint64_t width, hid_t file_type, h5::H5Id& out,
                          const std::string& name) {
        hsize_t dims[2] = {0, width};
        hsize_t maxd[2] = {H5S_UNLIMITED, H5S_UNLIMITED};
        h5::H5Id space(H5Screate_simple(rank, dims, maxd));
        h5::H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
        uint64_t row_bytes = std::max<uint64_t>(1, width) * std::max<size_t>(1, c.elem);
        hsize_t chunk[2] = {chunk_rows, std::max<uint64_t>(1, width)};
        if (rank == 2)
            chunk[0] = std::max<uint64_t>(1, std::min<uint64_t>(chunk_rows, (1u << 20) / row_bytes));
        H5Pset_chunk(dcpl.get(), rank, chunk);
        const ChunkFilters f = filters_of(c);
        if (f.shuffle) H5Pset_shuffle(dcpl.get());
        if (f.deflate) H5Pset_deflate(dcpl.get(), static_cast<unsigned>(f.level));
        out = h5::H5Id(H5Dcreate2(group.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT,
                                  dcpl.get(), H5P_DEFAULT));
        if (!out.valid()) return Status::error("HDF5: cannot create dataset '" + name + "'");
        return {};
    }

    Status create_column(Column& c, uint64_t width) {
        Status st;
        switch (c.kind) {
            case Kind::boolean: st = create_dataset(c, 1, 0, bool_type.get(), c.dset, c.name); break;
            case Kind::i32: case Kind::enum_i32: st = create_dataset(c, 1, 0, H5T_STD_I32LE, c.dset, c.name); break;
            case Kind::i64: st = create_dataset(c, 1, 0, H5T_STD_I64LE, c.dset, c.name); break;
            case Kind::f32: st = create_dataset(c, 1, 0, H5T_IEEE_F32LE, c.dset, c.name); break;
            case Kind::f64: st = create_dataset(c, 1, 0, H5T_IEEE_F64LE, c.dset, c.name); break;
            case Kind::string: case Kind::json: st = create_dataset(c, 1, 0, str_type.get(), c.dset, c.name); break;
            case Kind::bytes: st = create_dataset(c, 1, 0, bytes_type.get(), c.dset, c.name); break;
            case Kind::fixed: st = create_dataset(c, 2, c.fixed_size, H5T_STD_U8LE, c.dset, c.name); break;
            case Kind::array_num:
                c.width = width;
                st = create_dataset(c, 2, width,
                                    c.item_type == Type::boolean ? bool_type.get() : file_type_of(c.item_type),
                                    c.dset, c.name);
                break;
        }
        if (!st.ok()) return st;
        hid_t d = c.dset.get();
        Status a = h5::set_attr(d, "avro_type", c.avro_type);
        if (a.ok() && !c.symbols.empty()) a = h5::set_attr(d, "symbols", c.symbols);
        if (a.ok() && !c.valid_of.empty()) a = h5::set_attr(d, "valid_of", c.valid_of);
        if (a.ok() && !c.mask_name.empty()) a = h5::set_attr(d, "valid_mask", c.mask_name);
        if (a.ok() && c.name == "time") a = h5::set_attr(d, "unit", "ns since the Unix epoch (UTC)");
        return a;
    }

    // Writes n rows from buf (memory type mt) at row `at` of a 1-D or 2-D dataset.
    static Status write_rows(hid_t dset, hid_t mt, const void* buf, uint64_t at, uint64_t n,
                             uint64_t width, int rank, const std::string& name) {
        hsize_t total[2] = {at + n, width};
        if (H5Dset_extent(dset, total) < 0) return Status::error("HDF5: cannot extend '" + name + "'");
        if (n == 0) return {};
        h5::H5Id fs(H5Dget_space(dset));
        hsize_t start[2] = {at, 0}, count[2] = {n, width};
        H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
        h5::H5Id ms(H5Screate_simple(rank, count, nullptr));
        if (H5Dwrite(dset, mt, ms.get(), fs.get(), H5P_DEFAULT, buf) < 0)
            return Status::error("HDF5: cannot write '" + name + "' (disk full?)");
        return {};
    }

    hid_t slot_mem_type(const Column& c) const {
        switch (c.kind) {
            case Kind::boolean: return bool_type.get();
            case Kind::i32: case Kind::enum_i32: return H5T_NATIVE_INT32;
            case Kind::f32: return H5T_NATIVE_FLOAT;
            case Kind::f64: return H5T_NATIVE_DOUBLE;
            default: return H5T_NATIVE_INT64;
        }
    }

    // Writes a scalar column's swapped-out chunk (encoded on the pool, or raw when the
    // dataset has no filter) as one whole chunk at row w_at.
    Status write_slot(Column& c) {
        hsize_t total = w_at + w_rows;
        if (H5Dset_extent(c.dset.get(), &total) < 0) return Status::error("HDF5: cannot extend '" + c.name + "'");
        if (w_rows == 0) return {};
        const void* chunk = c.wdata.data();
        size_t bytes = chunk_rows * c.elem;
        if (c.enc.valid()) {
            Status st = c.enc.get();
            if (!st.ok()) return st.with_context("'" + c.name + "'");
            chunk = c.wenc.data();
            bytes = c.wenc.size();
        } else if (w_rows < chunk_rows) {
            // Unfiltered last chunk: HDF5 pads it.
            return write_rows(c.dset.get(), slot_mem_type(c), c.wdata.data(), w_at, w_rows, 0, 1, c.name);
        }
        hsize_t offset = w_at;
        if (H5Dwrite_chunk(c.dset.get(), H5P_DEFAULT, 0, &offset, bytes, chunk) < 0)
            return Status::error("HDF5: cannot write '" + c.name + "' (disk full?)");
        return {};
    }

    // Writes the swapped-out buffers (c.w*) of w_rows rows at row w_at; runs on the writer
    // thread. The variable-length columns go first, while the pool encodes the scalar ones.
    Status write_buffers() {
        Status pending = write_encoded_vlen();
        if (!pending.ok()) return pending;
        for (Column& c : cols) {
            if (is_slot(c.kind)) continue;
            Status st;
            switch (c.kind) {
                case Kind::fixed:
                    st = write_rows(c.dset.get(), H5T_NATIVE_UINT8, c.wdata.data(), w_at, w_rows, c.fixed_size, 2, c.name);
                    break;
                case Kind::string: case Kind::json: {
                    ptrs.resize(w_rows);
                    uint64_t b = 0;
                    for (uint64_t i = 0; i < w_rows; ++i) {
                        ptrs[i] = c.wtext.data() + b;
                        b = c.wends[i];
                    }
                    st = write_vlen(c, str_type.get(), ptrs.data());
                    break;
                }
                case Kind::bytes: {
                    vls.resize(w_rows);
                    uint64_t b = 0;
                    for (uint64_t i = 0; i < w_rows; ++i) {
                        vls[i].p = c.wtext.data() + b;
                        vls[i].len = c.wends[i] - b - 1;  // without the NUL we added
                        b = c.wends[i];
                    }
                    st = write_vlen(c, bytes_type.get(), vls.data());
                    break;
                }
                case Kind::array_num: st = flush_array(c); break;
                default: break;
            }
            if (!st.ok()) return st;
            c.wdata.clear();
            c.wtext.clear();
            c.wends.clear();
        }
        for (Column& c : cols) {
            if (!is_slot(c.kind)) continue;
            Status st = write_slot(c);
            if (!st.ok()) return st;
        }
        return {};
    }

    // Variable-length values (strings, bytes, JSON) of w_rows rows at row w_at. HDF5 puts
    // each value in the file's global heap and a 16-byte reference to it in the chunk; with
    // compression, it also deflates the chunk of references on this (the only HDF5) thread,
    // which costs as much as the heap itself. So the values go to the heap through an
    // unfiltered scratch dataset: anonymous (never linked into the file) with a single chunk,
    // written without the chunk cache. Its raw chunk of references is read back, encoded on
    // the chunk pool like a scalar chunk, and written into the real dataset with
    // H5Dwrite_chunk by the next write_buffers (or finish), so that nobody waits for the
    // encoding (write_encoded_vlen). Closing the scratch dataset frees its chunk for
    // the next one; the heap objects stay (HDF5 never frees heap objects when it deletes a
    // dataset), so the references stay valid. tests/unit/pivot checks that read-back.
    Status write_vlen(Column& c, hid_t mem_type, const void* buf) {
        if (!options.gzip || w_rows == 0)
            return write_rows(c.dset.get(), mem_type, buf, w_at, w_rows, 0, 1, c.name);
        hsize_t dims = chunk_rows;
        h5::H5Id space(H5Screate_simple(1, &dims, nullptr));
        h5::H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
        H5Pset_chunk(dcpl.get(), 1, &dims);
        h5::H5Id dapl(H5Pcreate(H5P_DATASET_ACCESS));
        H5Pset_chunk_cache(dapl.get(), 0, 0, 1.0);  // straight to the file: read back below
        h5::H5Id file_type(H5Dget_type(c.dset.get()));
        h5::H5Id scratch(H5Dcreate_anon(group.get(), file_type.get(), space.get(), dcpl.get(), dapl.get()));
        if (!scratch.valid()) return Status::error("HDF5: cannot create a scratch dataset for '" + c.name + "'");
        hsize_t start = 0, count = w_rows;
        H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr);
        h5::H5Id ms(H5Screate_simple(1, &count, nullptr));
        if (H5Dwrite(scratch.get(), mem_type, ms.get(), space.get(), H5P_DEFAULT, buf) < 0)
            return Status::error("HDF5: cannot write '" + c.name + "' (disk full?)");
        hsize_t origin = 0, bytes = 0;
        uint32_t mask = 0;
        if (H5Dget_chunk_storage_size(scratch.get(), &origin, &bytes) < 0 || bytes == 0)
            return Status::error("HDF5: cannot size the scratch chunk of '" + c.name + "'");
        c.wrefs.resize(bytes);
        c.refs_at = w_at;
        c.refs_rows = w_rows;
        if (H5Dread_chunk(scratch.get(), H5P_DEFAULT, &origin, &mask, c.wrefs.data()) < 0)
            return Status::error("HDF5: cannot read the scratch chunk of '" + c.name + "'");
        c.enc = chunk_pool().submit([&c, f = filters_of(c)] {  // deflate only: elem is 0
            return encode_chunk(c.wrefs.data(), c.wrefs.size(), c.wrefs.size(), 1, f, c.wenc);
        });
        return {};
    }

    // Writes the encoded chunks of references that write_vlen left behind.
    Status write_encoded_vlen() {
        for (Column& c : cols) {
            if (is_slot(c.kind) || !c.enc.valid()) continue;
            Status st = c.enc.get();
            if (!st.ok()) return st.with_context("'" + c.name + "'");
            hsize_t total = c.refs_at + c.refs_rows, offset = c.refs_at;
            if (H5Dset_extent(c.dset.get(), &total) < 0) return Status::error("HDF5: cannot extend '" + c.name + "'");
            if (H5Dwrite_chunk(c.dset.get(), H5P_DEFAULT, 0, &offset, c.wenc.size(), c.wenc.data()) < 0)
                return Status::error("HDF5: cannot write '" + c.name + "' (disk full?)");
        }
        return {};
    }

    // Hands the buffered rows to the writer thread (and the scalar columns to the chunk
    // pool) and goes on decoding into the other set of buffers: decoding, encoding and HDF5
    // writing overlap, with two chunks in memory at most.
    Status flush(bool last = false) {
        Status prev = wait_writer();
        if (!prev.ok()) return prev;
        if (!created) {
            // The datasets are made at the first flush: an export that ends before its first
            // chunk is full gets chunks of its own size, not hdf5.chunk_rows rows of padding.
            chunk_rows = last ? std::max<uint64_t>(1, rows) : options.chunk_rows;
            for (Column& c : cols) {
                if (c.kind == Kind::array_num) continue;  // made at its first flush, when a width is known
                Status st = create_column(c, 0);
                if (!st.ok()) return st;
            }
            created = true;
        }
        for (Column& c : cols) {
            std::swap(c.data, c.wdata);
            std::swap(c.text, c.wtext);
            std::swap(c.ends, c.wends);
        }
        w_at = written;
        w_rows = rows;
        written += rows;
        rows = 0;
        for (Column& c : cols) {
            const ChunkFilters f = filters_of(c);
            if (!is_slot(c.kind) || w_rows == 0 || (!f.shuffle && !f.deflate)) continue;  // unfiltered: as it is
            // (a last, partial chunk is still a whole chunk on disk: the encoder pads it)
            c.enc = chunk_pool().submit([&c, f, rows = w_rows, n = chunk_rows] {
                return encode_chunk(c.wdata.data(), rows, n, c.elem, f, c.wenc);
            });
        }
        writer = std::async(std::launch::async, [this] { return write_buffers(); });
        return {};
    }

    Status wait_writer() {
        if (!writer.valid()) return {};
        return writer.get();
    }

    ~Impl() {
        if (writer.valid()) writer.wait();
        for (Column& c : cols)
            if (c.enc.valid()) c.enc.wait();  // a task still reads c.wdata
    }

    Status flush_array(Column& c) {
        uint64_t maxlen = 0, b = 0;
        for (uint64_t i = 0; i < w_rows; ++i) {
            uint64_t len = c.wends[i] - b;
            b = c.wends[i];
            maxlen = std::max(maxlen, len);
            if (c.first_len < 0) c.first_len = static_cast<int64_t>(len);
            if (static_cast<int64_t>(len) != c.first_len) c.varying = true;
        }
        if (!c.dset.valid()) {
            Status st = create_column(c, maxlen);
            if (!st.ok()) return st;
        }
        uint64_t w = std::max(c.width, maxlen);
        if (w != c.width) c.width = w;
        hid_t mt = c.item_type == Type::boolean ? bool_type.get() : mem_type_of(c.item_type);
        dense.assign(w_rows * w * c.elem, 0);
        b = 0;
        for (uint64_t i = 0; i < w_rows; ++i) {
            uint64_t len = c.wends[i] - b;
            std::memcpy(dense.data() + i * w * c.elem, c.wdata.data() + b * c.elem, len * c.elem);
            b = c.wends[i];
        }
        Status st = write_rows(c.dset.get(), mt, dense.data(), w_at, w_rows, w, 2, c.name);
        if (!st.ok()) return st;
        if (c.varying) {
            std::string ln = c.name + "__length";
            if (!c.len_dset.valid()) {
                Column tmp;
                tmp.elem = 4;
                st = create_dataset(tmp, 1, 0, H5T_STD_I32LE, c.len_dset, ln);
                if (!st.ok()) return st;
                st = h5::set_attr(c.dset.get(), "length_dataset", ln);
                if (!st.ok()) return st;
                // Rows written before lengths started to vary all had the first length.
                std::vector<int32_t> fill(std::min<uint64_t>(w_at, options.chunk_rows),
                                          static_cast<int32_t>(c.first_len));
                for (uint64_t at = 0; at < w_at; at += fill.size()) {
                    uint64_t n = std::min<uint64_t>(fill.size(), w_at - at);
                    st = write_rows(c.len_dset.get(), H5T_NATIVE_INT32, fill.data(), at, n, 0, 1, ln);
                    if (!st.ok()) return st;
                }
            }
            std::vector<int32_t> lens(w_rows);
            b = 0;
            for (uint64_t i = 0; i < w_rows; ++i) {
                lens[i] = static_cast<int32_t>(c.wends[i] - b);
                b = c.wends[i];
            }
            st = write_rows(c.len_dset.get(), H5T_NATIVE_INT32, lens.data(), w_at, w_rows, 0, 1, ln);
        }
        return st;
    }
};

ChannelColumns::ChannelColumns(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ChannelColumns::~ChannelColumns() = default;

Result<std::unique_ptr<ChannelColumns>> ChannelColumns::create(const avro::Schema& schema,
                                                               const std::string& time_field,
                                                               TimeUnit time_unit,
                                                               const std::vector<std::string>& signals,
                                                               const Hdf5Options& options) {
    const Node& root = schema.root();
    if (root.type != Type::record) return Status::error("schema is not a record");
    auto impl = std::make_unique<Impl>();
    impl->schema = schema;
    impl->options = options;
    if (impl->options.chunk_rows == 0) impl->options.chunk_rows = 65536;
    impl->time_unit = time_unit;
    impl->time_index = schema.field_index(time_field);
    if (impl->time_index < 0) return Status::error("schema has no time field '" + time_field + "'");
    const Node& tn = schema.node(root.fields[impl->time_index].type);
    impl->time_type = tn.type;
    if (tn.type != Type::long_type && tn.type != Type::int_type && tn.type != Type::double_type &&
        tn.type != Type::float_type)
        return Status::error("time field '" + time_field + "' is a " + std::string(avro::type_name(tn.type)) +
                             ", not a number");
    for (const auto& s : signals) {
        if (schema.field_index(s) < 0) return Status::error("no signal '" + s + "'");
    }
    Plan& rp = impl->root;
    rp.op = Plan::op_record;
    rp.node = schema.root_id();
    for (size_t i = 0; i < root.fields.size(); ++i) {
        const auto& f = root.fields[i];
        if (static_cast<int>(i) == impl->time_index) {
            Plan t;
            t.op = Plan::op_time;
            t.node = f.type;
            t.col = impl->add_col("time", Kind::i64, "time", 8);
            impl->time_col = t.col;
            rp.children.push_back(std::move(t));
            continue;
        }
        bool keep = signals.empty() || std::find(signals.begin(), signals.end(), f.name) != signals.end();
        // A field named "time" that is not the time field would clash with the time dataset.
        if (f.name == "time") keep = false;
        if (!keep) {
            Plan s;
            s.op = Plan::op_skip;
            s.node = f.type;
            rp.children.push_back(std::move(s));
            continue;
        }
        auto c = impl->compile(f.type, f.name, 0);
        if (!c.ok()) return c.status();
        rp.children.push_back(std::move(*c));
    }
    const uint64_t chunk = impl->options.chunk_rows;
    for (auto& c : impl->cols) {
        switch (c.kind) {
            case Kind::string: case Kind::bytes: case Kind::json: c.ends.reserve(chunk); break;
            case Kind::fixed: c.data.reserve(chunk * c.fixed_size); break;
            case Kind::array_num: break;
            default:  // scalar (is_slot): whole-chunk buffers, memory used as rows arrive
                c.data.resize(chunk * c.elem);
                c.wdata.resize(chunk * c.elem);
        }
    }
    chunk_pool(options.threads);  // made here, with the configured size, if not yet
    impl->flatten(impl->root);
    return std::unique_ptr<ChannelColumns>(new ChannelColumns(std::move(impl)));
}

bool ChannelColumns::peek_time(const uint8_t* p, const uint8_t* end, int64_t& time_ns) const {
    const Node& root = impl_->schema.root();
    for (int i = 0; i < impl_->time_index; ++i) {
        p = walk(impl_->schema, root.fields[i].type, p, end, nullptr);
        if (!p) return false;
    }
    return impl_->read_time(p, end, time_ns) != nullptr;
}

const uint8_t* ChannelColumns::skip(const uint8_t* p, const uint8_t* end) const {
    return walk(impl_->schema, impl_->schema.root_id(), p, end, nullptr);
}

const uint8_t* ChannelColumns::append(const uint8_t* p, const uint8_t* end, Status& io_status) {
    Impl& m = *impl_;
    const uint8_t* q = m.run(p, end);
    if (!q) {
        m.rollback();
        return nullptr;
    }
    int64_t t = 0;
    std::memcpy(&t, m.cols[m.time_col].data.data() + m.rows * 8, 8);
    if (m.rows + m.written == 0) m.first_ns = t;
    m.last_ns = t;
    if (++m.rows >= m.options.chunk_rows) io_status = m.flush();
    return q;
}

Status ChannelColumns::open_group(hid_t file, const std::string& group_name) {
    Impl& m = *impl_;
    m.group = h5::H5Id(H5Gcreate2(file, group_name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!m.group.valid()) return Status::error("HDF5: cannot create group '" + group_name + "'");
    m.str_type = h5::vlen_utf8_type();
    m.bool_type = h5::bool_type();
    m.bytes_type = h5::H5Id(H5Tvlen_create(H5T_NATIVE_UINT8));
    return {};
}

Status ChannelColumns::finish() {
    Status st = impl_->flush(/*last=*/true);
    Status w = impl_->wait_writer();
    if (st.ok()) st = w;
    if (st.ok()) st = impl_->write_encoded_vlen();
    return st;
}
hid_t ChannelColumns::group() const { return impl_->group.get(); }
uint64_t ChannelColumns::rows() const { return impl_->rows + impl_->written; }
int64_t ChannelColumns::first_time_ns() const { return impl_->first_ns; }
int64_t ChannelColumns::last_time_ns() const { return impl_->last_ns; }
std::vector<std::string> ChannelColumns::dataset_names() const {
    std::vector<std::string> out;
    for (const auto& c : impl_->cols) out.push_back(c.name);
    return out;
}

}  // namespace speeddata::pivot
