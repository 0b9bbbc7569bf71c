// A channel's schema compiled into columns and a decode program: which HDF5 dataset each
// Avro value goes to (the type mapping of columns.hpp) and, for the decoder, one step per
// field in the order of the encoding (records are just their fields in order), so a datum is
// decoded in a loop with no recursion and one dispatch per field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/avro/schema.hpp"
#include "core/status.hpp"
#include "pivot/column.hpp"

namespace speeddata::pivot {

struct Step {
    enum Op : uint8_t { value, time, skip, nullable } op = value;
    int col = -1;        // value, time: the column
    int mask = -1;       // nullable: the mask column
    int null_branch = 0; // nullable
    uint32_t after = 0;  // nullable: the first step after its value's steps
    avro::NodeId node = avro::no_node;
};

struct ColumnPlan {
    std::vector<Column> cols;  // in creation order; their buffers still empty
    std::vector<Step> prog;
    int time_index = -1;       // the time field's index among the root's fields
    int time_col = -1;         // the "time" column (not necessarily the first)
    avro::Type time_type = avro::Type::long_type;

    // Compiles schema (a record): time_field is the abscissa's top-level field; signals: the
    // top-level fields to keep (empty = all; the time field is always kept). Errors name the
    // missing signal or the unusable time field.
    static Result<ColumnPlan> compile(const avro::Schema& schema, const std::string& time_field,
                                      const std::vector<std::string>& signals);
};

}  // namespace speeddata::pivot
