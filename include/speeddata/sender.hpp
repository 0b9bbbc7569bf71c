// speeddata/sender.hpp: a header-only C++20 client for SpeedData sources.
//
// A SpeedData relay listens on one UDP port per channel and expects each datagram to hold
// one Avro binary datum of the channel's record schema, or several datums back to back
// (no header, no framing). This header encodes such datums and sends them. It depends on
// nothing but the C++ standard library and POSIX sockets: copy it into any project.
//
//   #include <speeddata/sender.hpp>
//   namespace sds = speeddata::sender;
//
//   // Describe the record in schema order...
//   sds::record_schema schema("sensor");
//   schema.add("time", sds::avro_type::int64)
//         .add("sensor", sds::avro_type::string)
//         .add("temperature", sds::avro_type::float32)
//         .add("humidity", sds::avro_type::float32)
//         .add_enum("status", {"OK", "WARN", "FAULT"});
//   // ...or, equivalently, read it from the channel's .avsc file:
//   //   auto schema = sds::record_schema::from_avsc_file("config/agents/sensor.avsc");
//
//   sds::sender out(schema, {.host = "127.0.0.1", .port = 26002});
//   out.set("time", now_ns);          // by name (a short linear search)...
//   out.set(1, "sensor-1");           // ...or by field index (schema order), faster
//   out.set("temperature", 21.5);
//   out.set("humidity", 40.0);
//   out.set("status", "OK");          // enum by symbol, or by index: out.set("status", 0)
//   if (auto st = out.send(); !st) std::cerr << out.message(st) << '\n';
//
//   // Batching: add() packs datums into one datagram up to max_datagram_bytes (and
//   // max_records_per_datagram); flush() sends what is pending.
//   for (...) { out.set(...); (void)out.add(); }
//   (void)out.flush();
//
// Supported Avro types (flat records only): null, boolean, int, long, float, double,
// string, bytes, enum (set by index or symbol), fixed, and two-branch unions of null and
// one of those (["null", T] or [T, "null"]). Logical types are sent as their underlying
// type (timestamp-nanos is a long). Nested records, arrays, maps and other unions are
// rejected with a clear error; lib/python/speeddata_sender.py handles every Avro type.
//
// Error policy:
//   * Set-up and programming errors throw speeddata::sender::error (a std::runtime_error):
//     a malformed or unsupported schema, an unknown field name, a value of the wrong type
//     or out of range for its field, a host that does not resolve, a socket that cannot
//     be made. They mean the program is wrong, so they should not pass silently.
//   * Sending never throws. send(), add() and flush() return a send_status that names
//     the failed call and its errno; message() formats it ("send 127.0.0.1:26000:
//     Connection refused"). UDP is lossy by nature: a failed datagram is counted in
//     stats() and dropped, never retried. On loopback, "Connection refused" only means
//     that no relay listens on the port yet.
//
// Threading: a sender (and a record) is not thread-safe; use one per thread.
#pragma once

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace speeddata::sender {

// Set-up and programming errors (see "Error policy" above).
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Largest UDP payload over IPv4 (65535 - 8 byte UDP header - 20 byte IP header).
inline constexpr std::size_t max_udp_payload = 65507;
// Largest payload that fits a 1500-byte Ethernet MTU without IP fragmentation.
inline constexpr std::size_t ethernet_udp_payload = 1472;

// ---- low-level Avro binary encoding -----------------------------------------------------
// Exposed for sources that hand-encode and for tests. Every function writes at the given
// pointer, which must have room for the bytes reported by the matching *_size function.

// Zigzag maps signed to unsigned so that small magnitudes stay small: 0,-1,1,-2 -> 0,1,2,3.
constexpr std::uint64_t zigzag(std::int64_t v) noexcept {
    return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
constexpr std::int64_t unzigzag(std::uint64_t u) noexcept {
    return static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
}

// Bytes of the varint encoding of u (1..10).
constexpr std::size_t varint_size(std::uint64_t u) noexcept {
    std::size_t n = 1;
    while (u >= 0x80) {
        u >>= 7;
        ++n;
    }
    return n;
}

// Bytes of an Avro int or long (zigzag varint) of value v (1..10; 1..5 for an int).
constexpr std::size_t long_size(std::int64_t v) noexcept { return varint_size(zigzag(v)); }

// Writes v as an Avro int/long (zigzag varint, 7 bits a byte, low bits first).
// Returns the pointer past the last byte written.
inline std::uint8_t* put_long(std::uint8_t* p, std::int64_t v) noexcept {
    std::uint64_t u = zigzag(v);
    while (u >= 0x80) {
        *p++ = static_cast<std::uint8_t>(u | 0x80);
        u >>= 7;
    }
    *p++ = static_cast<std::uint8_t>(u);
    return p;
}

// Writes v as an Avro float: IEEE 754 binary32, little-endian (4 bytes).
inline std::uint8_t* put_float(std::uint8_t* p, float v) noexcept {
    std::uint32_t u = std::bit_cast<std::uint32_t>(v);
    for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(u >> (8 * i));
    return p + 4;
}

// Writes v as an Avro double: IEEE 754 binary64, little-endian (8 bytes).
inline std::uint8_t* put_double(std::uint8_t* p, double v) noexcept {
    std::uint64_t u = std::bit_cast<std::uint64_t>(v);
    for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(u >> (8 * i));
    return p + 8;
}

// Writes an Avro string or bytes: long length, then the raw bytes.
inline std::uint8_t* put_bytes(std::uint8_t* p, const void* data, std::size_t size) noexcept {
    p = put_long(p, static_cast<std::int64_t>(size));
    if (size) std::memcpy(p, data, size);
    return p + size;
}

// ---- schema description ----------------------------------------------------------------

// The Avro types a flat record field may have. Names avoid the C++ keywords:
// int32 is Avro "int", int64 "long", float32 "float", float64 "double".
enum class avro_type : std::uint8_t {
    null,
    boolean,
    int32,
    int64,
    float32,
    float64,
    string,
    bytes,
    enumeration,
    fixed,
};

// Avro's name for a type ("long" for int64), for messages.
constexpr std::string_view avro_type_name(avro_type t) noexcept {
    switch (t) {
        case avro_type::null: return "null";
        case avro_type::boolean: return "boolean";
        case avro_type::int32: return "int";
        case avro_type::int64: return "long";
        case avro_type::float32: return "float";
        case avro_type::float64: return "double";
        case avro_type::string: return "string";
        case avro_type::bytes: return "bytes";
        case avro_type::enumeration: return "enum";
        case avro_type::fixed: return "fixed";
    }
    return "?";
}

// One field of a record.
struct field {
    std::string name;
    avro_type type = avro_type::null;
    bool nullable = false;               // a union of null and type
    std::uint8_t null_branch = 0;        // union index of null: 0 for ["null", T], 1 for [T, "null"]
    std::vector<std::string> symbols;    // enumeration: the symbols, index order
    std::size_t fixed_size = 0;          // fixed: the exact byte count
};

namespace detail {

// A JSON value: just enough for .avsc files (objects keep key order).
struct json {
    enum class kind : std::uint8_t { null, boolean, number, string, array, object };
    kind k = kind::null;
    bool b = false;
    double num = 0;
    std::string str;
    std::vector<json> items;          // array elements, or object values
    std::vector<std::string> keys;    // object keys, parallel to items

    const json* get(std::string_view key) const {
        for (std::size_t i = 0; i < keys.size(); ++i)
            if (keys[i] == key) return &items[i];
        return nullptr;
    }
};

// A strict recursive-descent JSON parser. Throws error with a byte offset on bad input.
class json_parser {
public:
    explicit json_parser(std::string_view text) : s_(text) {}

    // Parses the whole text as one JSON value.
    json parse_document() {
        json v = parse_value(0);
        skip_ws();
        if (pos_ != s_.size()) fail("unexpected text after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw error("JSON at byte " + std::to_string(pos_) + ": " + what);
    }
    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    bool consume(char c) {
        skip_ws();
        if (pos_ < s_.size() && s_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(char c) {
        if (!consume(c)) fail(std::string("expected '") + c + "'");
    }
    void expect_word(std::string_view w) {
        if (s_.substr(pos_, w.size()) != w) fail("invalid literal");
        pos_ += w.size();
    }

    json parse_value(int depth) {
        // .avsc files are shallow; the limit only stops a hostile file from blowing the stack.
        if (depth > 64) fail("nesting too deep");
        skip_ws();
        if (pos_ >= s_.size()) fail("unexpected end of input");
        json v;
        char c = s_[pos_];
        if (c == '{') {
            ++pos_;
            v.k = json::kind::object;
            if (consume('}')) return v;
            do {
                skip_ws();
                if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key");
                v.keys.push_back(parse_string());
                expect(':');
                v.items.push_back(parse_value(depth + 1));
            } while (consume(','));
            expect('}');
        } else if (c == '[') {
            ++pos_;
            v.k = json::kind::array;
            if (consume(']')) return v;
            do {
                v.items.push_back(parse_value(depth + 1));
            } while (consume(','));
            expect(']');
        } else if (c == '"') {
            v.k = json::kind::string;
            v.str = parse_string();
        } else if (c == 't') {
            expect_word("true");
            v.k = json::kind::boolean;
            v.b = true;
        } else if (c == 'f') {
            expect_word("false");
            v.k = json::kind::boolean;
        } else if (c == 'n') {
            expect_word("null");
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            std::size_t start = pos_;
            while (pos_ < s_.size() && std::strchr("+-0123456789.eE", s_[pos_]) != nullptr) ++pos_;
            std::string number(s_.substr(start, pos_ - start));
            char* end = nullptr;
            v.num = std::strtod(number.c_str(), &end);
            if (end != number.c_str() + number.size()) fail("invalid number '" + number + "'");
            v.k = json::kind::number;
        } else {
            fail(std::string("unexpected character '") + c + "'");
        }
        return v;
    }

    std::string parse_string() {
        ++pos_;  // opening quote
        std::string out;
        while (true) {
            if (pos_ >= s_.size()) fail("unterminated string");
            char c = s_[pos_++];
            if (c == '"') return out;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) fail("unterminated string");
            char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': append_utf8(out, parse_unicode_escape()); break;
                default: fail(std::string("invalid escape '\\") + e + "'");
            }
        }
    }

    std::uint32_t parse_hex4() {
        if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
        std::uint32_t cp = 0;
        for (int i = 0; i < 4; ++i) {
            char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= static_cast<std::uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= static_cast<std::uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= static_cast<std::uint32_t>(h - 'A' + 10);
            else fail("invalid \\u escape");
        }
        return cp;
    }

    std::uint32_t parse_unicode_escape() {
        std::uint32_t cp = parse_hex4();
        if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {  // surrogate pair
            pos_ += 2;
            std::uint32_t lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("invalid surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        return cp;
    }

    static void append_utf8(std::string& out, std::uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

inline std::optional<avro_type> primitive_type(std::string_view name) {
    if (name == "null") return avro_type::null;
    if (name == "boolean") return avro_type::boolean;
    if (name == "int") return avro_type::int32;
    if (name == "long") return avro_type::int64;
    if (name == "float") return avro_type::float32;
    if (name == "double") return avro_type::float64;
    if (name == "string") return avro_type::string;
    if (name == "bytes") return avro_type::bytes;
    return std::nullopt;
}

}  // namespace detail

// The ordered fields of one flat Avro record.
class record_schema {
public:
    record_schema() = default;
    explicit record_schema(std::string name) : name_(std::move(name)) {}

    // Appends a field of a primitive type. Throws error on a duplicate or empty name, or
    // for enumeration/fixed (use add_enum/add_fixed, which need symbols/size).
    record_schema& add(std::string name, avro_type type) {
        if (type == avro_type::enumeration || type == avro_type::fixed)
            throw error("field '" + name + "': use add_enum()/add_fixed() for enum and fixed fields");
        field f;
        f.name = std::move(name);
        f.type = type;
        return add(std::move(f));
    }

    // Appends a field of union ["null", T]: null until set, null again after set_null().
    record_schema& add_nullable(std::string name, avro_type type) {
        if (type == avro_type::enumeration || type == avro_type::fixed)
            throw error("field '" + name + "': build a field{} with symbols/fixed_size and add(field)");
        field f;
        f.name = std::move(name);
        f.type = type;
        f.nullable = true;
        return add(std::move(f));
    }

    // Appends an enum field; values are indexes into symbols (or the symbols themselves).
    record_schema& add_enum(std::string name, std::vector<std::string> symbols) {
        field f;
        f.name = std::move(name);
        f.type = avro_type::enumeration;
        f.symbols = std::move(symbols);
        return add(std::move(f));
    }

    // Appends a fixed field of exactly size bytes.
    record_schema& add_fixed(std::string name, std::size_t size) {
        field f;
        f.name = std::move(name);
        f.type = avro_type::fixed;
        f.fixed_size = size;
        return add(std::move(f));
    }

    // Appends any field (e.g. a nullable enum, or a [T, "null"] union via null_branch = 1).
    // Throws error when the description is inconsistent.
    record_schema& add(field f) {
        if (f.name.empty()) throw error("a field needs a name");
        if (find(f.name)) throw error("duplicate field '" + f.name + "'");
        if (f.type == avro_type::enumeration && f.symbols.empty())
            throw error("field '" + f.name + "': an enum needs at least one symbol");
        if (f.type == avro_type::null && f.nullable)
            throw error("field '" + f.name + "': a union of null and null is not valid Avro");
        if (f.null_branch > 1) throw error("field '" + f.name + "': null_branch must be 0 or 1");
        fields_.push_back(std::move(f));
        return *this;
    }

    // Parses an .avsc document: a record whose fields have the supported types.
    // Throws error naming the field and the unsupported type.
    static record_schema from_avsc(std::string_view avsc_json) {
        detail::json doc = detail::json_parser(avsc_json).parse_document();
        if (doc.k != detail::json::kind::object) throw error("schema: expected a JSON object of type \"record\"");
        const detail::json* type = doc.get("type");
        if (!type || type->k != detail::json::kind::string || type->str != "record")
            throw error("schema: the top-level type must be \"record\"");
        const detail::json* name = doc.get("name");
        record_schema out(name && name->k == detail::json::kind::string ? name->str : std::string());
        const detail::json* fields = doc.get("fields");
        if (!fields || fields->k != detail::json::kind::array) throw error("schema: a record needs a \"fields\" array");
        std::vector<field> named;  // enum/fixed definitions, for later references by name
        for (const detail::json& fj : fields->items) {
            const detail::json* fname = fj.k == detail::json::kind::object ? fj.get("name") : nullptr;
            if (!fname || fname->k != detail::json::kind::string) throw error("schema: every field needs a \"name\"");
            const detail::json* ftype = fj.get("type");
            if (!ftype) throw error("field '" + fname->str + "': missing \"type\"");
            field f = parse_field_type(fname->str, *ftype, named);
            f.name = fname->str;
            out.add(std::move(f));
        }
        return out;
    }

    // Reads and parses an .avsc file. Throws error naming the path on any failure.
    static record_schema from_avsc_file(const std::string& path) {
        std::ifstream in(path, std::ios::binary);
        if (!in) throw error(path + ": cannot open: " + std::strerror(errno));
        std::ostringstream text;
        text << in.rdbuf();
        try {
            return from_avsc(text.str());
        } catch (const error& e) {
            throw error(path + ": " + e.what());
        }
    }

    const std::string& name() const { return name_; }
    std::size_t size() const { return fields_.size(); }
    const field& operator[](std::size_t i) const { return fields_.at(i); }
    const std::vector<field>& fields() const { return fields_; }

    // Index of the field called name, if any.
    std::optional<std::size_t> find(std::string_view name) const {
        for (std::size_t i = 0; i < fields_.size(); ++i)
            if (fields_[i].name == name) return i;
        return std::nullopt;
    }

    // Index of the field called name; throws error when there is none.
    std::size_t index_of(std::string_view name) const {
        if (auto i = find(name)) return *i;
        throw error("no field '" + std::string(name) + "' in record '" + name_ + "'");
    }

private:
    // Reads one field type: a primitive, enum, fixed, a named reference, or a null union.
    static field parse_field_type(const std::string& fname, const detail::json& t, std::vector<field>& named) {
        using k = detail::json::kind;
        if (t.k == k::array) {
            if (t.items.size() != 2)
                throw error("field '" + fname + "': unsupported union (only [\"null\", T] or [T, \"null\"])");
            auto is_null = [](const detail::json& j) {
                return (j.k == k::string && j.str == "null") ||
                       (j.k == k::object && j.get("type") && j.get("type")->k == k::string && j.get("type")->str == "null");
            };
            bool first_null = is_null(t.items[0]);
            bool second_null = is_null(t.items[1]);
            if (first_null == second_null)
                throw error("field '" + fname + "': unsupported union (only [\"null\", T] or [T, \"null\"])");
            const detail::json& inner = t.items[first_null ? 1 : 0];
            if (inner.k == k::array) throw error("field '" + fname + "': a union may not contain a union");
            field f = parse_field_type(fname, inner, named);
            f.nullable = true;
            f.null_branch = first_null ? 0 : 1;
            return f;
        }
        if (t.k == k::string) {
            field f;
            if (auto p = detail::primitive_type(t.str)) {
                f.type = *p;
                return f;
            }
            for (const field& n : named) {
                // Accept the short name or the full name (namespace.name): sources rarely care.
                if (n.name == t.str || (t.str.size() > n.name.size() && t.str.ends_with("." + n.name))) return n;
            }
            if (t.str == "record" || t.str == "array" || t.str == "map" || t.str == "enum" || t.str == "fixed")
                throw error("field '" + fname + "': type '" + t.str + "' needs an object ({\"type\": \"" + t.str + "\", ...})");
            throw error("field '" + fname + "': unknown type '" + t.str + "'");
        }
        if (t.k != k::object) throw error("field '" + fname + "': a type must be a string, an object or a union");
        const detail::json* tt = t.get("type");
        if (!tt) throw error("field '" + fname + "': type object without \"type\"");
        if (tt->k != k::string) return parse_field_type(fname, *tt, named);
        const std::string& kind = tt->str;
        if (kind == "enum") {
            field f;
            f.type = avro_type::enumeration;
            const detail::json* symbols = t.get("symbols");
            if (!symbols || symbols->k != k::array || symbols->items.empty())
                throw error("field '" + fname + "': an enum needs a non-empty \"symbols\" array");
            for (const detail::json& s : symbols->items) {
                if (s.k != k::string) throw error("field '" + fname + "': enum symbols must be strings");
                f.symbols.push_back(s.str);
            }
            remember(t, f, named);
            return f;
        }
        if (kind == "fixed") {
            field f;
            f.type = avro_type::fixed;
            const detail::json* size = t.get("size");
            if (!size || size->k != k::number || size->num < 0 || size->num != static_cast<double>(static_cast<std::size_t>(size->num)))
                throw error("field '" + fname + "': a fixed needs a non-negative integer \"size\"");
            f.fixed_size = static_cast<std::size_t>(size->num);
            remember(t, f, named);
            return f;
        }
        if (kind == "record" || kind == "array" || kind == "map")
            throw error("field '" + fname + "': unsupported nested type '" + kind +
                        "' (sender.hpp handles flat records of primitives, enum, fixed and [\"null\", T]; "
                        "lib/python/speeddata_sender.py handles every Avro type)");
        // A primitive, possibly with a logicalType: sent as the underlying type.
        if (auto p = detail::primitive_type(kind)) {
            field f;
            f.type = *p;
            return f;
        }
        return parse_field_type(fname, *tt, named);  // a named reference inside an object
    }

    static void remember(const detail::json& t, const field& f, std::vector<field>& named) {
        const detail::json* n = t.get("name");
        if (!n || n->k != detail::json::kind::string) return;
        field copy = f;
        copy.name = n->str;  // the type's name, not the field's
        named.push_back(std::move(copy));
    }

    std::string name_;
    std::vector<field> fields_;
};

// The current values of one record: set fields, then encode (or let a sender do it).
//
// Value rules (a violation throws error, naming the field):
//   boolean      bool only
//   int / long   any integer type, range-checked (int: 32 bits)
//   float/double any integer or floating-point value (converted)
//   string/bytes std::string_view (or anything convertible); set_bytes() for raw memory
//   fixed        exactly fixed_size bytes
//   enum         an integer index into the symbols, or a symbol as a string
//   nullable     any of the above for T, or set_null(); starts null
// Other fields start at 0, false, "", enum index 0 or fixed_size zero bytes.
// Setting the same field repeatedly reuses its storage: no allocation once a string has
// reached its longest length.
class record {
public:
    explicit record(record_schema schema) : schema_(std::move(schema)), slots_(schema_.size()) { clear(); }

    const record_schema& schema() const { return schema_; }

    // Resets every field to its initial value (see above).
    void clear() {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const field& f = schema_[i];
            slot& s = slots_[i];
            s.is_null = f.nullable;
            s.integer = 0;
            s.real = 0;
            s.text.assign(f.type == avro_type::fixed ? f.fixed_size : 0, '\0');
        }
    }

    // Integral values: boolean (bool only), int, long, enum index, or numbers for float/double.
    template <typename T>
        requires std::integral<T>
    void set(std::size_t index, T value) {
        const field& f = field_at(index);
        slot& s = slots_[index];
        if constexpr (std::same_as<T, bool>) {
            if (f.type != avro_type::boolean) wrong_type(f, "bool");
            s.integer = value ? 1 : 0;
        } else {
            static_assert(!std::same_as<T, char> && !std::same_as<T, wchar_t> && !std::same_as<T, char8_t> &&
                              !std::same_as<T, char16_t> && !std::same_as<T, char32_t>,
                          "a character is not a number: pass text as std::string_view, or cast to int");
            switch (f.type) {
                case avro_type::int32:
                    if (std::cmp_less(value, std::numeric_limits<std::int32_t>::min()) ||
                        std::cmp_greater(value, std::numeric_limits<std::int32_t>::max()))
                        out_of_range(f, std::to_string(value));
                    s.integer = static_cast<std::int64_t>(value);
                    break;
                case avro_type::int64:
                    if (std::cmp_greater(value, std::numeric_limits<std::int64_t>::max()))
                        out_of_range(f, std::to_string(value));
                    s.integer = static_cast<std::int64_t>(value);
                    break;
                case avro_type::float32:
                case avro_type::float64: s.real = static_cast<double>(value); break;
                case avro_type::enumeration:
                    if (std::cmp_less(value, 0) || std::cmp_greater_equal(value, f.symbols.size()))
                        out_of_range(f, std::to_string(value));
                    s.integer = static_cast<std::int64_t>(value);
                    break;
                default: wrong_type(f, "an integer");
            }
        }
        s.is_null = false;
    }

    // Floating-point values: float and double fields only.
    template <typename T>
        requires std::floating_point<T>
    void set(std::size_t index, T value) {
        const field& f = field_at(index);
        if (f.type != avro_type::float32 && f.type != avro_type::float64) wrong_type(f, "a floating-point number");
        slots_[index].real = static_cast<double>(value);
        slots_[index].is_null = false;
    }

    // Text: string, bytes and fixed fields, or an enum symbol.
    void set(std::size_t index, std::string_view value) {
        const field& f = field_at(index);
        slot& s = slots_[index];
        switch (f.type) {
            case avro_type::string:
            case avro_type::bytes: s.text.assign(value.data(), value.size()); break;
            case avro_type::fixed:
                if (value.size() != f.fixed_size)
                    throw error("field '" + f.name + "': fixed needs " + std::to_string(f.fixed_size) + " bytes, got " +
                                std::to_string(value.size()));
                s.text.assign(value.data(), value.size());
                break;
            case avro_type::enumeration: {
                auto it = std::find(f.symbols.begin(), f.symbols.end(), value);
                if (it == f.symbols.end()) throw error("field '" + f.name + "': no enum symbol '" + std::string(value) + "'");
                s.integer = it - f.symbols.begin();
                break;
            }
            default: wrong_type(f, "a string");
        }
        s.is_null = false;
    }
    void set(std::size_t index, const char* value) { set(index, std::string_view(value)); }
    void set(std::size_t index, const std::string& value) { set(index, std::string_view(value)); }

    // Raw bytes for a bytes, string or fixed field.
    void set_bytes(std::size_t index, const void* data, std::size_t size) {
        set(index, std::string_view(static_cast<const char*>(data), size));
    }

    // Selects the null branch of a nullable field.
    void set_null(std::size_t index) {
        const field& f = field_at(index);
        if (!f.nullable && f.type != avro_type::null) wrong_type(f, "null");
        slots_[index].is_null = true;
    }

    // The same, addressed by field name (a linear search; prefer indexes in tight loops).
    template <typename T>
    void set(std::string_view name, T&& value) {
        set(schema_.index_of(name), std::forward<T>(value));
    }
    void set_bytes(std::string_view name, const void* data, std::size_t size) {
        set_bytes(schema_.index_of(name), data, size);
    }
    void set_null(std::string_view name) { set_null(schema_.index_of(name)); }

    // Bytes of the datum encoding of the current values.
    std::size_t encoded_size() const noexcept {
        std::size_t n = 0;
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const field& f = schema_.fields()[i];
            const slot& s = slots_[i];
            if (f.nullable) {
                n += 1;  // branch index 0 or 1: one varint byte
                if (s.is_null) continue;
            }
            switch (f.type) {
                case avro_type::null: break;
                case avro_type::boolean: n += 1; break;
                case avro_type::int32:
                case avro_type::int64:
                case avro_type::enumeration: n += long_size(s.integer); break;
                case avro_type::float32: n += 4; break;
                case avro_type::float64: n += 8; break;
                case avro_type::string:
                case avro_type::bytes: n += long_size(static_cast<std::int64_t>(s.text.size())) + s.text.size(); break;
                case avro_type::fixed: n += s.text.size(); break;
            }
        }
        return n;
    }

    // Writes the datum at p, which must have room for encoded_size() bytes.
    // Returns the pointer past the datum.
    std::uint8_t* encode(std::uint8_t* p) const noexcept {
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            const field& f = schema_.fields()[i];
            const slot& s = slots_[i];
            if (f.nullable) {
                std::uint8_t null_branch = f.null_branch;
                p = put_long(p, s.is_null ? null_branch : 1 - null_branch);
                if (s.is_null) continue;
            }
            switch (f.type) {
                case avro_type::null: break;
                case avro_type::boolean: *p++ = static_cast<std::uint8_t>(s.integer); break;
                case avro_type::int32:
                case avro_type::int64:
                case avro_type::enumeration: p = put_long(p, s.integer); break;
                case avro_type::float32: p = put_float(p, static_cast<float>(s.real)); break;
                case avro_type::float64: p = put_double(p, s.real); break;
                case avro_type::string:
                case avro_type::bytes: p = put_bytes(p, s.text.data(), s.text.size()); break;
                case avro_type::fixed:
                    if (!s.text.empty()) std::memcpy(p, s.text.data(), s.text.size());
                    p += s.text.size();
                    break;
            }
        }
        return p;
    }

    // Appends the datum to out; returns its size. Allocates only when out must grow.
    std::size_t append_to(std::vector<std::uint8_t>& out) const {
        std::size_t n = encoded_size();
        std::size_t at = out.size();
        out.resize(at + n);
        encode(out.data() + at);
        return n;
    }

    // The datum as a fresh byte vector (convenient, allocates).
    std::vector<std::uint8_t> encode() const {
        std::vector<std::uint8_t> out;
        append_to(out);
        return out;
    }

private:
    struct slot {
        bool is_null = false;
        std::int64_t integer = 0;  // boolean, int, long, enum index
        double real = 0;           // float, double
        std::string text;          // string, bytes, fixed
    };

    const field& field_at(std::size_t index) const {
        if (index >= slots_.size())
            throw error("field index " + std::to_string(index) + " out of range (record '" + schema_.name() + "' has " +
                        std::to_string(slots_.size()) + " fields)");
        return schema_.fields()[index];
    }
    [[noreturn]] static void wrong_type(const field& f, const char* given) {
        throw error("field '" + f.name + "' of type " + std::string(avro_type_name(f.type)) + (f.nullable ? " (nullable)" : "") +
                    " cannot take " + given);
    }
    [[noreturn]] static void out_of_range(const field& f, const std::string& value) {
        throw error("field '" + f.name + "': value " + value + " out of range for Avro " + std::string(avro_type_name(f.type)));
    }

    record_schema schema_;
    std::vector<slot> slots_;
};

// ---- sockets ------------------------------------------------------------------------------

// A connected UDP socket (RAII: closed on destruction; move-only).
// Connecting a UDP socket fixes the destination once, so each send skips the route and
// address lookup, and lets the kernel report ICMP errors ("Connection refused") to us.
class udp_socket {
public:
    udp_socket() = default;
    explicit udp_socket(int fd) noexcept : fd_(fd) {}
    ~udp_socket() { reset(); }
    udp_socket(udp_socket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    udp_socket& operator=(udp_socket&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    udp_socket(const udp_socket&) = delete;
    udp_socket& operator=(const udp_socket&) = delete;

    // Resolves host (IPv4 preferred, then IPv6), makes a UDP socket, sets SO_SNDBUF when
    // send_buffer_bytes > 0, and connects it. Throws error naming the call, the address
    // and the OS error: "connect 127.0.0.1:26000: Network is unreachable".
    static udp_socket connect_to(const std::string& host, std::uint16_t port, int send_buffer_bytes = 0) {
        std::string where = host + ":" + std::to_string(port);
        addrinfo* found = nullptr;
        for (int family : {AF_INET, AF_INET6}) {
            addrinfo hints{};
            hints.ai_family = family;
            hints.ai_socktype = SOCK_DGRAM;
            if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) == 0) break;
            found = nullptr;
        }
        if (!found) throw error("resolve " + where + ": no IPv4 or IPv6 address");
        struct freer {
            addrinfo* p;
            ~freer() { freeaddrinfo(p); }
        } guard{found};
        udp_socket s(::socket(found->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        if (!s.valid()) throw error("socket " + where + ": " + std::strerror(errno));
        if (send_buffer_bytes > 0 &&
            setsockopt(s.fd_, SOL_SOCKET, SO_SNDBUF, &send_buffer_bytes, sizeof send_buffer_bytes) != 0)
            throw error("setsockopt SO_SNDBUF " + where + ": " + std::strerror(errno));
        if (::connect(s.fd_, found->ai_addr, found->ai_addrlen) != 0)
            throw error("connect " + where + ": " + std::strerror(errno));
        return s;
    }

    bool valid() const noexcept { return fd_ >= 0; }
    int fd() const noexcept { return fd_; }

    // The send buffer the kernel granted (Linux reports double the request), or -1.
    int send_buffer_bytes() const noexcept {
        int v = 0;
        socklen_t len = sizeof v;
        return getsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &v, &len) == 0 ? v : -1;
    }

    // Sends one datagram. Returns 0, or the errno of the failed send(2).
    int send(const void* data, std::size_t size) noexcept {
        while (true) {
            if (::send(fd_, data, size, 0) >= 0) return 0;
            if (errno != EINTR) return errno;
        }
    }

    struct batch_result {
        std::size_t sent = 0;  // datagrams [0, sent) went out
        int error = 0;         // 0, or the errno that stopped datagram [sent] (not sent)
    };

    // Sends datagrams (one iovec each) with sendmmsg(2), up to 64 per system call.
    // Stops at the first failure: datagrams[sent] failed with error, later ones were not
    // tried; the caller decides whether to skip or retry it. Never allocates.
    batch_result send_batch(std::span<const iovec> datagrams) noexcept {
        constexpr std::size_t chunk = 64;
        mmsghdr msgs[chunk];
        batch_result r;
        while (r.sent < datagrams.size()) {
            std::size_t n = std::min(chunk, datagrams.size() - r.sent);
            for (std::size_t i = 0; i < n; ++i) {
                msgs[i] = mmsghdr{};
                // sendmmsg does not write through msg_iov; the cast only satisfies the C API.
                msgs[i].msg_hdr.msg_iov = const_cast<iovec*>(&datagrams[r.sent + i]);
                msgs[i].msg_hdr.msg_iovlen = 1;
            }
            int done = ::sendmmsg(fd_, msgs, static_cast<unsigned>(n), 0);
            if (done < 0) {
                if (errno == EINTR) continue;
                r.error = errno;
                return r;
            }
            r.sent += static_cast<std::size_t>(done);
            // A short count means datagram [sent] failed; the kernel consumed its error,
            // so the errno is lost. Retrying it reports the error (or sends it) honestly.
        }
        return r;
    }

private:
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    int fd_ = -1;
};

// ---- sender -------------------------------------------------------------------------------

struct sender_options {
    std::string host = "127.0.0.1";  // relay address: IPv4/IPv6 literal or a host name
    std::uint16_t port = 26000;      // the channel's UDP port
    // Hard limit on one datagram's payload, in bytes. add() packs datums up to it; a single
    // datum larger than it is refused (EMSGSIZE). Default: no IP fragmentation on Ethernet.
    // At most max_udp_payload (65507).
    std::size_t max_datagram_bytes = ethernet_udp_payload;
    // add() sends the pending datagram as soon as it holds this many datums (0 = no count
    // limit: pack by bytes only). 1 makes add() behave like send().
    std::size_t max_records_per_datagram = 0;
    // SO_SNDBUF request in bytes (0 = the OS default).
    int send_buffer_bytes = 0;
};

// What send(), add() and flush() report. Converts to true on success.
struct [[nodiscard]] send_status {
    int error = 0;            // 0, or the errno of the failed call (EMSGSIZE: datum too large)
    const char* call = "";    // "send" or "encode" on failure
    bool ok() const noexcept { return error == 0; }
    explicit operator bool() const noexcept { return ok(); }
};

// Running totals since construction.
struct sender_stats {
    std::uint64_t datagrams = 0;        // datagrams sent
    std::uint64_t records = 0;          // datums in them
    std::uint64_t bytes = 0;            // UDP payload bytes sent
    std::uint64_t errors = 0;           // failed sends and refused datums
    std::uint64_t dropped_records = 0;  // datums lost to those failures
};

// Encodes the values of one record and sends them to a relay.
class sender {
public:
    // Connects a UDP socket to options.host:port. Throws error on a bad option, an
    // unresolvable host or a socket failure.
    sender(record_schema schema, sender_options options = {})
        : options_(std::move(options)), record_(std::move(schema)) {
        if (options_.max_datagram_bytes == 0 || options_.max_datagram_bytes > max_udp_payload)
            throw error("max_datagram_bytes must be 1.." + std::to_string(max_udp_payload));
        peer_ = options_.host + ":" + std::to_string(options_.port);
        socket_ = udp_socket::connect_to(options_.host, options_.port, options_.send_buffer_bytes);
        pending_.reserve(options_.max_datagram_bytes);
        scratch_.reserve(options_.max_datagram_bytes);
    }

    // The values of the next datum. They persist after send()/add(): set only what changes.
    class record& values() noexcept { return record_; }
    const class record& values() const noexcept { return record_; }
    const record_schema& schema() const noexcept { return record_.schema(); }

    // Shortcuts for values().set(...): by index or by name (see record for the rules).
    template <typename K, typename T>
    void set(K&& key, T&& value) {
        record_.set(std::forward<K>(key), std::forward<T>(value));
    }
    template <typename K>
    void set_null(K&& key) {
        record_.set_null(std::forward<K>(key));
    }

    // Sends the current values as one datagram of one datum. Datums pending from add() are
    // flushed first so that order is kept. Returns the first failure, if any.
    send_status send() {
        send_status flushed = flush();
        scratch_.clear();
        std::size_t n = record_.append_to(scratch_);
        if (n > options_.max_datagram_bytes) return refuse(1);
        send_status sent = transmit(scratch_, 1);
        return flushed ? sent : flushed;
    }

    // Appends the current values as one datum to the pending datagram. When the datum does
    // not fit in max_datagram_bytes, the pending datagram is sent first; when the datagram
    // then holds max_records_per_datagram datums, it is sent at once. Returns the failure of
    // either send, or EMSGSIZE when the datum alone exceeds max_datagram_bytes (dropped).
    send_status add() {
        std::size_t n = record_.encoded_size();
        if (n > options_.max_datagram_bytes) return refuse(1);
        send_status st;
        if (pending_.size() + n > options_.max_datagram_bytes) st = flush();
        record_.append_to(pending_);
        ++pending_records_;
        if (options_.max_records_per_datagram && pending_records_ >= options_.max_records_per_datagram) {
            send_status f = flush();
            if (st) st = f;
        }
        return st;
    }

    // Sends the pending datagram, if any. On failure its datums are dropped and counted.
    send_status flush() {
        if (pending_records_ == 0) return {};
        send_status st = transmit(pending_, pending_records_);
        pending_.clear();
        pending_records_ = 0;
        return st;
    }

    std::size_t pending_records() const noexcept { return pending_records_; }
    std::size_t pending_bytes() const noexcept { return pending_.size(); }
    const sender_stats& stats() const noexcept { return stats_; }
    const sender_options& options() const noexcept { return options_; }
    const std::string& peer() const noexcept { return peer_; }  // "host:port"
    udp_socket& socket() noexcept { return socket_; }

    // A one-line description of a failure: "send 127.0.0.1:26000: Connection refused".
    std::string message(const send_status& st) const {
        if (st.ok()) return "ok";
        std::string m = std::string(st.call) + " " + peer_ + ": " + std::strerror(st.error);
        if (std::string_view(st.call) == "encode")
            m += " (datum larger than max_datagram_bytes " + std::to_string(options_.max_datagram_bytes) + ")";
        return m;
    }

private:
    send_status transmit(const std::vector<std::uint8_t>& datagram, std::size_t records) {
        if (int err = socket_.send(datagram.data(), datagram.size())) {
            ++stats_.errors;
            stats_.dropped_records += records;
            return {err, "send"};
        }
        ++stats_.datagrams;
        stats_.records += records;
        stats_.bytes += datagram.size();
        return {};
    }
    send_status refuse(std::size_t records) {
        ++stats_.errors;
        stats_.dropped_records += records;
        return {EMSGSIZE, "encode"};
    }

    sender_options options_;
    class record record_;
    std::string peer_;
    udp_socket socket_;
    std::vector<std::uint8_t> pending_;  // datums of the datagram being packed
    std::size_t pending_records_ = 0;
    std::vector<std::uint8_t> scratch_;  // send()'s single datum
    sender_stats stats_;
};

}  // namespace speeddata::sender
