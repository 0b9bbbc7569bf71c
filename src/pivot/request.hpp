// The export request's parameters, checked once for every way in: the REST API's query
// string, a tag's JSON body, and (through the same rules) the CLI. No HTTP here, so the rules
// are fuzzed on their own (tests/fuzz).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/config/config.hpp"
#include "core/status.hpp"
#include "pivot/pivot.hpp"

namespace speeddata::pivot {

// A parameter by name, or nullopt when absent.
using ParamGetter = std::function<std::optional<std::string>(const char*)>;

// Builds an export request from parameters, checking pivot.yaml's limits:
//   start (required): a time (core/time.hpp parse_time: ISO 8601 with a zone, or now-30s);
//   end or duration: when both are given, end wins (as the earlier pivot API did); when
//   neither, end = now;
//   channels (required, comma-separated), signals, decimate (>= 1), algorithm.
// Errors name the parameter: invalid_argument (400), too_large over a limit (413).
Result<ExportRequest> parse_export_params(const ParamGetter& get, const config::PivotConfig& cfg, int64_t now_ns);

}  // namespace speeddata::pivot
