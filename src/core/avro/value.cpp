// Typed values: binary decode/encode and the Avro JSON encoding as a JSON tree (the same
// encoding as compact text: json_text.cpp). Not on the hot path; the code favours clear
// error messages that name the path inside the datum ($.field[3].x).
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "core/avro/codec.hpp"
#include "core/avro/json_node.hpp"
#include "core/avro/json_kind.hpp"

namespace speeddata::avro {

using json = nlohmann::json;

namespace {

constexpr int max_depth = 128;

// The Avro type name of the alternative a Value holds.
std::string_view kind_name(const Value& v) {
    switch (v.v.index()) {
        case Value::null_index: return "null";
        case Value::boolean_index: return "boolean";
        case Value::int_index: return "int";
        case Value::long_index: return "long";
        case Value::float_index: return "float";
        case Value::double_index: return "double";
        case Value::bytes_index: return "bytes";
        case Value::string_index: return "string";
        case Value::record_index: return "record";
        case Value::enum_index: return "enum";
        case Value::array_index: return "array";
        case Value::map_index: return "map";
        case Value::union_index: return "union";
        case Value::fixed_index: return "fixed";
    }
    return "?";
}

using detail::branch_name;
using detail::json_kind;
using detail::latin1_to_utf8;

// "long", or "record 'a.b'" for named types.
std::string type_label(const Node& n) {
    return n.full_name.empty() ? std::string(type_name(n.type)) : std::string(type_name(n.type)) + " '" + n.full_name + "'";
}

// ---- binary decoding --------------------------------------------------------------------

class Decoder {
public:
    Decoder(const Schema& s, const uint8_t* begin, const uint8_t* end) : s_(s), begin_(begin), end_(end) {}

    bool decode(NodeId id, const uint8_t*& p, Value& out, int depth) {
        if (depth > max_depth) return fail(DecodeError::too_deep, p);
        const Node& n = s_.node(id);
        switch (n.type) {
            case Type::null_type: out.v.emplace<Value::null_index>(); return true;
            case Type::boolean:
                if (p == end_) return fail(DecodeError::truncated, p);
                if (*p > 1) return fail(DecodeError::bad_boolean, p);
                out.v.emplace<Value::boolean_index>(*p++ == 1);
                return true;
            case Type::int_type: {
                int64_t v;
                if (!read_varint(p, v, true)) return false;
                out.v.emplace<Value::int_index>(static_cast<int32_t>(v));
                return true;
            }
            case Type::long_type: {
                int64_t v;
                if (!read_varint(p, v, false)) return false;
                out.v.emplace<Value::long_index>(v);
                return true;
            }
            case Type::float_type:
                if (end_ - p < 4) return fail(DecodeError::truncated, p);
                out.v.emplace<Value::float_index>(read_float(p));
                p += 4;
                return true;
            case Type::double_type:
                if (end_ - p < 8) return fail(DecodeError::truncated, p);
                out.v.emplace<Value::double_index>(read_double(p));
                p += 8;
                return true;
            case Type::bytes: {
                std::string_view b;
                if (!read_bytes(p, b, false)) return false;
                out.v.emplace<Value::bytes_index>(BytesValue{std::string(b)});
                return true;
            }
            case Type::string: {
                std::string_view b;
                if (!read_bytes(p, b, true)) return false;
                out.v.emplace<Value::string_index>(std::string(b));
                return true;
            }
            case Type::fixed:
                if (static_cast<uint64_t>(end_ - p) < n.fixed_size) return fail(DecodeError::truncated, p);
                out.v.emplace<Value::fixed_index>(
                    FixedValue{std::string(reinterpret_cast<const char*>(p), n.fixed_size)});
                p += n.fixed_size;
                return true;
            case Type::enum_type: {
                const uint8_t* at = p;
                int64_t v;
                if (!read_varint(p, v, true)) return false;
                if (v < 0 || static_cast<uint64_t>(v) >= n.symbols.size()) return fail(DecodeError::bad_enum_index, at);
                out.v.emplace<Value::enum_index>(EnumValue{static_cast<int32_t>(v)});
                return true;
            }
            case Type::union_type: {
                const uint8_t* at = p;
                int64_t v;
                if (!read_varint(p, v, true)) return false;
                if (v < 0 || static_cast<uint64_t>(v) >= n.branches.size()) return fail(DecodeError::bad_union_index, at);
                auto u = std::make_shared<UnionValue>();
                u->branch = static_cast<int32_t>(v);
                if (!decode(n.branches[static_cast<size_t>(v)], p, u->value, depth + 1)) return false;
                out.v = std::move(u);
                return true;
            }
            case Type::record: {
                Record r(n.fields.size());
                for (size_t i = 0; i < n.fields.size(); ++i) {
                    if (!decode(n.fields[i].type, p, r[i], depth + 1)) return false;
                }
                out.v.emplace<Value::record_index>(std::move(r));
                return true;
            }
            case Type::array: {
                Array a;
                if (!blocks(p, [&](const uint8_t*& q) {
                        a.emplace_back();
                        return decode(n.items, q, a.back(), depth + 1);
                    }))
                    return false;
                out.v.emplace<Value::array_index>(std::move(a));
                return true;
            }
            case Type::map: {
                Map m;
                if (!blocks(p, [&](const uint8_t*& q) {
                        std::string_view key;
                        if (!read_bytes(q, key, true)) return false;
                        m.emplace_back(std::string(key), Value{});
                        return decode(n.values, q, m.back().second, depth + 1);
                    }))
                    return false;
                out.v.emplace<Value::map_index>(std::move(m));
                return true;
            }
        }
        return false;
    }

