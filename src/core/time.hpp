// Time stamps: units of a channel's abscissa and conversion to ns since the Unix epoch.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/avro/schema.hpp"
#include "core/status.hpp"

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

int64_t now_ns();        // CLOCK_REALTIME in ns
int64_t monotonic_ns();  // CLOCK_MONOTONIC in ns: for ages, intervals and deadlines
// "2026-11-24T08:05:12.123456789Z" (ns precision, trailing zeros of the fraction trimmed
// to a multiple of 3 digits; no fraction when zero).
std::string format_iso8601(int64_t ns);
// "2026-11-24T08:05:12Z": whole seconds (the registry's and the API's created/updated stamps).
std::string format_iso8601_seconds(int64_t ns);
// Appends "2026-11-24T08:05:12.123Z": always milliseconds, the earlier version's pages' form.
void append_iso8601_ms(std::string& out, int64_t ns);
// "20261124T080512.123Z", the form used in cache file names (ms precision, sortable).
std::string format_file_stamp(int64_t ns);

// The range of times as int64 ns since the epoch: 1677-09-21T00:12:43.145224192Z ..
// 2262-04-11T23:47:16.854775807Z. Times outside it are errors, never wrapped.
inline constexpr int64_t min_time_ns = INT64_MIN;
inline constexpr int64_t max_time_ns = INT64_MAX;

// A time parameter, -> ns since the epoch. Accepts
//   ISO 8601 date-times with a zone: "2025-01-23T14:00:00Z", "...T14:00:00.123456+01:00",
//   "...+0100", a space instead of 'T'; a date alone ("2025-01-23": midnight UTC);
//   relative times, as Grafana writes them: "now", "now-30s", "now-5m", "now+1h", "now-PT30S"
//   (any duration parse_duration_ns accepts), relative to now.
// A date-time without a zone is an error that suggests Z or an offset: it is ambiguous (local
// time or UTC?) and silently taking UTC gave users the wrong hour. Out of range: an error.
Result<int64_t> parse_time(std::string_view text, int64_t now);
// A duration parameter, -> ns (> 0): ISO 8601 "PnW", "PnDTnHnMnS" (decimal fractions allowed,
// e.g. "PT0.5S"), or the config form "30s", "5m", "250ms", "1h30m". Too long for int64 ns
// (about 292 years): an error.
Result<int64_t> parse_duration_ns(std::string_view text);

}  // namespace speeddata
