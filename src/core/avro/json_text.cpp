// The Avro JSON encoding as compact text: of a decoded Value (append_json: `avro cat`, the
// pivot's CSV) and straight from binary (append_json_value: the pivot's JSON columns), with
// one set of rules for strings, bytes and numbers so the two always write the same text.
// Skipping binary values (skip_value) is the same walk without the text.
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include "core/avro/codec.hpp"
#include "core/avro/json_kind.hpp"
#include "core/text.hpp"
#include "core/avro/json_node.hpp"
#include "core/avro/walk.hpp"

namespace speeddata::avro {

namespace {

using detail::branch_name;
using detail::latin1_to_utf8;

constexpr int max_depth = walk_max_depth;

// JSON string literal of UTF-8 text. Besides what JSON requires, the C1 controls
// (U+0080..U+009F) and U+2028/U+2029 are escaped: line-oriented tools (Python's
// str.splitlines, JavaScript) treat some of them as line breaks, and `avro cat` promises one
// record per line.
void append_json_string(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789abcdef";
    out.push_back('"');
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) < 0xA0 &&
            static_cast<unsigned char>(s[i + 1]) >= 0x80) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            out += "\\u00";
            out.push_back(hex[c1 >> 4]);
            out.push_back(hex[c1 & 15]);
            ++i;
            continue;
        }
        if (c == 0xE2 && i + 2 < s.size() && s[i + 1] == '\x80' &&
            (s[i + 2] == '\xA8' || s[i + 2] == '\xA9')) {
            out += s[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
            i += 2;
            continue;
        }
        append_json_char(out, c);
    }
    out.push_back('"');
}

template <typename T>
void append_number(std::string& out, T x) {
    char buf[40];
    auto r = std::to_chars(buf, buf + sizeof buf, x);
    out.append(buf, r.ptr);
}

template <typename F>
void append_float_json(std::string& out, F x) {
    if (std::isnan(x)) {
        out += "\"NaN\"";
    } else if (std::isinf(x)) {
        out += x > 0 ? "\"Infinity\"" : "\"-Infinity\"";
    } else {
        const size_t at = out.size();
        append_number(out, x);
        // "1" would read back as an integer; keep floats recognisable as floats.
        if (out.find_first_of(".eE", at) == std::string::npos) out += ".0";
    }
}

// As to_json_node, written straight into out as compact text with fields in schema order.
void append_json_node(const Schema& s, NodeId id, const Value& v, std::string& out, int depth) {
    const Node& n = s.node(id);
    if (depth > max_depth) {
        out += "null";
        return;
    }
    switch (v.v.index()) {
        case Value::null_index: out += "null"; return;
        case Value::boolean_index: out += std::get<Value::boolean_index>(v.v) ? "true" : "false"; return;
        case Value::int_index: append_number(out, std::get<Value::int_index>(v.v)); return;
        case Value::long_index: append_number(out, std::get<Value::long_index>(v.v)); return;
        case Value::float_index: append_float_json(out, std::get<Value::float_index>(v.v)); return;
        case Value::double_index: append_float_json(out, std::get<Value::double_index>(v.v)); return;
        case Value::bytes_index: append_json_string(out, latin1_to_utf8(std::get<Value::bytes_index>(v.v).bytes)); return;
        case Value::fixed_index: append_json_string(out, latin1_to_utf8(std::get<Value::fixed_index>(v.v).bytes)); return;
        case Value::string_index: append_json_string(out, std::get<Value::string_index>(v.v)); return;
        case Value::enum_index: {
            const int32_t i = std::get<Value::enum_index>(v.v).index;
            if (n.type == Type::enum_type && i >= 0 && static_cast<size_t>(i) < n.symbols.size()) {
                append_json_string(out, n.symbols[static_cast<size_t>(i)]);
            } else {
                append_number(out, i);
            }
            return;
        }
        case Value::record_index: {
            out.push_back('{');
            const Record& r = std::get<Value::record_index>(v.v);
            for (size_t i = 0; i < r.size() && i < n.fields.size(); ++i) {
                if (i) out.push_back(',');
                append_json_string(out, n.fields[i].name);
                out.push_back(':');
                append_json_node(s, n.fields[i].type, r[i], out, depth + 1);
            }
            out.push_back('}');
            return;
        }
        case Value::array_index: {
            out.push_back('[');
            bool first = true;
            for (const Value& e : std::get<Value::array_index>(v.v)) {
                if (!first) out.push_back(',');
                first = false;
                if (n.type == Type::array) {
                    append_json_node(s, n.items, e, out, depth + 1);
                } else {
                    out += "null";
                }
            }
            out.push_back(']');
            return;
        }
        case Value::map_index: {
            out.push_back('{');
            bool first = true;
            for (const auto& [k, e] : std::get<Value::map_index>(v.v)) {
                if (!first) out.push_back(',');
                first = false;
                append_json_string(out, k);
                out.push_back(':');
                if (n.type == Type::map) {
                    append_json_node(s, n.values, e, out, depth + 1);
                } else {
                    out += "null";
                }
            }
            out.push_back('}');
            return;
        }
        case Value::union_index: {
            const auto& u = std::get<Value::union_index>(v.v);
            if (!u || n.type != Type::union_type || u->branch < 0 || static_cast<size_t>(u->branch) >= n.branches.size()) {
                out += "null";
                return;
            }
            const NodeId b = n.branches[static_cast<size_t>(u->branch)];
            if (s.node(b).type == Type::null_type) {
                out += "null";
                return;
            }
            out.push_back('{');
            append_json_string(out, branch_name(s.node(b)));
            out.push_back(':');
            append_json_node(s, b, u->value, out, depth + 1);
            out.push_back('}');
            return;
        }
    }
}