    DecodeError error = DecodeError::none;
    size_t error_offset = 0;

private:
    bool fail(DecodeError e, const uint8_t* at) {
        error = e;
        error_offset = static_cast<size_t>(at - begin_);
        return false;
    }

    bool read_varint(const uint8_t*& p, int64_t& out, bool is_int) {
        const int max_bytes = is_int ? 5 : 10;
        const uint8_t last_max = is_int ? 0x0f : 0x01;
        const uint8_t* start = p;
        uint64_t v = 0;
        for (int i = 0; i < max_bytes; ++i) {
            if (p == end_) return fail(DecodeError::truncated, start);
            const uint8_t b = *p++;
            if (i == max_bytes - 1 && b > last_max) return fail(DecodeError::bad_varint, start);
            v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
            if (!(b & 0x80)) {
                out = static_cast<int64_t>((v >> 1) ^ (0 - (v & 1)));
                return true;
            }
        }
        return fail(DecodeError::bad_varint, start);
    }

    bool read_bytes(const uint8_t*& p, std::string_view& out, bool utf8) {
        const uint8_t* at = p;
        int64_t len;
        if (!read_varint(p, len, false)) return false;
        if (len < 0) return fail(DecodeError::negative_length, at);
        if (static_cast<uint64_t>(len) > static_cast<uint64_t>(end_ - p)) return fail(DecodeError::truncated, at);
        if (utf8 && !is_valid_utf8(p, static_cast<size_t>(len))) return fail(DecodeError::bad_utf8, at);
        out = std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
        p += len;
        return true;
    }

    // Array/map blocks; item() decodes one item. As in the validator, a count may not exceed
    // the bytes left (even zero-size items such as null count as one byte), so a hostile
    // count can neither make us allocate nor spin.
    template <typename F>
    bool blocks(const uint8_t*& p, F&& item) {
        for (;;) {
            const uint8_t* at = p;
            int64_t count;
            if (!read_varint(p, count, false)) return false;
            if (count == 0) return true;
            const uint8_t* block_end = nullptr;
            if (count < 0) {
                if (count == INT64_MIN) return fail(DecodeError::too_large, at);
                count = -count;
                const uint8_t* size_at = p;
                int64_t bsize;
                if (!read_varint(p, bsize, false)) return false;
                if (bsize < 0) return fail(DecodeError::negative_length, size_at);
                if (static_cast<uint64_t>(bsize) > static_cast<uint64_t>(end_ - p)) return fail(DecodeError::too_large, size_at);
                block_end = p + bsize;
            }
            const uint64_t remaining = static_cast<uint64_t>((block_end ? block_end : end_) - p);
            if (static_cast<uint64_t>(count) > remaining) return fail(DecodeError::too_large, at);
            for (int64_t i = 0; i < count; ++i) {
                if (!item(p)) return false;
            }
            if (block_end && p != block_end) return fail(DecodeError::too_large, at);
        }
    }

    const Schema& s_;
    const uint8_t* begin_;
    const uint8_t* end_;
};

// ---- binary encoding --------------------------------------------------------------------

class Encoder {
public:
    explicit Encoder(const Schema& s) : s_(s) {}

