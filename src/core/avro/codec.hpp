// Avro binary encoding: allocation-free validation/skipping (the relay's hot path), decoding
// into typed values, encoding.
#pragma once

#include <cstddef>
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
    too_deep,         // nesting deeper than the validator's limit (recursive schemas)
    too_large,        // an array/map count or length larger than the remaining buffer allows
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

// A schema compiled for fast, allocation-free checking of binary datums.
// Thread-safe for concurrent validate() calls after construction.
class Validator {
public:
    explicit Validator(const Schema& schema);
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
size_t read_long(const uint8_t* p, const uint8_t* end, int64_t& out) noexcept;
// Appends the zigzag varint encoding of v; returns bytes written (1..10). out needs 10 bytes.
size_t write_long(int64_t v, uint8_t* out) noexcept;
void append_long(std::string& out, int64_t v);
void append_float(std::string& out, float v);
void append_double(std::string& out, double v);
float read_float(const uint8_t* p) noexcept;    // little-endian, 4 bytes
double read_double(const uint8_t* p) noexcept;  // little-endian, 8 bytes

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
};
struct UnionValue {
    int32_t branch = 0;
    Value value;
};

// Decodes one datum; advances p past it. Errors name the DecodeError and the offset.
Result<Value> decode(const Schema& schema, const uint8_t*& p, const uint8_t* end);
// Appends the binary encoding of value (which must match the schema) to out.
Status encode(const Schema& schema, const Value& value, std::string& out);

// JSON <-> Value following the Avro JSON encoding (unions as {"type": value}, bytes and
// fixed as ISO-8859-1 strings). Used by tests, tools and the REST APIs.
Result<Value> from_json(const Schema& schema, const nlohmann::json& j);
nlohmann::json to_json(const Schema& schema, const Value& value);

}  // namespace speeddata::avro
