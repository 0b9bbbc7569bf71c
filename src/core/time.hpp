// Time stamps: units of a channel's abscissa and conversion to ns since the Unix epoch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/avro/schema.hpp"

namespace speeddata {

enum class TimeUnit : uint8_t { unknown, ns, us, ms, s };
std::string_view time_unit_name(TimeUnit u);  // "ns", "us", "ms", "s", "" (unknown)
TimeUnit parse_time_unit(std::string_view name);  // unknown for anything else

// The unit of a time field: its logicalType (timestamp-nanos/micros/millis, local-*) if any,
// else the configured unit, else unknown (then infer_time_unit() decides per value).
TimeUnit time_unit_of(const avro::Node& field_type, std::string_view configured);

// Infers the unit from a value's magnitude assuming a date after 1973: >1e17 ns, >1e14 us,
// >1e11 ms, else s.
TimeUnit infer_time_unit(double value);

// Converts a value in unit to ns since the epoch (unknown: inferred from the value).
int64_t to_ns(int64_t value, TimeUnit unit);
int64_t to_ns(double value, TimeUnit unit);

int64_t now_ns();  // CLOCK_REALTIME in ns
// "2026-11-24T08:05:12.123456789Z" (ns precision, trailing zeros of the fraction trimmed
// to a multiple of 3 digits; no fraction when zero).
std::string format_iso8601(int64_t ns);
// "20261124T080512.123Z", the form used in cache file names (ms precision, sortable).
std::string format_file_stamp(int64_t ns);

}  // namespace speeddata
