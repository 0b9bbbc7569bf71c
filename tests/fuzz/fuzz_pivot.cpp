// Fuzz target: the pivot's query parameters. Times (speeddata::parse_time, core/time.hpp),
// durations (parse_duration_ns), lists (pivot::split_list), and the whole check of an export
// request (pivot::parse_export_params, pivot/request.hpp) as GET /export, tags and the CLI
// use it. "now" is fixed (2025-01-23T14:00:00Z) so that every run gives the same answers.
// The whole input, and each of its lines, is tried as a time, a duration and a list; lines
// of the form name=value are also the parameters of one export request.
// Properties:
//   * an accepted time formats (format_iso8601) to text that parses back to the same ns; a
//     date alone is its midnight UTC; "now" is now, "now-<d>" is now minus the duration d;
//   * an accepted duration is > 0 ns, and "PT<s>.<9 digits>S" of it parses back to it;
//   * split_list's items are non-empty, trimmed, without ',', and re-split to themselves;
//   * an accepted request has end > start, a span within limits.max_duration, 1..
//     limits.max_channels channels, a factor >= 1, and written back as parameters
//     (format_iso8601, joined lists) it parses to the same request;
//   * nothing overflows (UBSan stops the run on signed overflow).
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "fuzz_check.hpp"
#include "pivot/pivot.hpp"
#include "pivot/request.hpp"

using namespace speeddata;

namespace {

constexpr int64_t now = 1737640800LL * 1000000000LL;  // 2025-01-23T14:00:00Z

std::string shown(const Result<int64_t>& r) { return r.ok() ? std::to_string(*r) : r.message(); }

void check_time(std::string_view text) {
    auto ns = parse_time(text, now);
    if (!ns) {
        FUZZ_CHECK(!ns.message().empty());
        return;
    }
    const std::string formatted = format_iso8601(*ns);
    auto back = parse_time(formatted, now);
    FUZZ_CHECK(back.ok() && *back == *ns, std::string(text) + " -> " + std::to_string(*ns) + " -> " + formatted +
                                              " -> " + shown(back));
    if (text.size() == 10 && text[4] == '-') {  // YYYY-MM-DD
        auto midnight = parse_time(std::string(text) + "T00:00:00Z", now);
        FUZZ_CHECK(midnight.ok() && *midnight == *ns, std::string(text) + ": " + shown(midnight));
    }
    if (text == "now") FUZZ_CHECK(*ns == now);
    if (text.size() > 4 && text.substr(0, 4) == "now-") {
        auto d = parse_duration_ns(text.substr(4));
        FUZZ_CHECK(d.ok() && *ns == now - *d, std::string(text) + ": " + shown(d));
    }
}

void check_duration(std::string_view text) {
    auto ns = parse_duration_ns(text);
    if (!ns) {
        FUZZ_CHECK(!ns.message().empty());
        return;
    }
    FUZZ_CHECK(*ns > 0, std::string(text) + " -> " + std::to_string(*ns));
    char buf[64];
    std::snprintf(buf, sizeof buf, "PT%lld.%09lldS", static_cast<long long>(*ns / 1000000000),
                  static_cast<long long>(*ns % 1000000000));
    auto back = parse_duration_ns(buf);
    FUZZ_CHECK(back.ok() && *back == *ns,
               std::string(text) + " -> " + std::to_string(*ns) + " -> " + buf + " -> " + shown(back));
    auto wrapped = pivot::parse_iso_duration(text);
    FUZZ_CHECK(wrapped.ok() && *wrapped == *ns);
}

std::string joined(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
    return out;
}

void check_list(std::string_view text) {
    const std::vector<std::string> items = pivot::split_list(text);
    for (const std::string& item : items) {
        FUZZ_CHECK(!item.empty());
        FUZZ_CHECK(item.find(',') == std::string::npos);
        FUZZ_CHECK(item.front() != ' ' && item.back() != ' ', "'" + item + "'");
    }
    FUZZ_CHECK(pivot::split_list(joined(items)) == items, joined(items));
}

void check_all(std::string_view text) {
    check_time(text);
    check_duration(text);
    check_list(text);
}

void check_request(const std::map<std::string, std::string>& params) {
    config::PivotConfig cfg;  // the built-in limits: 20 channels, 300 s
    const auto getter = [&](const std::map<std::string, std::string>& m) {
        return [&m](const char* name) -> std::optional<std::string> {
            const auto it = m.find(name);
            if (it == m.end()) return std::nullopt;
            return it->second;
        };
    };
    auto req = pivot::parse_export_params(getter(params), cfg, now);
    if (!req) {
        FUZZ_CHECK(!req.message().empty());
        return;
    }
    FUZZ_CHECK(req->end_ns > req->start_ns);
    FUZZ_CHECK(req->end_ns - req->start_ns <= static_cast<int64_t>(cfg.max_duration.count()) * 1000000000LL);
    FUZZ_CHECK(!req->channels.empty() && static_cast<int64_t>(req->channels.size()) <= cfg.max_channels);
    FUZZ_CHECK(req->decimation.factor >= 1);
    const std::map<std::string, std::string> written = {
        {"start", format_iso8601(req->start_ns)},
        {"end", format_iso8601(req->end_ns)},
        {"channels", joined(req->channels)},
        {"signals", joined(req->signals)},
        {"decimate", std::to_string(req->decimation.factor)},
        {"algorithm", std::string(config::algorithm_name(req->decimation.algorithm))}};
    auto again = pivot::parse_export_params(getter(written), cfg, now);
    FUZZ_CHECK(again.ok(), written.at("start") + " .. " + written.at("end") + ": " + again.message());
    FUZZ_CHECK(again->start_ns == req->start_ns && again->end_ns == req->end_ns);
    FUZZ_CHECK(again->channels == req->channels && again->signals == req->signals);
    FUZZ_CHECK(again->decimation.factor == req->decimation.factor &&
               again->decimation.algorithm == req->decimation.algorithm);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text = fuzz::text_of(data, size);
    check_all(text);
    if (text.find('\n') == std::string_view::npos && text.find('=') == std::string_view::npos) return 0;
    std::map<std::string, std::string> params;
    for (size_t begin = 0; begin <= text.size();) {
        size_t end = text.find('\n', begin);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(begin, end - begin);
        check_all(line);
        if (const size_t eq = line.find('='); eq != std::string_view::npos)
            params[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
        begin = end + 1;
    }
    if (!params.empty()) check_request(params);
    return 0;
}