    bool encode(NodeId id, const Value& v, std::string& out, int depth) {
        if (depth > max_depth) return fail("nested too deeply");
        const Node& n = s_.node(id);
        auto expect = [&](size_t index) {
            if (v.v.index() == index) return true;
            return fail("expected " + type_label(n) + ", got " + std::string(kind_name(v)));
        };
        switch (n.type) {
            case Type::null_type: return expect(Value::null_index);
            case Type::boolean:
                if (!expect(Value::boolean_index)) return false;
                out.push_back(std::get<Value::boolean_index>(v.v) ? 1 : 0);
                return true;
            case Type::int_type:
                if (!expect(Value::int_index)) return false;
                append_long(out, std::get<Value::int_index>(v.v));
                return true;
            case Type::long_type:
                if (!expect(Value::long_index)) return false;
                append_long(out, std::get<Value::long_index>(v.v));
                return true;
            case Type::float_type:
                if (!expect(Value::float_index)) return false;
                append_float(out, std::get<Value::float_index>(v.v));
                return true;
            case Type::double_type:
                if (!expect(Value::double_index)) return false;
                append_double(out, std::get<Value::double_index>(v.v));
                return true;
            case Type::bytes: {
                if (!expect(Value::bytes_index)) return false;
                const std::string& b = std::get<Value::bytes_index>(v.v).bytes;
                append_long(out, static_cast<int64_t>(b.size()));
                out += b;
                return true;
            }
            case Type::string: {
                if (!expect(Value::string_index)) return false;
                const std::string& b = std::get<Value::string_index>(v.v);
                if (!is_valid_utf8(reinterpret_cast<const uint8_t*>(b.data()), b.size())) {
                    return fail("string is not valid UTF-8");
                }
                append_long(out, static_cast<int64_t>(b.size()));
                out += b;
                return true;
            }
            case Type::fixed: {
                if (!expect(Value::fixed_index)) return false;
                const std::string& b = std::get<Value::fixed_index>(v.v).bytes;
                if (b.size() != n.fixed_size) {
                    return fail("fixed '" + n.full_name + "' needs " + std::to_string(n.fixed_size) + " bytes, got " +
                                std::to_string(b.size()));
                }
                out += b;
                return true;
            }
            case Type::enum_type: {
                if (!expect(Value::enum_index)) return false;
                const int32_t i = std::get<Value::enum_index>(v.v).index;
                if (i < 0 || static_cast<size_t>(i) >= n.symbols.size()) {
                    return fail("enum index " + std::to_string(i) + " out of range for enum '" + n.full_name + "'");
                }
                append_long(out, i);
                return true;
            }
            case Type::union_type: {
                if (!expect(Value::union_index)) return false;
                const auto& u = std::get<Value::union_index>(v.v);
                if (!u) return fail("null union pointer");
                if (u->branch < 0 || static_cast<size_t>(u->branch) >= n.branches.size()) {
                    return fail("union branch " + std::to_string(u->branch) + " out of range");
                }
                append_long(out, u->branch);
                return encode(n.branches[static_cast<size_t>(u->branch)], u->value, out, depth + 1);
            }
            case Type::record: {
                if (!expect(Value::record_index)) return false;
                const Record& r = std::get<Value::record_index>(v.v);
                if (r.size() != n.fields.size()) {
                    return fail("record '" + n.full_name + "' has " + std::to_string(n.fields.size()) + " fields, value has " +
                                std::to_string(r.size()));
                }
                for (size_t i = 0; i < r.size(); ++i) {
                    if (!encode(n.fields[i].type, r[i], out, depth + 1)) return context("." + n.fields[i].name);
                }
                return true;
            }
            case Type::array: {
                if (!expect(Value::array_index)) return false;
                const Array& a = std::get<Value::array_index>(v.v);
                if (!a.empty()) {
                    append_long(out, static_cast<int64_t>(a.size()));
                    for (size_t i = 0; i < a.size(); ++i) {
                        if (!encode(n.items, a[i], out, depth + 1)) return context("[" + std::to_string(i) + "]");
                    }
                }
                out.push_back(0);
                return true;
            }
            case Type::map: {
                if (!expect(Value::map_index)) return false;
                const Map& m = std::get<Value::map_index>(v.v);
                if (!m.empty()) {
                    append_long(out, static_cast<int64_t>(m.size()));
                    for (const auto& [k, e] : m) {
                        if (!is_valid_utf8(reinterpret_cast<const uint8_t*>(k.data()), k.size())) {
                            return fail("map key is not valid UTF-8");
                        }
                        append_long(out, static_cast<int64_t>(k.size()));
                        out += k;
                        if (!encode(n.values, e, out, depth + 1)) return context("[\"" + k + "\"]");
                    }
                }
                out.push_back(0);
                return true;
            }
        }
        return false;
    }

