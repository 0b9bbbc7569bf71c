// The pivot REST API (`speeddata pivot serve`): exports, channel coverage, health and tags
// on the shared HTTP server (src/http). Routes and answers: docs/pivot.md, "REST API".
#pragma once

#include "core/config/config.hpp"
#include "core/status.hpp"

namespace speeddata::pivot {

// Serves until SIGTERM or SIGINT, then returns ok (clean exit). Errors: bind failures,
// an unusable tags database.
Status serve(const config::PivotConfig& cfg);

}  // namespace speeddata::pivot
