#include "stripchart/legacy_json.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "core/text.hpp"
#include "core/time.hpp"
#include "core/avro/codec.hpp"

namespace speeddata::stripchart {

namespace {

using avro::NodeId;
using avro::Type;

constexpr int max_depth = 64;

void append_int(std::string& out, int64_t v) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// As JavaScript's JSON.stringify writes a number: non-finite values are null; the shortest
// text that reads back as the same double.
void append_double(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out += "null";
        return;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

// JSON.stringify's escaping: quote, backslash and control characters; the rest as is (the
// validator has checked the UTF-8).
void append_string(std::string& out, const uint8_t* s, size_t n) {
    out.push_back('"');
    for (size_t i = 0; i < n; ++i) {
        const uint8_t c = s[i];
        append_json_char(out, c);
    }
    out.push_back('"');
}

void append_string(std::string& out, std::string_view s) {
    append_string(out, reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// avro-js decoded bytes and fixed into Node Buffers, which JSON.stringify writes this way.
void append_buffer(std::string& out, const uint8_t* s, size_t n) {
    out += "{\"type\":\"Buffer\",\"data\":[";
    for (size_t i = 0; i < n; ++i) {
        if (i) out.push_back(',');
        append_int(out, s[i]);
    }
    out += "]}";
}

bool read_long(const uint8_t*& p, const uint8_t* end, int64_t& v) {
    const size_t k = avro::read_long(p, end, v);
    if (k == 0) return false;
    p += k;
    return true;
}

// A length-prefixed run of bytes (string, bytes, map key).
bool read_run(const uint8_t*& p, const uint8_t* end, const uint8_t*& data, size_t& n) {
    int64_t len = 0;
    if (!read_long(p, end, len) || len < 0 || len > end - p) return false;
    data = p;
    n = static_cast<size_t>(len);
    p += len;
    return true;
}

// The name avro-js wrapped a union branch's value in: a named type's full name, else the
// type's name (the Avro JSON encoding of unions).
void append_branch_name(std::string& out, const avro::Node& n) {
    if (n.type == Type::record || n.type == Type::enum_type || n.type == Type::fixed)
        append_string(out, n.full_name);
    else
        append_string(out, avro::type_name(n.type));
}

bool write_value(const avro::Schema& s, NodeId id, const uint8_t*& p, const uint8_t* end, std::string& out, int depth);

// Array and map blocks: a count (negative: followed by the block's byte size), 0 ends.
template <typename Item>
bool write_blocks(const uint8_t*& p, const uint8_t* end, Item item) {
    bool first = true;
    for (;;) {
        int64_t count = 0;
        if (!read_long(p, end, count)) return false;
        if (count == 0) return true;
        if (count < 0) {
            if (count == INT64_MIN) return false;
            count = -count;
            int64_t bytes = 0;
            if (!read_long(p, end, bytes)) return false;
        }
        for (int64_t i = 0; i < count; ++i) {
            if (!item(first)) return false;  // item writes the separator when !first
            first = false;
        }
    }
}

bool write_value(const avro::Schema& s, NodeId id, const uint8_t*& p, const uint8_t* end, std::string& out, int depth) {
    if (depth > max_depth) return false;
    const avro::Node& n = s.node(id);
    switch (n.type) {
        case Type::null_type: out += "null"; return true;
        case Type::boolean:
            if (p >= end || *p > 1) return false;
            out += *p ? "true" : "false";
            ++p;
            return true;
        case Type::int_type:
        case Type::long_type: {
            int64_t v = 0;
            if (!read_long(p, end, v)) return false;
            append_int(out, v);
            return true;
        }
        case Type::float_type:
            if (end - p < 4) return false;
            // A JavaScript number holds the float's exact value (0.1f is 0.10000000149011612).
            append_double(out, static_cast<double>(avro::read_float(p)));
            p += 4;
            return true;
        case Type::double_type:
            if (end - p < 8) return false;
            append_double(out, avro::read_double(p));
            p += 8;
            return true;
        case Type::string:
        case Type::bytes: {
            const uint8_t* d = nullptr;
            size_t len = 0;
            if (!read_run(p, end, d, len)) return false;
            if (n.type == Type::string)
                append_string(out, d, len);
            else
                append_buffer(out, d, len);
            return true;
        }
        case Type::fixed:
            if (static_cast<uint64_t>(end - p) < n.fixed_size) return false;
            append_buffer(out, p, n.fixed_size);
            p += n.fixed_size;
            return true;
        case Type::enum_type: {
            int64_t i = 0;
            if (!read_long(p, end, i) || i < 0 || static_cast<uint64_t>(i) >= n.symbols.size()) return false;
            append_string(out, n.symbols[static_cast<size_t>(i)]);
            return true;
        }
        case Type::record: {
            out.push_back('{');
            for (size_t i = 0; i < n.fields.size(); ++i) {
                if (i) out.push_back(',');
                append_string(out, n.fields[i].name);
                out.push_back(':');
                if (!write_value(s, n.fields[i].type, p, end, out, depth + 1)) return false;
            }
            out.push_back('}');
            return true;
        }
        case Type::array: {
            out.push_back('[');
            const bool ok = write_blocks(p, end, [&](bool first) {
                if (!first) out.push_back(',');
                return write_value(s, n.items, p, end, out, depth + 1);
            });
            out.push_back(']');
            return ok;
        }
        case Type::map: {
            out.push_back('{');
            const bool ok = write_blocks(p, end, [&](bool first) {
                if (!first) out.push_back(',');
                const uint8_t* k = nullptr;
                size_t len = 0;
                if (!read_run(p, end, k, len)) return false;
                append_string(out, k, len);
                out.push_back(':');
                return write_value(s, n.values, p, end, out, depth + 1);
            });
            out.push_back('}');
            return ok;
        }
        case Type::union_type: {
            int64_t b = 0;
            if (!read_long(p, end, b) || b < 0 || static_cast<uint64_t>(b) >= n.branches.size()) return false;
            const NodeId branch = n.branches[static_cast<size_t>(b)];
            if (s.node(branch).type == Type::null_type) {
                out += "null";
                return true;
            }
            out.push_back('{');
            append_branch_name(out, s.node(branch));
            out.push_back(':');
            if (!write_value(s, branch, p, end, out, depth + 1)) return false;
            out.push_back('}');
            return true;
        }
    }
    return false;
}

// The time field: a number (or a [null, number] union) in `unit`, as ISO 8601 text.
bool write_time(const avro::Schema& s, NodeId id, TimeUnit unit, const uint8_t*& p, const uint8_t* end,
                std::string& out) {
    const avro::Node* n = &s.node(id);
    if (n->type == Type::union_type) {
        int64_t b = 0;
        if (!read_long(p, end, b) || b < 0 || static_cast<uint64_t>(b) >= n->branches.size()) return false;
        n = &s.node(n->branches[static_cast<size_t>(b)]);
        if (n->type == Type::null_type) {
            out += "null";
            return true;
        }
    }
    int64_t ns = 0;
    switch (n->type) {
        case Type::int_type:
        case Type::long_type: {
            int64_t v = 0;
            if (!read_long(p, end, v)) return false;
            ns = to_ns(v, unit);
            break;
        }
        case Type::float_type:
            if (end - p < 4) return false;
            ns = to_ns(static_cast<double>(avro::read_float(p)), unit);
            p += 4;
            break;
        case Type::double_type:
            if (end - p < 8) return false;
            ns = to_ns(avro::read_double(p), unit);
            p += 8;
            break;
        default: return false;
    }
    out.push_back('"');
    append_iso8601_ms(out, ns);
    out.push_back('"');
    return true;
}

}  // namespace


bool append_legacy_record_json(const avro::Schema& schema, int time_index, TimeUnit unit, const uint8_t* p,
                               const uint8_t* end, std::string& out) {
    const avro::Node& root = schema.root();
    if (root.type != Type::record) return false;
    const size_t start = out.size();
    out.push_back('{');
    bool ok = true;
    for (size_t i = 0; ok && i < root.fields.size(); ++i) {
        if (i) out.push_back(',');
        append_string(out, root.fields[i].name);
        out.push_back(':');
        ok = static_cast<int>(i) == time_index ? write_time(schema, root.fields[i].type, unit, p, end, out)
                                               : write_value(schema, root.fields[i].type, p, end, out, 1);
    }
    out.push_back('}');
    if (!ok) out.resize(start);
    return ok;
}

}  // namespace speeddata::stripchart
