// CSV export of a cache time range (docs/pivot.md, "CSV"): one CSV file for one channel, a
// zip of <channel>.csv entries for several. Columns: time (ISO 8601 UTC with 9 fraction
// digits), time_ns (int ns since the epoch), then the HDF5 export's columns (records
// flattened with '.'; a nullable value is one column, empty where null). Numbers are the
// shortest text that reads back to the same value; strings are quoted per RFC 4180 when
// they hold a comma, quote, CR or LF; booleans true/false; enums by symbol; bytes and fixed
// as lower-case hex; arrays, maps and other unions as their Avro JSON encoding. Rows end
// in CRLF (RFC 4180).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "pivot/pivot.hpp"

namespace speeddata::pivot {

// As export_range, written as CSV (or a zip of CSVs when several channels are requested).
ExportResult export_csv(const std::filesystem::path& avro_path, const ExportRequest& request,
                        const std::filesystem::path& out_path);

// A CSV field: as is, or quoted with inner quotes doubled when it holds , " CR or LF.
std::string csv_quote(std::string_view s);
// "2023-11-14T22:13:20.000000001Z": ISO 8601 UTC, always 9 fraction digits.
std::string csv_time(int64_t ns);

}  // namespace speeddata::pivot