    std::string path;   // built while unwinding, innermost last
    std::string error;

private:
    bool fail(std::string message) {
        error = std::move(message);
        return false;
    }
    bool context(const std::string& step) {
        path = step + path;
        return false;
    }
    const Schema& s_;
};

// ---- JSON -> Value ----------------------------------------------------------------------

// Decodes a JSON string whose code points are all <= U+00FF into bytes (Avro JSON encoding
// of bytes and fixed).
bool latin1_bytes(const std::string& s, std::string& out) {
    out.clear();
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
            i += 1;
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
            const auto c2 = static_cast<unsigned char>(s[i + 1]);
            if ((c2 & 0xC0) != 0x80) return false;
            out.push_back(static_cast<char>(((c & 0x03) << 6) | (c2 & 0x3F)));
            i += 2;
        } else {
            return false;
        }
    }
    return true;
}

class JsonReader {
public:
    explicit JsonReader(const Schema& s) : s_(s) {}

    // default_mode: a field default, where a union's value is its first branch unwrapped.
    bool read(NodeId id, const json& j, Value& out, int depth, bool default_mode) {
        if (depth > max_depth) return fail("nested too deeply");
        const Node& n = s_.node(id);
        auto bad = [&](const std::string& expected) {
            return fail("expected " + expected + " for " + type_label(n) + ", got " + json_kind(j));
        };
        switch (n.type) {
            case Type::null_type:
                if (!j.is_null()) return bad("null");
                out.v.emplace<Value::null_index>();
                return true;
            case Type::boolean:
                if (!j.is_boolean()) return bad("true or false");
                out.v.emplace<Value::boolean_index>(j.get<bool>());
                return true;
            case Type::int_type:
            case Type::long_type: {
                if (!j.is_number_integer()) return bad("an integer");
                const bool is_int = n.type == Type::int_type;
                if (j.is_number_unsigned()) {
                    const auto u = j.get<uint64_t>();
                    if (u > (is_int ? uint64_t{INT32_MAX} : uint64_t{INT64_MAX})) return fail("integer " + j.dump() + " out of range for " + type_label(n));
                }
                const auto x = j.get<int64_t>();
                if (is_int) {
                    if (x < INT32_MIN || x > INT32_MAX) return fail("integer " + j.dump() + " out of range for int");
                    out.v.emplace<Value::int_index>(static_cast<int32_t>(x));
                } else {
                    out.v.emplace<Value::long_index>(x);
                }
                return true;
            }
            case Type::float_type:
            case Type::double_type: {
                double d;
                if (j.is_number()) {
                    d = j.get<double>();
                } else if (j.is_string() && j == "NaN") {
                    d = std::numeric_limits<double>::quiet_NaN();
                } else if (j.is_string() && j == "Infinity") {
                    d = std::numeric_limits<double>::infinity();
                } else if (j.is_string() && j == "-Infinity") {
                    d = -std::numeric_limits<double>::infinity();
                } else {
                    return bad("a number");
                }
                if (n.type == Type::float_type) {
                    out.v.emplace<Value::float_index>(static_cast<float>(d));
                } else {
                    out.v.emplace<Value::double_index>(d);
                }
                return true;
            }
            case Type::bytes:
            case Type::fixed: {
                if (!j.is_string()) return bad("a string");
                std::string b;
                if (!latin1_bytes(j.get_ref<const std::string&>(), b)) {
                    return fail("bytes are written as a string of code points U+0000..U+00FF");
                }
                if (n.type == Type::bytes) {
                    out.v.emplace<Value::bytes_index>(BytesValue{std::move(b)});
                } else {
                    if (b.size() != n.fixed_size) {
                        return fail("fixed '" + n.full_name + "' needs " + std::to_string(n.fixed_size) + " bytes, got " +
                                    std::to_string(b.size()));
                    }
                    out.v.emplace<Value::fixed_index>(FixedValue{std::move(b)});
                }
                return true;
            }
            case Type::string:
                if (!j.is_string()) return bad("a string");
                out.v.emplace<Value::string_index>(j.get<std::string>());
                return true;
            case Type::enum_type: {
                if (!j.is_string()) return bad("a symbol string");
                const auto& sym = j.get_ref<const std::string&>();
                for (size_t i = 0; i < n.symbols.size(); ++i) {
                    if (n.symbols[i] == sym) {
                        out.v.emplace<Value::enum_index>(EnumValue{static_cast<int32_t>(i)});
                        return true;
                    }
                }
                return fail("'" + sym + "' is not a symbol of enum '" + n.full_name + "'");
            }
            case Type::array: {
                if (!j.is_array()) return bad("an array");
                Array a(j.size());
                for (size_t i = 0; i < j.size(); ++i) {
                    if (!read(n.items, j[i], a[i], depth + 1, default_mode)) return context("[" + std::to_string(i) + "]");
                }
                out.v.emplace<Value::array_index>(std::move(a));
                return true;
            }
            case Type::map: {
                if (!j.is_object()) return bad("an object");
                Map m;
                m.reserve(j.size());
                for (const auto& [k, e] : j.items()) {
                    m.emplace_back(k, Value{});
                    if (!read(n.values, e, m.back().second, depth + 1, default_mode)) return context("[\"" + k + "\"]");
                }
                out.v.emplace<Value::map_index>(std::move(m));
                return true;
            }
            case Type::record: {
                if (!j.is_object()) return bad("an object");
                Record r(n.fields.size());
                for (size_t i = 0; i < n.fields.size(); ++i) {
                    const Field& f = n.fields[i];
                    auto it = j.find(f.name);
                    if (it != j.end()) {
                        if (!read(f.type, *it, r[i], depth + 1, default_mode)) return context("." + f.name);
                    } else if (f.default_value) {
                        if (!read(f.type, *f.default_value, r[i], depth + 1, true)) {
                            return context("." + f.name + " (default)");
                        }
                    } else {
                        return fail("missing field '" + f.name + "' of record '" + n.full_name + "'");
                    }
                }
                if (auto unknown = unknown_field(n, j)) {
                    return fail("record '" + n.full_name + "' has no field '" + *unknown + "'");
                }
                out.v.emplace<Value::record_index>(std::move(r));
                return true;
            }
            case Type::union_type: {
                if (n.branches.empty()) return fail("an empty union has no values");
                if (default_mode) {
                    auto u = std::make_shared<UnionValue>();
                    u->branch = 0;
                    if (!read(n.branches[0], j, u->value, depth + 1, true)) return false;
                    out.v = std::move(u);
                    return true;
                }
                if (j.is_null()) {
                    for (size_t i = 0; i < n.branches.size(); ++i) {
                        if (s_.node(n.branches[i]).type == Type::null_type) {
                            auto u = std::make_shared<UnionValue>();
                            u->branch = static_cast<int32_t>(i);
                            out.v = std::move(u);
                            return true;
                        }
                    }
                    return fail("null is not a branch of union " + union_label(n));
                }
                if (!j.is_object() || j.size() != 1) {
                    return fail("expected null or {\"<branch type>\": value} for union " + union_label(n) + ", got " + json_kind(j));
                }
                const std::string& key = j.begin().key();
                for (size_t i = 0; i < n.branches.size(); ++i) {
                    const Node& b = s_.node(n.branches[i]);
                    if (branch_name(b) == key) {
                        auto u = std::make_shared<UnionValue>();
                        u->branch = static_cast<int32_t>(i);
                        if (!read(n.branches[i], j.begin().value(), u->value, depth + 1, false)) {
                            return context("<" + key + ">");
                        }
                        out.v = std::move(u);
                        return true;
                    }
                }
                return fail("'" + key + "' is not a branch of union " + union_label(n));
            }
        }
        return false;
    }

