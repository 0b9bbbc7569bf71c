// Internal to the Avro core: naming a JSON value's kind in "expected X, got Y" messages.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

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

}  // namespace speeddata::avro::detail
