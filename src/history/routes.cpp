#include "history/routes.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "core/time.hpp"

namespace speeddata::history {

using http::Request;
using http::Response;
using nlohmann::json;

Result<int64_t> parse_time_param(std::string_view text, int64_t now) {
    auto digits = [](std::string_view s) {
        if (!s.empty() && s[0] == '-') s.remove_prefix(1);
        if (s.empty() || s.size() > 19) return false;
        for (char c : s)
            if (!std::isdigit(static_cast<unsigned char>(c))) return false;
        return true;
    };
    if (digits(text)) {
        errno = 0;
        long long v = std::strtoll(std::string(text).c_str(), nullptr, 10);
        if (errno == ERANGE) return Status::error("'" + std::string(text) + "' is out of range for ns since the epoch");
        return static_cast<int64_t>(v);
    }
    auto t = parse_time(text, now);  // ISO 8601 with a zone, now, now-30s (core/time.hpp)
    if (!t.ok()) return Status::error(t.message() + "; or ns since the epoch");
    return t;
}

namespace {

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json time_or_null(bool any, int64_t ns) { return any ? json(ns) : json(nullptr); }

Response answer_json(const SeriesRequest& req, const SeriesAnswer& a) {
    json t0 = json::array(), t1 = json::array();
    for (int k = 0; k < req.points; ++k) {
        t0.push_back(tile_start(req.start_ns, req.end_ns, req.points, k));
        t1.push_back(tile_start(req.start_ns, req.end_ns, req.points, k + 1));
    }
    json series = json::array();
    for (const auto& s : a.series) {
        json count = json::array(), mn = json::array(), mx = json::array(), first = json::array(),
             last = json::array(), first_t = json::array(), last_t = json::array();
        uint64_t total = 0;
        for (const auto& g : s.tiles) {
            total += g.count;
            count.push_back(g.count);
            mn.push_back(g.count ? number_or_null(g.min) : json(nullptr));
            mx.push_back(g.count ? number_or_null(g.max) : json(nullptr));
            first.push_back(g.count ? number_or_null(g.first) : json(nullptr));
            last.push_back(g.count ? number_or_null(g.last) : json(nullptr));
            first_t.push_back(time_or_null(g.count, g.t_first));
            last_t.push_back(time_or_null(g.count, g.t_last));
        }
        json cov = nullptr;
        if (s.coverage.any)
            cov = {{"first_ns", s.coverage.first_ns}, {"last_ns", s.coverage.last_ns},
                   {"first", format_iso8601(s.coverage.first_ns)}, {"last", format_iso8601(s.coverage.last_ns)}};
        series.push_back({{"signal", s.signal.channel + "." + s.signal.field},
                          {"channel", s.signal.channel},
                          {"field", s.signal.field},
                          {"type", s.type},
                          {"samples", total},
                          {"coverage", cov},
                          {"count", std::move(count)},
                          {"min", std::move(mn)},
                          {"max", std::move(mx)},
                          {"first", std::move(first)},
                          {"last", std::move(last)},
                          {"first_t", std::move(first_t)},
                          {"last_t", std::move(last_t)}});
    }
    const auto& st = a.stats;
    json body = {{"start_ns", req.start_ns},
                 {"end_ns", req.end_ns},
                 {"start", format_iso8601(req.start_ns)},
                 {"end", format_iso8601(req.end_ns)},
                 {"points", req.points},
                 {"t0", std::move(t0)},
                 {"t1", std::move(t1)},
                 {"series", std::move(series)},
                 {"stats",
                  {{"files", st.files},
                   {"blocks_read", st.blocks_read},
                   {"records_read", st.records_read},
                   {"summaries_used", st.summaries_used},
                   {"summaries_computed", st.summaries_computed},
                   {"sidecars_loaded", st.sidecars_loaded},
                   {"sidecars_written", st.sidecars_written}}}};
    return Response::json(200, body);
}

}  // namespace

std::shared_ptr<HistoryEngine> add_history_routes(http::Router& router, HistoryOptions options) {
    auto engine = std::make_shared<HistoryEngine>(std::move(options));
    router.add("GET", "/api/v1/series", [engine](const Request& r) -> Response {
        SeriesRequest req;
        const int64_t now = now_ns();
        const std::string* signals = r.param("signals");
        if (!signals || signals->empty())
            return Response::error(400, "signals: required, e.g. signals=example.sine_wave,example.ramp");
        size_t b = 0;
        while (b <= signals->size()) {
            size_t e = signals->find(',', b);
            if (e == std::string::npos) e = signals->size();
            std::string item = signals->substr(b, e - b);
            while (!item.empty() && item.front() == ' ') item.erase(item.begin());
            while (!item.empty() && item.back() == ' ') item.pop_back();
            b = e + 1;
            if (item.empty()) continue;
            auto dot = item.find('.');
            if (dot == std::string::npos || dot == 0 || dot + 1 == item.size())
                return Response::error(400, "signals: '" + item + "' is not channel.field (e.g. example.sine_wave)");
            req.signals.push_back({item.substr(0, dot), item.substr(dot + 1)});
        }
        if (req.signals.empty()) return Response::error(400, "signals: at least one channel.field is required");
        if (req.signals.size() > 100)
            return Response::error(400, "signals: " + std::to_string(req.signals.size()) + " signals; at most 100");
        const std::string* start = r.param("start");
        if (!start || start->empty())
            return Response::error(400, "start: required (ns since the epoch, ISO 8601, or now-30s)");
        auto s = parse_time_param(*start, now);
        if (!s.ok()) return Response::error(400, "start: " + s.message());
        req.start_ns = *s;
        req.end_ns = now;
        if (const std::string* end = r.param("end")) {
            auto e = parse_time_param(*end, now);
            if (!e.ok()) return Response::error(400, "end: " + e.message());
            req.end_ns = *e;
        }
        if (req.end_ns <= req.start_ns) return Response::error(400, "end: must be after start");
        if (const std::string* p = r.param("points")) {
            char* endp = nullptr;
            long v = std::strtol(p->c_str(), &endp, 10);
            if (p->empty() || *endp || v < 1 || v > max_points)
                return Response::error(400, "points: must be an integer in 1.." + std::to_string(max_points) +
                                                ", got '" + *p + "'");
            req.points = static_cast<int>(v);
        }
        if (req.end_ns - req.start_ns < req.points)
            return Response::error(400, "points: more tiles than nanoseconds in [start, end)");
        // A query can read blocks for a while (summaries computed on first need): it runs on
        // the server's worker pool, so the io threads (and the stripchart's WebSockets) never wait.
        return Response::later([engine, req] {
            SeriesAnswer answer;
            QueryError err;
            if (!engine->query(req, answer, err)) {
                int status = err.kind == ErrorKind::not_found ? 404 : err.kind == ErrorKind::bad_request ? 400 : 500;
                return Response::error(status, err.message);
            }
            return answer_json(req, answer);
        });
    });
    return engine;
}

}  // namespace speeddata::history
