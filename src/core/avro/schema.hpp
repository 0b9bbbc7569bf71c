// Avro schema: parsing (the whole 1.11 spec), Parsing Canonical Form, CRC-64-AVRO.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.hpp"

namespace speeddata::avro {

enum class Type : uint8_t {
    null_type, boolean, int_type, long_type, float_type, double_type, bytes, string,
    record, enum_type, array, map, union_type, fixed,
};
std::string_view type_name(Type t);  // "null", "boolean", "int", ... "record", "union"

enum class LogicalType : uint8_t {
    none, decimal, uuid, date, time_millis, time_micros,
    timestamp_millis, timestamp_micros, timestamp_nanos,
    local_timestamp_millis, local_timestamp_micros, local_timestamp_nanos, duration,
};
std::string_view logical_type_name(LogicalType t);  // "timestamp-nanos", ...

// Index of a node inside Schema::nodes(). Named types are stored once; a reference to a
// named type (including a recursive one) is the index of its definition.
using NodeId = uint32_t;
inline constexpr NodeId no_node = UINT32_MAX;

struct Field {
    std::string name;
    NodeId type = no_node;
    std::string doc;
    std::vector<std::string> aliases;
    std::optional<nlohmann::json> default_value;
};

struct Node {
    Type type = Type::null_type;
    LogicalType logical = LogicalType::none;  // an unknown logicalType is ignored, per spec
    std::string full_name;                    // record, enum, fixed: "namespace.name"
    std::string doc;
    std::vector<std::string> aliases;
    std::vector<Field> fields;          // record
    std::vector<std::string> symbols;   // enum
    std::optional<std::string> enum_default;
    NodeId items = no_node;             // array
    NodeId values = no_node;            // map
    std::vector<NodeId> branches;       // union
    uint64_t fixed_size = 0;            // fixed
    int precision = 0, scale = 0;       // decimal
};

// Knobs for Schema::parse (an addition; the one-argument parse uses the defaults).
struct ParseOptions {
    // Check every field default against its type (per spec a union default matches the
    // union's first branch). Readers of foreign files turn this off: a writer with a sloppy
    // default still wrote decodable data.
    bool validate_defaults = true;
};

class Schema {
public:
    // Parses schema JSON text. Errors name the problem and where it is, e.g.
    // "field 'x' of record 'example': unknown type 'flot'".
    static Result<Schema> parse(std::string_view json_text);
    static Result<Schema> parse(std::string_view json_text, const ParseOptions& options);
    // Reads and parses a file; errors are prefixed with the path.
    static Result<Schema> load(const std::filesystem::path& path);
    static Result<Schema> load(const std::filesystem::path& path, const ParseOptions& options);

    NodeId root_id() const { return root_; }
    const Node& root() const { return nodes_[root_]; }
    const Node& node(NodeId id) const { return nodes_[id]; }
    const std::vector<Node>& nodes() const { return nodes_; }

    // Parsing Canonical Form as defined by the Avro specification.
    const std::string& canonical_form() const { return canonical_; }
    // CRC-64-AVRO fingerprint of the canonical form (the spec's "Rabin" fingerprint).
    uint64_t fingerprint() const { return fingerprint_; }
    // The JSON text that was parsed (stored in container files as avro.schema).
    const std::string& json_text() const { return text_; }

    // Index of a top-level field of a record root schema, or -1.
    int field_index(std::string_view name) const;

private:
    friend class SchemaParser;
    std::vector<Node> nodes_;
    NodeId root_ = no_node;
    std::string canonical_;
    uint64_t fingerprint_ = 0;
    std::string text_;
};

// CRC-64-AVRO (the fingerprint algorithm of the Avro spec) of arbitrary bytes.
uint64_t crc64_avro(std::string_view bytes);

}  // namespace speeddata::avro
