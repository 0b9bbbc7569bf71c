// The Avro JSON encoding of a value of one node of a schema (a field's value rather than a
// whole datum); for exports that write one column per field (the pivot's CSV).
#pragma once

#include <string>

#include "core/avro/codec.hpp"

namespace speeddata::avro {

// As append_json (codec.hpp), for a value of node id.
void append_json(const Schema& schema, NodeId id, const Value& value, std::string& out);

}  // namespace speeddata::avro