    std::string path;
    std::string error;

private:
    // A key of the JSON object that is not a field of the record, if any (a typo in a field
    // name must not silently fall back to the field's default).
    static std::optional<std::string> unknown_field(const Node& n, const json& j) {
        for (const auto& [k, e] : j.items()) {
            bool known = false;
            for (const Field& f : n.fields) known = known || f.name == k;
            if (!known) return k;
        }
        return std::nullopt;
    }
    std::string union_label(const Node& n) const {
        std::string s = "[";
        for (size_t i = 0; i < n.branches.size(); ++i) {
            if (i) s += ", ";
            s += branch_name(s_.node(n.branches[i]));
        }
        return s + "]";
    }
    bool fail(std::string message) {
        error = std::move(message);
        return false;
    }
    bool context(const std::string& step) {
        path = step + path;
        return false;
    }
    const Schema& s_;
};

// ---- Value -> JSON ----------------------------------------------------------------------

// A JSON number, or the strings "NaN", "Infinity", "-Infinity" that JSON has no numbers for.
json float_json(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return d;
}

// Value -> JSON tree following the schema node (values that do not match the schema come out
// as best they can: this is for display, encode() is the checker).
json to_json_node(const Schema& s, NodeId id, const Value& v, int depth) {
    const Node& n = s.node(id);
    if (depth > max_depth) return nullptr;
    switch (v.v.index()) {
        case Value::null_index: return nullptr;
        case Value::boolean_index: return std::get<Value::boolean_index>(v.v);
        case Value::int_index: return std::get<Value::int_index>(v.v);
        case Value::long_index: return std::get<Value::long_index>(v.v);
        case Value::float_index: {
            // Through the shortest decimal form of the float, so 0.1f prints as 0.1.
            char buf[32];
            float f = std::get<Value::float_index>(v.v);
            if (!std::isfinite(f)) return float_json(f);
            auto r = std::to_chars(buf, buf + sizeof buf, f);
            return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
        }
        case Value::double_index: return float_json(std::get<Value::double_index>(v.v));
        case Value::bytes_index: return latin1_to_utf8(std::get<Value::bytes_index>(v.v).bytes);
        case Value::fixed_index: return latin1_to_utf8(std::get<Value::fixed_index>(v.v).bytes);
        case Value::string_index: return std::get<Value::string_index>(v.v);
        case Value::enum_index: {
            const int32_t i = std::get<Value::enum_index>(v.v).index;
            if (n.type == Type::enum_type && i >= 0 && static_cast<size_t>(i) < n.symbols.size()) return n.symbols[static_cast<size_t>(i)];
            return i;
        }
        case Value::record_index: {
            json o = json::object();
            const Record& r = std::get<Value::record_index>(v.v);
            for (size_t i = 0; i < r.size() && i < n.fields.size(); ++i) {
                o[n.fields[i].name] = to_json_node(s, n.fields[i].type, r[i], depth + 1);
            }
            return o;
        }
        case Value::array_index: {
            json a = json::array();
            for (const Value& e : std::get<Value::array_index>(v.v)) {
                a.push_back(n.type == Type::array ? to_json_node(s, n.items, e, depth + 1) : json(nullptr));
            }
            return a;
        }
        case Value::map_index: {
            json o = json::object();
            for (const auto& [k, e] : std::get<Value::map_index>(v.v)) {
                o[k] = n.type == Type::map ? to_json_node(s, n.values, e, depth + 1) : json(nullptr);
            }
            return o;
        }
        case Value::union_index: {
            const auto& u = std::get<Value::union_index>(v.v);
            if (!u || n.type != Type::union_type || u->branch < 0 || static_cast<size_t>(u->branch) >= n.branches.size()) {
                return nullptr;
            }
            const NodeId b = n.branches[static_cast<size_t>(u->branch)];
            if (s.node(b).type == Type::null_type) return nullptr;
            json o = json::object();
            o[branch_name(s.node(b))] = to_json_node(s, b, u->value, depth + 1);
            return o;
        }
    }
    return nullptr;
}

}  // namespace

