// Internal to the Avro core: naming a JSON value's kind in "expected X, got Y" messages, and
// the pieces of the Avro JSON encoding shared by its JSON tree (value.cpp) and its JSON text
// (json_text.cpp).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/avro/schema.hpp"

namespace speeddata::avro::detail {

// "null", "boolean", "integer", "number", "string", "array", "object" or "value".
inline std::string json_kind(const nlohmann::json& j) {
    using t = nlohmann::json::value_t;
    switch (j.type()) {
        case t::null: return "null";
        case t::boolean: return "boolean";
        case t::number_integer:
        case t::number_unsigned: return "integer";
        case t::number_float: return "number";
        case t::string: return "string";
        case t::array: return "array";
        case t::object: return "object";
        default: return "value";
    }
}

// Name of a union branch in the JSON encoding: full name for named types, else the type name.
inline std::string branch_name(const Node& n) {
    return n.full_name.empty() ? std::string(type_name(n.type)) : n.full_name;
}

// Bytes and fixed values are ISO-8859-1 strings in the Avro JSON encoding.
inline std::string latin1_to_utf8(const std::string& b) {
    std::string s;
    s.reserve(b.size());
    for (char ch : b) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x80) {
            s.push_back(static_cast<char>(c));
        } else {
            s.push_back(static_cast<char>(0xC0 | (c >> 6)));
            s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
        }
    }
    return s;
}

}  // namespace speeddata::avro::detail
