// The v0.6 stripchart's WebSocket message: one record as one flat JSON object, written
// straight from the record's Avro bytes (no decoded value tree, nothing allocated but the
// output text's growth). The earlier server (Node, avro-js) sent JSON.stringify of the
// decoded record with its `time` turned into an ISO 8601 string; docs/stripchart.md
// ("Earlier pages") lists the mapping, docs/upgrading.md what differs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/avro/schema.hpp"
#include "core/time.hpp"

namespace speeddata::stripchart {

// Appends {"field": value, ...} for a record datum at [p, end) (already validated against
// schema) to out; the top-level field time_index becomes the ISO 8601 text of its time
// (milliseconds, as JavaScript's Date.toISOString() writes it) using unit. Returns false and
// leaves out as it was when the bytes do not decode.
bool append_legacy_record_json(const avro::Schema& schema, int time_index, TimeUnit unit, const uint8_t* p,
                               const uint8_t* end, std::string& out);

}  // namespace speeddata::stripchart