Result<Value> decode(const Schema& schema, const uint8_t*& p, const uint8_t* end) {
    if (schema.root_id() == no_node) return Status::error("decode: empty schema");
    Decoder d(schema, p, end);
    const uint8_t* q = p;
    Value v;
    if (!d.decode(schema.root_id(), q, v, 0)) {
        return Status::error("decode: " + std::string(decode_error_name(d.error)) + " at offset " +
                             std::to_string(d.error_offset));
    }
    p = q;
    return v;
}

Status encode(const Schema& schema, const Value& value, std::string& out) {
    if (schema.root_id() == no_node) return Status::error("encode: empty schema");
    Encoder e(schema);
    const size_t mark = out.size();
    if (!e.encode(schema.root_id(), value, out, 0)) {
        out.resize(mark);  // leave out as it was
        return Status::error("encode: $" + e.path + ": " + e.error);
    }
    return {};
}

Result<Value> from_json(const Schema& schema, const json& j) {
    if (schema.root_id() == no_node) return Status::error("from_json: empty schema");
    JsonReader r(schema);
    Value v;
    if (!r.read(schema.root_id(), j, v, 0, false)) return Status::error("$" + r.path + ": " + r.error);
    return v;
}

json to_json(const Schema& schema, const Value& value) {
    if (schema.root_id() == no_node) return nullptr;
    return to_json_node(schema, schema.root_id(), value, 0);
}

}  // namespace speeddata::avro
