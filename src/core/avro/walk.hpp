// One Avro binary value walked without decoding it into a Value: skipped, or rendered as the
// text of its Avro JSON encoding. Allocation-free when skipping; for readers that keep some
// fields and pass over the rest (the pivot's column decoder).
#pragma once

#include <cstdint>
#include <string>

#include "core/avro/schema.hpp"

namespace speeddata::avro {

// Deepest nesting walked (as Decoder and append_json count it; the root is level 0): deeper
// data is malformed, so hostile recursive data cannot exhaust the stack.
inline constexpr int walk_max_depth = 128;

// Skips one value of node id starting at p; the position after it, or nullptr when the
// bytes are malformed or truncated. Never reads outside [p, end).
const uint8_t* skip_value(const Schema& schema, NodeId id, const uint8_t* p, const uint8_t* end) noexcept;

// Appends the Avro JSON encoding of one value of node id starting at p to out, as compact
// text: exactly what append_json (codec.hpp) writes for the decoded value. Returns the
// position after the value, or nullptr when malformed (out then holds a partial text).
const uint8_t* append_json_value(const Schema& schema, NodeId id, const uint8_t* p, const uint8_t* end,
                                 std::string& out);

}  // namespace speeddata::avro
