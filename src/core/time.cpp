#include "core/time.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace speeddata {

std::string_view time_unit_name(TimeUnit u) {
    switch (u) {
        case TimeUnit::ns: return "ns";
        case TimeUnit::us: return "us";
        case TimeUnit::ms: return "ms";
        case TimeUnit::s: return "s";
        case TimeUnit::unknown: break;
    }
    return "";
}

TimeUnit parse_time_unit(std::string_view n) {
    if (n == "ns") return TimeUnit::ns;
    if (n == "us") return TimeUnit::us;
    if (n == "ms") return TimeUnit::ms;
    if (n == "s") return TimeUnit::s;
    return TimeUnit::unknown;
}

TimeUnit time_unit_of(const avro::Node& t, std::string_view configured) {
    using L = avro::LogicalType;
    switch (t.logical) {
        case L::timestamp_nanos: case L::local_timestamp_nanos: return TimeUnit::ns;
        case L::timestamp_micros: case L::local_timestamp_micros: return TimeUnit::us;
        case L::timestamp_millis: case L::local_timestamp_millis: return TimeUnit::ms;
        default: break;
    }
    return parse_time_unit(configured);
}

TimeUnit infer_time_unit(double v) {
    double a = std::fabs(v);
    if (a > 1e17) return TimeUnit::ns;
    if (a > 1e14) return TimeUnit::us;
    if (a > 1e11) return TimeUnit::ms;
    return TimeUnit::s;
}

int64_t to_ns(int64_t v, TimeUnit u) {
    if (u == TimeUnit::unknown) u = infer_time_unit(static_cast<double>(v));
    switch (u) {
        case TimeUnit::ns: return v;
        case TimeUnit::us: return v * 1000;
        case TimeUnit::ms: return v * 1000000;
        case TimeUnit::s: return v * 1000000000;
        case TimeUnit::unknown: break;
    }
    return v;
}

int64_t to_ns(double v, TimeUnit u) {
    if (u == TimeUnit::unknown) u = infer_time_unit(v);
    double scale = u == TimeUnit::ns ? 1.0 : u == TimeUnit::us ? 1e3 : u == TimeUnit::ms ? 1e6 : 1e9;
    return static_cast<int64_t>(std::llround(v * scale));
}

int64_t now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

static void split(int64_t ns, std::tm& tm, int64_t& frac) {
    int64_t sec = ns / 1000000000;
    frac = ns % 1000000000;
    if (frac < 0) { frac += 1000000000; --sec; }
    time_t t = static_cast<time_t>(sec);
    ::gmtime_r(&t, &tm);
}

std::string format_iso8601(int64_t ns) {
    std::tm tm{};
    int64_t frac = 0;
    split(ns, tm, frac);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string out(buf, n);
    if (frac != 0) {
        char f[16];
        if (frac % 1000000 == 0) std::snprintf(f, sizeof f, ".%03lld", static_cast<long long>(frac / 1000000));
        else if (frac % 1000 == 0) std::snprintf(f, sizeof f, ".%06lld", static_cast<long long>(frac / 1000));
        else std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
        out += f;
    }
    out += 'Z';
    return out;
}

std::string format_file_stamp(int64_t ns) {
    std::tm tm{};
    int64_t frac = 0;
    split(ns, tm, frac);
    char buf[64];
    size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
    char f[16];
    std::snprintf(f, sizeof f, ".%03lldZ", static_cast<long long>(frac / 1000000));
    return std::string(buf, n) + f;
}

}  // namespace speeddata
