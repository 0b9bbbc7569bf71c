// GET /api/v1/series on any src/http server (docs/stripchart.md, "History API").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "core/status.hpp"
#include "history/history.hpp"
#include "http/server.hpp"

namespace speeddata::history {

// Registers GET /api/v1/series, served by one HistoryEngine made from options (kept alive by
// the route). Returns the engine (for tests and statistics).
std::shared_ptr<HistoryEngine> add_history_routes(http::Router& router, HistoryOptions options);

// A time parameter: ns since the epoch ("1700000000000000000"), or what parse_time
// (core/time.hpp) takes: ISO 8601 with a zone, "now", "now-30s", "now+PT1M".
Result<int64_t> parse_time_param(std::string_view text, int64_t now_ns);

}  // namespace speeddata::history
