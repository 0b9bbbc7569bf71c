#include "pivot/request.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "core/time.hpp"

namespace speeddata::pivot {

Result<ExportRequest> parse_export_params(const ParamGetter& get, const config::PivotConfig& cfg, int64_t now) {
    ExportRequest req;
    auto start = get("start");
    if (!start || start->empty())
        return Status::invalid("start: required (ISO 8601 with a zone, e.g. 2025-01-23T14:00:00Z, or now-30s)");
    auto s = speeddata::parse_time(*start, now);
    if (!s.ok()) return Status::invalid("start: " + s.message());
    req.start_ns = *s;
    auto end = get("end");
    auto duration = get("duration");
    const char* range_param = "duration";
    if (end && !end->empty()) {
        range_param = "end";
        auto e = speeddata::parse_time(*end, now);
        if (!e.ok()) return Status::invalid("end: " + e.message());
        req.end_ns = *e;
    } else if (duration && !duration->empty()) {
        auto d = parse_duration_ns(*duration);
        if (!d.ok()) return Status::invalid("duration: " + d.message());
        if (__builtin_add_overflow(req.start_ns, *d, &req.end_ns))
            return Status::invalid("duration: start + duration is past 2262-04-11, the last time int64 ns can hold");
    } else {
        range_param = "end";
        req.end_ns = now;
    }
    if (req.end_ns <= req.start_ns)
        return Status::invalid(std::string(range_param) + ": the range must end after start (start " +
                               format_iso8601(req.start_ns) + ", end " + format_iso8601(req.end_ns) + ")");
    auto channels = get("channels");
    if (!channels) return Status::invalid("channels: required, e.g. channels=example");
    req.channels = split_list(*channels);
    if (req.channels.empty()) return Status::invalid("channels: at least one channel is required");
    if (auto sig = get("signals")) req.signals = split_list(*sig);
    if (auto dec = get("decimate")) {
        char* endp = nullptr;
        errno = 0;
        const long long v = std::strtoll(dec->c_str(), &endp, 10);
        if (dec->empty() || *endp || errno || v < 1 || v > 1000000000)
            return Status::invalid("decimate: must be an integer 1..1000000000, got '" + *dec + "'");
        req.decimation.factor = static_cast<int>(v);
    }
    if (auto alg = get("algorithm")) {
        auto a = config::parse_algorithm(*alg);
        if (!a.ok()) return Status::invalid("algorithm: " + a.message());
        req.decimation.algorithm = *a;
    }
    if (static_cast<int64_t>(req.channels.size()) > cfg.max_channels)
        return Status::too_large("channels: " + std::to_string(req.channels.size()) +
                                 " channels requested; the limit is " + std::to_string(cfg.max_channels) +
                                 " (limits.max_channels in pivot.yaml)");
    // end > start, both int64: the difference can still pass INT64_MAX (1677 .. 2262).
    int64_t span = 0;
    const bool huge = __builtin_sub_overflow(req.end_ns, req.start_ns, &span);
    const int64_t max_ns = static_cast<int64_t>(cfg.max_duration.count()) * 1000000000LL;
    if (huge || span > max_ns) {
        char buf[64];
        const double secs = huge ? (static_cast<double>(req.end_ns) - static_cast<double>(req.start_ns)) / 1e9
                                 : static_cast<double>(span) / 1e9;
        std::snprintf(buf, sizeof buf, "%.3f", secs);
        return Status::too_large(std::string(range_param) + ": the range is " + buf + " s; the limit is " +
                                 std::to_string(cfg.max_duration.count()) + " s (limits.max_duration in pivot.yaml)");
    }
    return req;
}

}  // namespace speeddata::pivot
