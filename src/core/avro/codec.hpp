// Avro binary encoding: allocation-free validation/skipping (the relay's hot path), decoding
// into typed values, encoding.
#pragma once

#include <bit>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/avro/schema.hpp"
#include "core/status.hpp"

namespace speeddata::avro {

// Why a datum failed validation.
enum class DecodeError : uint8_t {
    none,
    truncated,        // the buffer ended inside the datum
    bad_varint,       // a varint longer than 10 bytes (or 5 for int) or overflowing
    negative_length,  // a negative bytes/string length
    bad_union_index,  // union branch index out of range
    bad_enum_index,   // enum symbol index out of range
    bad_boolean,      // boolean byte other than 0 or 1
    too_deep,         // nesting deeper than the limit (recursive schemas; see max_depth)
    too_large,        // an array/map count or length larger than the remaining buffer allows
                      // (also: a block byte size that disagrees with the block's items)
    bad_utf8,         // a string or map key that is not valid UTF-8 (readers such as
                      // python3-avro fail on it, so the relay must not cache it)
};
std::string_view decode_error_name(DecodeError e);  // "truncated", "bad varint", ...

// Byte range of one top-level field inside a datum, relative to the datum's start.
struct FieldSpan {
    uint32_t offset = 0;
    uint32_t length = 0;
};

struct ValidateResult {
    size_t consumed = 0;             // bytes of the datum when error == none
    DecodeError error = DecodeError::none;
    size_t error_offset = 0;         // where the problem was found, from the datum's start
    bool ok() const { return error == DecodeError::none; }
};

// Knobs for Validator (an addition; Validator(schema) uses the defaults).
struct ValidatorOptions {
    // Deepest nesting accepted, counted as decode() counts it (one level per record field,
    // union branch, array item and map value; the root is level 0); deeper data is
    // DecodeError::too_deep. Bounds stack use on recursive schemas fed hostile data; at the
    // default, validate() and decode() accept the same datums.
    int max_depth = 128;
    // Check that strings and map keys are UTF-8 (DecodeError::bad_utf8).
    bool check_utf8 = true;
};

// A schema compiled for fast, allocation-free checking of binary datums.
// Thread-safe for concurrent validate() calls after construction.
class Validator {
public:
    explicit Validator(const Schema& schema);
    Validator(const Schema& schema, const ValidatorOptions& options);
    ~Validator();
    Validator(Validator&&) noexcept;
    Validator& operator=(Validator&&) noexcept;

    // Checks that exactly one datum starts at data[0] and fits in size bytes; returns its
    // length. When spans is non-null and the root is a record, fills spans[i] for each
    // top-level field i (spans must have room for root().fields.size() entries).
    // Never allocates, never reads outside [data, data+size).
    ValidateResult validate(const uint8_t* data, size_t size, FieldSpan* spans = nullptr) const noexcept;

    // Number of top-level fields (0 when the root is not a record).
    size_t field_count() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// ---- varint / zigzag helpers (shared by the hot path and the encoders) -------------------

// Reads a zigzag varint long. Returns bytes used (1..10) or 0 when malformed/truncated.
// Inline: it is the innermost step of every decoder.
inline size_t read_long(const uint8_t* p, const uint8_t* end, int64_t& out) noexcept {
    uint64_t v = 0;
    for (size_t i = 0; i < 10; ++i) {
        if (p + i >= end) return 0;
        const uint8_t b = p[i];
        if (i == 9 && b > 1) return 0;  // more than 64 bits
        v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            out = static_cast<int64_t>((v >> 1) ^ (0 - (v & 1)));
            return i + 1;
        }
    }
    return 0;
}
// Appends the zigzag varint encoding of v; returns bytes written (1..10). out needs 10 bytes.
size_t write_long(int64_t v, uint8_t* out) noexcept;
void append_long(std::string& out, int64_t v);
void append_float(std::string& out, float v);
void append_double(std::string& out, double v);
// Little-endian, 4 and 8 bytes. Inline, one load on a little-endian machine: the decimator
// and the time field read one per field per datum.
inline float read_float(const uint8_t* p) noexcept {
    uint32_t bits = 0;
    if constexpr (std::endian::native == std::endian::little) std::memcpy(&bits, p, 4);
    else for (int i = 0; i < 4; ++i) bits |= static_cast<uint32_t>(p[i]) << (8 * i);
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
}
inline double read_double(const uint8_t* p) noexcept {
    uint64_t bits = 0;
    if constexpr (std::endian::native == std::endian::little) std::memcpy(&bits, p, 8);
    else for (int i = 0; i < 8; ++i) bits |= static_cast<uint64_t>(p[i]) << (8 * i);
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
}

// ---- typed values ------------------------------------------------------------------------

struct Value;
using Record = std::vector<Value>;                             // fields in schema order
using Array = std::vector<Value>;
using Map = std::vector<std::pair<std::string, Value>>;        // in encoded order
struct UnionValue;
struct EnumValue { int32_t index = 0; };
struct FixedValue { std::string bytes; };
struct BytesValue { std::string bytes; };

struct Value {
    // null, boolean, int, long, float, double, bytes, string, record, enum, array, map,
    // union, fixed
    std::variant<std::monostate, bool, int32_t, int64_t, float, double, BytesValue, std::string,
                 Record, EnumValue, Array, Map, std::shared_ptr<UnionValue>, FixedValue> v;

    // Record and Array are the same C++ type, so the variant must be addressed by index
    // (std::get<Value::record_index>(x.v)); these name the indexes (an addition).
    static constexpr size_t null_index = 0, boolean_index = 1, int_index = 2, long_index = 3,
                            float_index = 4, double_index = 5, bytes_index = 6, string_index = 7,
                            record_index = 8, enum_index = 9, array_index = 10, map_index = 11,
                            union_index = 12, fixed_index = 13;
    static Value make_record(Record fields) {
        Value x;
        x.v.emplace<record_index>(std::move(fields));
        return x;
    }
    static Value make_array(Array items) {
        Value x;
        x.v.emplace<array_index>(std::move(items));
        return x;
    }
    static Value make_union(int32_t branch, Value value);
};
struct UnionValue {
    int32_t branch = 0;
    Value value;
};
inline Value Value::make_union(int32_t branch, Value value) {
    Value x;
    x.v = std::make_shared<UnionValue>(UnionValue{branch, std::move(value)});
    return x;
}

// Decodes one datum; advances p past it. Errors name the DecodeError and the offset.
Result<Value> decode(const Schema& schema, const uint8_t*& p, const uint8_t* end);
// Appends the binary encoding of value (which must match the schema) to out.
Status encode(const Schema& schema, const Value& value, std::string& out);

// JSON <-> Value following the Avro JSON encoding (unions as {"type": value}, bytes and
// fixed as ISO-8859-1 strings). Used by tests, tools and the REST APIs.
Result<Value> from_json(const Schema& schema, const nlohmann::json& j);
nlohmann::json to_json(const Schema& schema, const Value& value);
// Appends the Avro JSON encoding of value as compact JSON text, record fields in schema
// order (nlohmann::json sorts object keys; tools printing records want schema order).
// Non-finite floats are written as the strings "NaN", "Infinity", "-Infinity", which
// from_json accepts back.
void append_json(const Schema& schema, const Value& value, std::string& out);

// True when [p, p+n) is well-formed UTF-8 (no overlongs, surrogates or code points past
// U+10FFFF).
bool is_valid_utf8(const uint8_t* p, size_t n) noexcept;

}  // namespace speeddata::avro
