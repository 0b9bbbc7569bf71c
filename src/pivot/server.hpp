// The pivot REST API (`speeddata pivot serve`): exports, channel coverage, health and tags
// on the shared HTTP server (src/http). Routes and answers: docs/pivot.md, "REST API".
#pragma once

#include "core/config/config.hpp"
#include "core/status.hpp"

namespace speeddata::pivot {

// Serves until SIGTERM or SIGINT, then returns ok (clean exit). Errors: bind failures,
// an unusable tags database, a network bind without a token (http::check_exposure).
// token_override: --token (else $SPEEDDATA_TOKEN, else auth.token_file).
Status serve(const config::PivotConfig& cfg, const std::string& token_override = {});

}  // namespace speeddata::pivot
