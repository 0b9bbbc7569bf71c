// Avro schema parsing (Avro 1.11 specification), Parsing Canonical Form and CRC-64-AVRO.
#include "core/avro/schema.hpp"
#include "core/avro/json_kind.hpp"
#include "core/fs.hpp"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace speeddata::avro {

using json = nlohmann::json;

std::string_view type_name(Type t) {
    switch (t) {
        case Type::null_type: return "null";
        case Type::boolean: return "boolean";
        case Type::int_type: return "int";
        case Type::long_type: return "long";
        case Type::float_type: return "float";
        case Type::double_type: return "double";
        case Type::bytes: return "bytes";
        case Type::string: return "string";
        case Type::record: return "record";
        case Type::enum_type: return "enum";
        case Type::array: return "array";
        case Type::map: return "map";
        case Type::union_type: return "union";
        case Type::fixed: return "fixed";
    }
    return "?";
}

std::string_view logical_type_name(LogicalType t) {
    switch (t) {
        case LogicalType::none: return "";
        case LogicalType::decimal: return "decimal";
        case LogicalType::uuid: return "uuid";
        case LogicalType::date: return "date";
        case LogicalType::time_millis: return "time-millis";
        case LogicalType::time_micros: return "time-micros";
        case LogicalType::timestamp_millis: return "timestamp-millis";
        case LogicalType::timestamp_micros: return "timestamp-micros";
        case LogicalType::timestamp_nanos: return "timestamp-nanos";
        case LogicalType::local_timestamp_millis: return "local-timestamp-millis";
        case LogicalType::local_timestamp_micros: return "local-timestamp-micros";
        case LogicalType::local_timestamp_nanos: return "local-timestamp-nanos";
        case LogicalType::duration: return "duration";
    }
    return "";
}

// ---- CRC-64-AVRO -------------------------------------------------------------------------

namespace {

constexpr uint64_t crc64_empty = 0xc15d213aa4d7a795ULL;

// The byte-at-a-time table of the spec's reference fingerprint algorithm.
constexpr std::array<uint64_t, 256> make_crc64_table() {
    std::array<uint64_t, 256> table{};
    for (uint64_t i = 0; i < 256; ++i) {
        uint64_t fp = i;
        for (int j = 0; j < 8; ++j) fp = (fp >> 1) ^ (crc64_empty & (0 - (fp & 1)));
        table[i] = fp;
    }
    return table;
}

constexpr std::array<uint64_t, 256> crc64_table = make_crc64_table();

}  // namespace

uint64_t crc64_avro(std::string_view bytes) {
    uint64_t fp = crc64_empty;
    for (unsigned char b : bytes) fp = (fp >> 8) ^ crc64_table[(fp ^ b) & 0xff];
    return fp;
}

// ---- parser ------------------------------------------------------------------------------

namespace {

// True for the eight primitive type names, which no named type may take.
bool is_primitive_name(std::string_view s) {
    return s == "null" || s == "boolean" || s == "int" || s == "long" || s == "float" ||
           s == "double" || s == "bytes" || s == "string";
}

// The primitive type with this name, if it is one.
std::optional<Type> primitive_type(std::string_view s) {
    if (s == "null") return Type::null_type;
    if (s == "boolean") return Type::boolean;
    if (s == "int") return Type::int_type;
    if (s == "long") return Type::long_type;
    if (s == "float") return Type::float_type;
    if (s == "double") return Type::double_type;
    if (s == "bytes") return Type::bytes;
    if (s == "string") return Type::string;
    return std::nullopt;
}

// A simple name per spec: [A-Za-z_][A-Za-z0-9_]*.
bool is_valid_name(std::string_view s) {
    if (s.empty()) return false;
    auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
    if (!alpha(s[0])) return false;
    for (char c : s.substr(1)) {
        if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
    }
    return true;
}

// A dotted name (namespace or full name): every component is a simple name.
bool is_valid_dotted(std::string_view s) {
    size_t start = 0;
    while (true) {
        size_t dot = s.find('.', start);
        std::string_view part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
        if (!is_valid_name(part)) return false;
        if (dot == std::string_view::npos) return true;
        start = dot + 1;
    }
}

std::string q(std::string_view s) { return "'" + std::string(s) + "'"; }

using detail::json_kind;

// Largest decimal precision that a two's-complement number of `size` bytes can hold.
int max_decimal_precision(uint64_t size) {
    if (size == 0) return 0;
    if (size > 64) return INT32_MAX;  // beyond any practical precision
    return static_cast<int>(std::floor(std::log10(2.0) * (8.0 * static_cast<double>(size) - 1.0)));
}

}  // namespace