// Reads an array/map block's item count; a negative count is followed by the block's byte
// size (skipped) and is returned positive. 0 ends the array/map.
const uint8_t* read_block_count(const uint8_t* p, const uint8_t* end, int64_t& count) noexcept {
    size_t k = read_long(p, end, count);
    if (!k) return nullptr;
    p += k;
    if (count < 0) {
        int64_t bytes = 0;
        if (!(k = read_long(p, end, bytes))) return nullptr;
        p += k;
        count = -count;
    }
    return p;
}

// Skips (json == nullptr) or renders one binary value of node id; nullptr when malformed.
const uint8_t* walk(const Schema& s, NodeId id, const uint8_t* p, const uint8_t* end, std::string* json,
                    int depth) {
    if (depth > max_depth || !p) return nullptr;
    const Node& n = s.node(id);
    int64_t v = 0;
    size_t k = 0;
    switch (n.type) {
        case Type::null_type:
            if (json) *json += "null";
            return p;
        case Type::boolean:
            if (p >= end || *p > 1) return nullptr;
            if (json) *json += *p ? "true" : "false";
            return p + 1;
        case Type::int_type: case Type::long_type:
            if (!(k = read_long(p, end, v))) return nullptr;
            if (json) append_number(*json, v);
            return p + k;
        case Type::enum_type:
            if (!(k = read_long(p, end, v)) || v < 0 || static_cast<size_t>(v) >= n.symbols.size()) return nullptr;
            if (json) append_json_string(*json, n.symbols[static_cast<size_t>(v)]);
            return p + k;
        case Type::float_type:
            if (end - p < 4) return nullptr;
            if (json) append_float_json(*json, read_float(p));
            return p + 4;
        case Type::double_type:
            if (end - p < 8) return nullptr;
            if (json) append_float_json(*json, read_double(p));
            return p + 8;
        case Type::bytes: case Type::string: {
            if (!(k = read_long(p, end, v)) || v < 0 || v > end - (p + k)) return nullptr;
            p += k;
            const std::string_view text(reinterpret_cast<const char*>(p), static_cast<size_t>(v));
            if (json) {
                if (n.type == Type::string) append_json_string(*json, text);
                else append_json_string(*json, latin1_to_utf8(std::string(text)));
            }
            return p + v;
        }
        case Type::fixed:
            if (static_cast<uint64_t>(end - p) < n.fixed_size) return nullptr;
            if (json) append_json_string(*json, latin1_to_utf8(std::string(reinterpret_cast<const char*>(p), n.fixed_size)));
            return p + n.fixed_size;
        case Type::record: {
            if (json) *json += '{';
            bool first = true;
            for (const auto& f : n.fields) {
                if (json) {
                    if (!first) *json += ',';
                    first = false;
                    append_json_string(*json, f.name);
                    *json += ':';
                }
                if (!(p = walk(s, f.type, p, end, json, depth + 1))) return nullptr;
            }
            if (json) *json += '}';
            return p;
        }
        case Type::array: case Type::map: {
            const bool is_map = n.type == Type::map;
            if (json) *json += is_map ? '{' : '[';
            bool first = true;
            for (;;) {
                if (!(p = read_block_count(p, end, v))) return nullptr;
                if (v == 0) break;
                if (v > end - p + 1) return nullptr;  // every item takes >= 0 bytes; bound the loop
                for (int64_t i = 0; i < v; ++i) {
                    if (json && !first) *json += ',';
                    first = false;
                    if (is_map) {
                        int64_t kl = 0;
                        if (!(k = read_long(p, end, kl)) || kl < 0 || kl > end - (p + k)) return nullptr;
                        p += k;
                        if (json) {
                            append_json_string(*json, std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(kl)));
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
            if (!(k = read_long(p, end, v)) || v < 0 || static_cast<size_t>(v) >= n.branches.size()) return nullptr;
            p += k;
            const NodeId b = n.branches[static_cast<size_t>(v)];
            if (s.node(b).type == Type::null_type) {
                if (json) *json += "null";
                return p;
            }
            if (json) {
                *json += '{';
                append_json_string(*json, branch_name(s.node(b)));
                *json += ':';
            }
            if (!(p = walk(s, b, p, end, json, depth + 1))) return nullptr;
            if (json) *json += '}';
            return p;
        }
    }
    return nullptr;
}

}  // namespace

void append_json(const Schema& schema, const Value& value, std::string& out) {
    if (schema.root_id() == no_node) {
        out += "null";
        return;
    }
    append_json_node(schema, schema.root_id(), value, out, 0);
}

void append_json(const Schema& schema, NodeId id, const Value& value, std::string& out) {
    append_json_node(schema, id, value, out, 0);
}

const uint8_t* skip_value(const Schema& schema, NodeId id, const uint8_t* p, const uint8_t* end) noexcept {
    return walk(schema, id, p, end, nullptr, 0);  // without text nothing allocates
}

const uint8_t* append_json_value(const Schema& schema, NodeId id, const uint8_t* p, const uint8_t* end,
                                 std::string& out) {
    return walk(schema, id, p, end, &out, 0);
}

}  // namespace speeddata::avro