class SchemaParser {
public:
    explicit SchemaParser(const ParseOptions& options) : options_(options) {}

    // Parses the whole document; on failure returns the first error found.
    Result<Schema> run(std::string_view text) {
        json doc;
        try {
            doc = json::parse(text.begin(), text.end());
        } catch (const json::parse_error& e) {
            return Status::error(json_error(text, e));
        } catch (const std::exception& e) {
            return Status::error(std::string("invalid JSON: ") + e.what());
        }
        schema_.text_ = std::string(text);
        NodeId root = parse_type(doc, "", "schema");
        if (root == no_node) return Status::error(error_);
        schema_.root_ = root;
        if (options_.validate_defaults) {
            for (const auto& d : defaults_) {
                std::string why;
                if (!check_default(d.type, d.value, why, 0)) {
                    return Status::error(d.where + ": invalid default " + d.value.dump() + ": " + why);
                }
            }
        }
        std::string canonical;
        std::unordered_set<NodeId> seen;
        write_canonical(root, canonical, seen);
        schema_.canonical_ = std::move(canonical);
        schema_.fingerprint_ = crc64_avro(schema_.canonical_);
        return std::move(schema_);
    }

private:
    struct PendingDefault {
        NodeId type;
        json value;
        std::string where;
    };

    // "invalid JSON at line L col C: <what the JSON parser said>".
    static std::string json_error(std::string_view text, const json::parse_error& e) {
        size_t pos = e.byte == 0 ? 0 : e.byte - 1;
        if (pos > text.size()) pos = text.size();
        size_t line = 1, col = 1;
        for (size_t i = 0; i < pos; ++i) {
            if (text[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        std::string what = e.what();
        // Drop nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 2: ".
        if (auto k = what.find("column "); k != std::string::npos) {
            if (auto c = what.find(": ", k); c != std::string::npos) what = what.substr(c + 2);
        } else if (auto c = what.find("] "); c != std::string::npos) {
            what = what.substr(c + 2);
        }
        // nlohmann quotes the bytes it read last ("; last read: 's3cr'"): an error about a file
        // must never echo its content (it may not be a schema at all).
        if (auto k = what.find("; last read:"); k != std::string::npos) what.resize(k);
        return "invalid JSON at line " + std::to_string(line) + " col " + std::to_string(col) + ": " + what;
    }

    NodeId fail(std::string message) {
        if (error_.empty()) error_ = std::move(message);
        return no_node;
    }

    NodeId add_node(Node n) {
        schema_.nodes_.push_back(std::move(n));
        return static_cast<NodeId>(schema_.nodes_.size() - 1);
    }

    // Resolves a type name used as a reference: full name, then relative to the enclosing
    // namespace, then the null namespace (what the Java implementation does).
    NodeId lookup(const std::string& name, const std::string& ns) const {
        if (name.find('.') == std::string::npos && !ns.empty()) {
            if (auto it = named_.find(ns + "." + name); it != named_.end()) return it->second;
        }
        if (auto it = named_.find(name); it != named_.end()) return it->second;
        return no_node;
    }

    // Parses any schema (string, object or union array) in namespace ns. `where` names the
    // location for error messages.
    NodeId parse_type(const json& j, const std::string& ns, const std::string& where) {
        // Schemas also come from the headers of files we did not write: bound the recursion.
        constexpr int max_nesting = 256;
        struct Depth {
            int& d;
            explicit Depth(int& x) : d(++x) {}
            ~Depth() { --d; }
        } depth(depth_);
        if (depth_ > max_nesting) return fail(where + ": schema nested more than " + std::to_string(max_nesting) + " levels deep");
        if (j.is_string()) return parse_type_name(j.get<std::string>(), ns, where);
        if (j.is_array()) return parse_union(j, ns, where);
        if (j.is_object()) return parse_object(j, ns, where);
        return fail(where + ": expected a type name, a type object or a union array, got " + json_kind(j));
    }

    NodeId parse_type_name(const std::string& name, const std::string& ns, const std::string& where) {
        if (auto p = primitive_type(name)) {
            Node n;
            n.type = *p;
            return add_node(std::move(n));
        }
        NodeId id = lookup(name, ns);
        if (id != no_node) return id;
        if (name == "record" || name == "enum" || name == "array" || name == "map" || name == "fixed") {
            return fail(where + ": type '" + name + "' must be written as a JSON object, e.g. {\"type\": \"" +
                        name + "\", ...}");
        }
        return fail(where + ": unknown type " + q(name));
    }

    // Reads an optional string attribute; false (with error set) when present but not a string.
    bool opt_string(const json& j, const char* key, std::string& out, const std::string& where) {
        auto it = j.find(key);
        if (it == j.end()) return true;
        if (!it->is_string()) {
            fail(where + ": '" + key + "' must be a string, got " + json_kind(*it));
            return false;
        }
        out = it->get<std::string>();
        return true;
    }

    bool parse_aliases(const json& j, std::vector<std::string>& out, const std::string& ns, bool named,
                       const std::string& where) {
        auto it = j.find("aliases");
        if (it == j.end()) return true;
        if (!it->is_array()) {
            fail(where + ": 'aliases' must be an array of names, got " + json_kind(*it));
            return false;
        }
        for (const auto& a : *it) {
            if (!a.is_string()) {
                fail(where + ": 'aliases' must be an array of names, got an element of kind " + json_kind(a));
                return false;
            }
            std::string s = a.get<std::string>();
            if (named ? !is_valid_dotted(s) : !is_valid_name(s)) {
                fail(where + ": alias " + q(s) + " is not a valid name");
                return false;
            }
            if (named && s.find('.') == std::string::npos && !ns.empty()) s = ns + "." + s;
            out.push_back(std::move(s));
        }
        return true;
    }

    NodeId parse_object(const json& j, const std::string& ns, const std::string& where) {
        auto t = j.find("type");
        if (t == j.end()) return fail(where + ": type object has no 'type' attribute");
        if (!t->is_string()) {
            // {"type": {"type": "int"}} is not a schema in the spec; say so plainly.
            return fail(where + ": 'type' of a type object must be a string, got " + json_kind(*t));
        }
        const std::string tname = t->get<std::string>();
        NodeId id;
        if (auto p = primitive_type(tname)) {
            Node n;
            n.type = *p;
            id = add_node(std::move(n));
        } else if (tname == "record") {
            id = parse_record(j, ns, where);
        } else if (tname == "enum") {
            id = parse_enum(j, ns, where);
        } else if (tname == "fixed") {
            id = parse_fixed(j, ns, where);
        } else if (tname == "array") {
            auto it = j.find("items");
            if (it == j.end()) return fail(where + ": array has no 'items'");
            NodeId items = parse_type(*it, ns, where + ", array items");
            if (items == no_node) return no_node;
            Node n;
            n.type = Type::array;
            n.items = items;
            id = add_node(std::move(n));
        } else if (tname == "map") {
            auto it = j.find("values");
            if (it == j.end()) return fail(where + ": map has no 'values'");
            NodeId values = parse_type(*it, ns, where + ", map values");
            if (values == no_node) return no_node;
            Node n;
            n.type = Type::map;
            n.values = values;
            id = add_node(std::move(n));
        } else {
            // {"type": "some.Named"} refers to an already defined named type.
            NodeId ref = lookup(tname, ns);
            if (ref != no_node) return ref;
            return fail(where + ": unknown type " + q(tname));
        }
        if (id == no_node) return no_node;
        apply_logical_type(j, id, where);
        return error_.empty() ? id : no_node;
    }

    // Sets the node's logical type when the annotation is valid for the underlying type; an
    // invalid or unknown logical type is ignored, as the specification requires.
    void apply_logical_type(const json& j, NodeId id, const std::string& where) {
        auto it = j.find("logicalType");
        if (it == j.end()) return;
        if (!it->is_string()) {
            fail(where + ": 'logicalType' must be a string, got " + json_kind(*it));
            return;
        }
        const std::string lt = it->get<std::string>();
        Node& n = schema_.nodes_[id];
        const Type t = n.type;
        auto is = [&](Type want) { return t == want; };
        if (lt == "decimal") {
            if (!is(Type::bytes) && !is(Type::fixed)) return;
            auto p = j.find("precision");
            if (p == j.end() || !p->is_number_integer()) return;
            int64_t precision = p->get<int64_t>();
            int64_t scale = 0;
            if (auto s = j.find("scale"); s != j.end()) {
                if (!s->is_number_integer()) return;
                scale = s->get<int64_t>();
            }
            if (precision <= 0 || precision > INT32_MAX || scale < 0 || scale > precision) return;
            if (is(Type::fixed) && precision > max_decimal_precision(n.fixed_size)) return;
            n.logical = LogicalType::decimal;
            n.precision = static_cast<int>(precision);
            n.scale = static_cast<int>(scale);
        } else if (lt == "uuid") {
            if (is(Type::string) || (is(Type::fixed) && n.fixed_size == 16)) n.logical = LogicalType::uuid;
        } else if (lt == "date") {
            if (is(Type::int_type)) n.logical = LogicalType::date;
        } else if (lt == "time-millis") {
            if (is(Type::int_type)) n.logical = LogicalType::time_millis;
        } else if (lt == "time-micros") {
            if (is(Type::long_type)) n.logical = LogicalType::time_micros;
        } else if (lt == "timestamp-millis") {
            if (is(Type::long_type)) n.logical = LogicalType::timestamp_millis;
        } else if (lt == "timestamp-micros") {
            if (is(Type::long_type)) n.logical = LogicalType::timestamp_micros;
        } else if (lt == "timestamp-nanos") {
            if (is(Type::long_type)) n.logical = LogicalType::timestamp_nanos;
        } else if (lt == "local-timestamp-millis") {
            if (is(Type::long_type)) n.logical = LogicalType::local_timestamp_millis;
        } else if (lt == "local-timestamp-micros") {
            if (is(Type::long_type)) n.logical = LogicalType::local_timestamp_micros;
        } else if (lt == "local-timestamp-nanos") {
            if (is(Type::long_type)) n.logical = LogicalType::local_timestamp_nanos;
        } else if (lt == "duration") {
            if (is(Type::fixed) && n.fixed_size == 12) n.logical = LogicalType::duration;
        }
    }

    // Works out the full name of a named type and registers it. Returns the new node's id,
    // whose namespace (for nested definitions) is written to inner_ns.
    NodeId declare_named(const json& j, Type type, const std::string& ns, const std::string& where,
                         std::string& inner_ns, std::string& out_where) {
        const std::string kind(type_name(type));
        auto nit = j.find("name");
        if (nit == j.end()) return fail(where + ": " + kind + " has no 'name'");
        if (!nit->is_string()) return fail(where + ": " + kind + " 'name' must be a string, got " + json_kind(*nit));
        const std::string name = nit->get<std::string>();
        std::string space = ns;
        if (auto sit = j.find("namespace"); sit != j.end()) {
            if (sit->is_null()) {
                space.clear();
            } else if (!sit->is_string()) {
                return fail(where + ": " + kind + " " + q(name) + ": 'namespace' must be a string, got " +
                            json_kind(*sit));
            } else {
                space = sit->get<std::string>();
            }
        }
        std::string full;
        if (name.find('.') != std::string::npos) {
            if (!is_valid_dotted(name)) return fail(where + ": " + kind + " name " + q(name) + " is not a valid name");
            full = name;
            inner_ns = name.substr(0, name.rfind('.'));
        } else {
            if (!is_valid_name(name)) return fail(where + ": " + kind + " name " + q(name) + " is not a valid name");
            if (!space.empty() && !is_valid_dotted(space)) {
                return fail(where + ": " + kind + " " + q(name) + ": namespace " + q(space) +
                            " is not a valid namespace");
            }
            full = space.empty() ? name : space + "." + name;
            inner_ns = space;
        }
        std::string simple = full.substr(full.rfind('.') == std::string::npos ? 0 : full.rfind('.') + 1);
        if (is_primitive_name(simple)) {
            return fail(where + ": " + kind + " name " + q(full) + " redefines a primitive type");
        }
        if (named_.count(full)) return fail(where + ": redefinition of named type " + q(full));
        Node n;
        n.type = type;
        n.full_name = full;
        out_where = kind + " " + q(full);
        if (!opt_string(j, "doc", n.doc, out_where)) return no_node;
        if (!parse_aliases(j, n.aliases, inner_ns, true, out_where)) return no_node;
        NodeId id = add_node(std::move(n));
        named_[full] = id;  // before the body, so that the body may refer to it (recursion)
        return id;
    }

    NodeId parse_record(const json& j, const std::string& ns, const std::string& where) {
        std::string inner_ns, rwhere;
        NodeId id = declare_named(j, Type::record, ns, where, inner_ns, rwhere);
        if (id == no_node) return no_node;
        auto fit = j.find("fields");
        if (fit == j.end()) return fail(rwhere + ": record has no 'fields'");
        if (!fit->is_array()) return fail(rwhere + ": 'fields' must be an array, got " + json_kind(*fit));
        std::vector<Field> fields;
        std::unordered_set<std::string> names;
        size_t index = 0;
        for (const auto& f : *fit) {
            const std::string fpos = rwhere + ", field #" + std::to_string(index++);
            if (!f.is_object()) return fail(fpos + ": a field must be a JSON object, got " + json_kind(f));
            auto nit = f.find("name");
            if (nit == f.end()) return fail(fpos + ": field has no 'name'");
            if (!nit->is_string()) return fail(fpos + ": field 'name' must be a string, got " + json_kind(*nit));
            Field field;
            field.name = nit->get<std::string>();
            const std::string fwhere = "field " + q(field.name) + " of record " + q(schema_.nodes_[id].full_name);
            if (!is_valid_name(field.name)) return fail(fwhere + ": " + q(field.name) + " is not a valid name");
            if (!names.insert(field.name).second) return fail(fwhere + ": duplicate field " + q(field.name));
            auto tit = f.find("type");
            if (tit == f.end()) return fail(fwhere + ": field has no 'type'");
            if (!opt_string(f, "doc", field.doc, fwhere)) return no_node;
            if (!parse_aliases(f, field.aliases, inner_ns, false, fwhere)) return no_node;
            if (auto oit = f.find("order"); oit != f.end()) {
                if (!oit->is_string() || (*oit != "ascending" && *oit != "descending" && *oit != "ignore")) {
                    return fail(fwhere + ": 'order' must be \"ascending\", \"descending\" or \"ignore\"");
                }
            }
            field.type = parse_type(*tit, inner_ns, fwhere);
            if (field.type == no_node) return no_node;
            if (auto dit = f.find("default"); dit != f.end()) {
                field.default_value = *dit;
                defaults_.push_back({field.type, *dit, fwhere});
            }
            fields.push_back(std::move(field));
        }
        schema_.nodes_[id].fields = std::move(fields);
        return id;
    }

    NodeId parse_enum(const json& j, const std::string& ns, const std::string& where) {
        std::string inner_ns, ewhere;
        NodeId id = declare_named(j, Type::enum_type, ns, where, inner_ns, ewhere);
        if (id == no_node) return no_node;
        auto sit = j.find("symbols");
        if (sit == j.end()) return fail(ewhere + ": enum has no 'symbols'");
        if (!sit->is_array()) return fail(ewhere + ": 'symbols' must be an array, got " + json_kind(*sit));
        std::vector<std::string> symbols;
        std::unordered_set<std::string> seen;
        for (const auto& s : *sit) {
            if (!s.is_string()) return fail(ewhere + ": enum symbols must be strings, got " + json_kind(s));
            std::string sym = s.get<std::string>();
            if (!is_valid_name(sym)) return fail(ewhere + ": enum symbol " + q(sym) + " is not a valid name");
            if (!seen.insert(sym).second) return fail(ewhere + ": duplicate enum symbol " + q(sym));
            symbols.push_back(std::move(sym));
        }
        std::optional<std::string> def;
        if (auto dit = j.find("default"); dit != j.end()) {
            if (!dit->is_string()) return fail(ewhere + ": enum 'default' must be a string, got " + json_kind(*dit));
            def = dit->get<std::string>();
            if (!seen.count(*def)) return fail(ewhere + ": enum default " + q(*def) + " is not one of its symbols");
        }
        Node& n = schema_.nodes_[id];
        n.symbols = std::move(symbols);
        n.enum_default = std::move(def);
        return id;
    }

    NodeId parse_fixed(const json& j, const std::string& ns, const std::string& where) {
        std::string inner_ns, fwhere;
        NodeId id = declare_named(j, Type::fixed, ns, where, inner_ns, fwhere);
        if (id == no_node) return no_node;
        auto sit = j.find("size");
        if (sit == j.end()) return fail(fwhere + ": fixed has no 'size'");
        if (!sit->is_number_integer() || (sit->is_number_integer() && !sit->is_number_unsigned() && sit->get<int64_t>() < 0)) {
            return fail(fwhere + ": 'size' must be a non-negative integer, got " + sit->dump());
        }
        uint64_t size = sit->get<uint64_t>();
        // A bigger fixed cannot be held by any datagram or block; refusing it keeps offsets 32-bit.
        if (size > UINT32_MAX) return fail(fwhere + ": 'size' " + std::to_string(size) + " is too large");
        schema_.nodes_[id].fixed_size = size;
        return id;
    }

    NodeId parse_union(const json& j, const std::string& ns, const std::string& where) {
        std::vector<NodeId> branches;
        std::unordered_set<std::string> keys;
        size_t i = 0;
        for (const auto& b : j) {
            const std::string bwhere = where + ", union branch " + std::to_string(i++);
            NodeId id = parse_type(b, ns, bwhere);
            if (id == no_node) return no_node;
            const Node& n = schema_.nodes_[id];
            if (n.type == Type::union_type) return fail(bwhere + ": a union may not directly contain another union");
            std::string key = n.full_name.empty() ? std::string(type_name(n.type)) : n.full_name;
            if (!keys.insert(key).second) {
                if (n.type == Type::array) return fail(where + ": union contains two arrays");
                if (n.type == Type::map) return fail(where + ": union contains two maps");
                if (!n.full_name.empty()) return fail(where + ": union contains " + q(key) + " twice");
                return fail(where + ": union contains two " + q(key));
            }
            branches.push_back(id);
        }
        Node n;
        n.type = Type::union_type;
        n.branches = std::move(branches);
        return add_node(std::move(n));
    }

    // True when v is a valid default for type id (JSON encoding; a union default matches the
    // union's first branch). why says what is wrong.
    bool check_default(NodeId id, const json& v, std::string& why, int depth) const {
        if (depth > 200) {
            why = "nested too deeply";
            return false;
        }
        const Node& n = schema_.nodes_[id];
        auto bad = [&](const std::string& expected) {
            why = "expected " + expected + " for " + std::string(type_name(n.type)) +
                  (n.full_name.empty() ? "" : " " + q(n.full_name)) + ", got " + json_kind(v);
            return false;
        };
        auto latin1_length = [](const std::string& s, size_t& len) {
            // Count code points of the UTF-8 string; each must be <= U+00FF.
            len = 0;
            for (size_t i = 0; i < s.size();) {
                unsigned char c = static_cast<unsigned char>(s[i]);
                if (c < 0x80) {
                    i += 1;
                } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
                    i += 2;
                } else {
                    return false;
                }
                ++len;
            }
            return true;
        };
        switch (n.type) {
            case Type::null_type: return v.is_null() || bad("null");
            case Type::boolean: return v.is_boolean() || bad("true or false");
            case Type::int_type:
                if (!v.is_number_integer()) return bad("an integer");
                if (v.is_number_unsigned() ? v.get<uint64_t>() > INT32_MAX
                                           : (v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX)) {
                    why = "integer out of range for int";
                    return false;
                }
                return true;
            case Type::long_type:
                if (!v.is_number_integer()) return bad("an integer");
                if (v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX) {
                    why = "integer out of range for long";
                    return false;
                }
                return true;
            case Type::float_type:
            case Type::double_type:
                if (v.is_number()) return true;
                if (v.is_string() && (v == "NaN" || v == "Infinity" || v == "-Infinity")) return true;
                return bad("a number");
            case Type::bytes: {
                size_t len;
                if (!v.is_string()) return bad("a string");
                if (!latin1_length(v.get_ref<const std::string&>(), len)) {
                    why = "bytes defaults are strings of code points U+0000..U+00FF";
                    return false;
                }
                return true;
            }
            case Type::string: return v.is_string() || bad("a string");
            case Type::fixed: {
                size_t len;
                if (!v.is_string()) return bad("a string");
                if (!latin1_length(v.get_ref<const std::string&>(), len)) {
                    why = "fixed defaults are strings of code points U+0000..U+00FF";
                    return false;
                }
                if (len != n.fixed_size) {
                    why = "fixed " + q(n.full_name) + " needs " + std::to_string(n.fixed_size) + " bytes, got " +
                          std::to_string(len);
                    return false;
                }
                return true;
            }
            case Type::enum_type:
                if (!v.is_string()) return bad("a symbol");
                for (const auto& s : n.symbols) {
                    if (s == v.get_ref<const std::string&>()) return true;
                }
                why = q(v.get<std::string>()) + " is not a symbol of enum " + q(n.full_name);
                return false;
            case Type::array:
                if (!v.is_array()) return bad("an array");
                for (const auto& e : v) {
                    if (!check_default(n.items, e, why, depth + 1)) return false;
                }
                return true;
            case Type::map:
                if (!v.is_object()) return bad("an object");
                for (const auto& [k, e] : v.items()) {
                    if (!check_default(n.values, e, why, depth + 1)) return false;
                }
                return true;
            case Type::union_type:
                if (n.branches.empty()) {
                    why = "an empty union has no values";
                    return false;
                }
                if (!check_default(n.branches[0], v, why, depth + 1)) {
                    why += " (a union default must match the union's first branch)";
                    return false;
                }
                return true;
            case Type::record:
                if (!v.is_object()) return bad("an object");
                for (const auto& f : n.fields) {
                    auto it = v.find(f.name);
                    if (it == v.end()) {
                        if (!f.default_value) {
                            why = "field " + q(f.name) + " of record " + q(n.full_name) + " is missing";
                            return false;
                        }
                        continue;
                    }
                    if (!check_default(f.type, *it, why, depth + 1)) return false;
                }
                return true;
        }
        return false;
    }

    // Parsing Canonical Form: a named type is written in full at its first occurrence and
    // by full name afterwards; only name, type, fields, symbols, items, values, size remain.
    void write_canonical(NodeId id, std::string& out, std::unordered_set<NodeId>& seen) const {
        const Node& n = schema_.nodes_[id];
        auto str = [&](std::string_view s) {
            // Names and symbols are restricted to [A-Za-z0-9_.], so no escaping is needed.
            out += '"';
            out += s;
            out += '"';
        };
        switch (n.type) {
            case Type::record:
            case Type::enum_type:
            case Type::fixed:
                if (!seen.insert(id).second) {
                    str(n.full_name);
                    return;
                }
                out += "{\"name\":";
                str(n.full_name);
                out += ",\"type\":";
                str(type_name(n.type));
                if (n.type == Type::record) {
                    out += ",\"fields\":[";
                    for (size_t i = 0; i < n.fields.size(); ++i) {
                        if (i) out += ',';
                        out += "{\"name\":";
                        str(n.fields[i].name);
                        out += ",\"type\":";
                        write_canonical(n.fields[i].type, out, seen);
                        out += '}';
                    }
                    out += ']';
                } else if (n.type == Type::enum_type) {
                    out += ",\"symbols\":[";
                    for (size_t i = 0; i < n.symbols.size(); ++i) {
                        if (i) out += ',';
                        str(n.symbols[i]);
                    }
                    out += ']';
                } else {
                    out += ",\"size\":" + std::to_string(n.fixed_size);
                }
                out += '}';
                return;
            case Type::array:
                out += "{\"type\":\"array\",\"items\":";
                write_canonical(n.items, out, seen);
                out += '}';
                return;
            case Type::map:
                out += "{\"type\":\"map\",\"values\":";
                write_canonical(n.values, out, seen);
                out += '}';
                return;
            case Type::union_type:
                out += '[';
                for (size_t i = 0; i < n.branches.size(); ++i) {
                    if (i) out += ',';
                    write_canonical(n.branches[i], out, seen);
                }
                out += ']';
                return;
            default:
                str(type_name(n.type));
                return;
        }
    }

    ParseOptions options_;
    Schema schema_;
    std::unordered_map<std::string, NodeId> named_;
    std::vector<PendingDefault> defaults_;
    std::string error_;
    int depth_ = 0;
};

Result<Schema> Schema::parse(std::string_view json_text) { return parse(json_text, ParseOptions{}); }

Result<Schema> Schema::parse(std::string_view json_text, const ParseOptions& options) {
    SchemaParser parser(options);
    return parser.run(json_text);
}

Result<Schema> Schema::load(const std::filesystem::path& path) { return load(path, ParseOptions{}); }

Result<Schema> Schema::load(const std::filesystem::path& path, const ParseOptions& options) {
    auto text = read_file(path);
    if (!text) return text.status();
    auto r = parse(*text, options);
    if (!r) return r.status().with_context(path.string());
    return r;
}

int Schema::field_index(std::string_view name) const {
    if (root_ == no_node) return -1;
    const Node& r = nodes_[root_];
    if (r.type != Type::record) return -1;
    for (size_t i = 0; i < r.fields.size(); ++i) {
        if (r.fields[i].name == name) return static_cast<int>(i);
    }
    return -1;
}

}  // namespace speeddata::avro
