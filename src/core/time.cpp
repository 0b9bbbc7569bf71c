#include "core/time.hpp"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "core/config/config.hpp"

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

int64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
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

std::string format_iso8601_seconds(int64_t ns) {
    std::tm tm{};
    int64_t frac = 0;
    split(ns, tm, frac);
    char buf[64];
    const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf, n);
}

void append_iso8601_ms(std::string& out, int64_t ns) {
    std::tm tm{};
    int64_t frac = 0;
    split(ns, tm, frac);
    char buf[48];
    const int k = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(frac / 1000000));
    if (k > 0) out.append(buf, static_cast<size_t>(k));
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

// ---- parsing ------------------------------------------------------------------------------

namespace {

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Cursor {
    std::string_view s;
    size_t i = 0;
    bool digits(int n, int& out) {
        out = 0;
        for (int k = 0; k < n; ++k) {
            if (i >= s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return false;
            out = out * 10 + (s[i++] - '0');
        }
        return true;
    }
    bool eat(char c) {
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    bool done() const { return i >= s.size(); }
};

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

Result<int64_t> parse_absolute(std::string_view text) {
    auto bad = [&]() {
        return Status::invalid("'" + std::string(text) +
                               "' is not an ISO 8601 time (expected e.g. 2025-01-23T14:00:00Z or "
                               "...T15:00:00+01:00, or a relative time such as now-30s)");
    };
    Cursor c{text};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
    if (!c.digits(4, y) || !c.eat('-') || !c.digits(2, mo) || !c.eat('-') || !c.digits(2, d)) return bad();
    static const int month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > month_days[mo - 1] + (mo == 2 && is_leap(y) ? 1 : 0)) return bad();
    int64_t frac_ns = 0;
    int64_t offset_s = 0;
    if (!c.done()) {
        if (!c.eat('T') && !c.eat('t') && !c.eat(' ')) return bad();
        if (!c.digits(2, h) || !c.eat(':') || !c.digits(2, mi)) return bad();
        if (c.eat(':')) {
            if (!c.digits(2, se)) return bad();
            if (c.eat('.') || c.eat(',')) {
                int n = 0;
                int64_t scale = 100000000;
                while (!c.done() && std::isdigit(static_cast<unsigned char>(c.s[c.i]))) {
                    if (n < 9) frac_ns += (c.s[c.i] - '0') * scale;
                    scale /= 10;
                    ++n;
                    ++c.i;
                }
                if (n == 0) return bad();
            }
        }
        if (h > 24 || mi > 59 || se > 60 || (h == 24 && (mi || se || frac_ns))) return bad();
        if (c.eat('Z') || c.eat('z')) {
        } else if (!c.done() && (c.s[c.i] == '+' || c.s[c.i] == '-')) {
            const int sign = c.s[c.i++] == '-' ? -1 : 1;
            int oh = 0, om = 0;
            if (!c.digits(2, oh)) return bad();
            if (c.eat(':')) {
                if (!c.digits(2, om)) return bad();
            } else if (!c.done()) {
                if (!c.digits(2, om)) return bad();
            }
            if (oh > 23 || om > 59) return bad();
            offset_s = sign * (oh * 3600 + om * 60);
        } else if (c.done()) {
            const std::string t(text);
            std::string fixed = t;
            if (fixed.size() > 10 && fixed[10] == ' ') fixed[10] = 'T';
            return Status::invalid("'" + t + "' has no time zone: add Z for UTC (" + fixed + "Z) or an offset (" +
                                   fixed + "+01:00)");
        }
        if (!c.done()) return bad();
    }
    const int64_t secs = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
                         h * 3600 + mi * 60 + se - offset_s;
    // Years 0000..9999 give |secs| < 2.6e11: the multiplication below is what can overflow.
    int64_t ns = 0;
    if (__builtin_mul_overflow(secs, int64_t{1000000000}, &ns) || __builtin_add_overflow(ns, frac_ns, &ns))
        return Status::invalid("'" + std::string(text) +
                               "' is out of range (times are int64 ns since 1970: 1677-09-21 to 2262-04-11)");
    return ns;
}

}  // namespace

Result<int64_t> parse_duration_ns(std::string_view text) {
    auto bad = [&]() {
        return Status::invalid("'" + std::string(text) +
                               "' is not a duration (expected e.g. PT30S, PT1M, PT1H30M, P1D or 30s, 5m, 1h)");
    };
    auto too_long = [&]() {
        return Status::invalid("'" + std::string(text) + "' is too long (at most about 292 years)");
    };
    if (text.empty()) return bad();
    if (text[0] != 'P' && text[0] != 'p') {
        auto d = config::parse_duration(text);
        if (!d.ok() || d->count() <= 0) return bad();
        int64_t ns = 0;
        if (__builtin_mul_overflow(static_cast<int64_t>(d->count()), int64_t{1000000}, &ns)) return too_long();
        return ns;
    }
    // Exact integer arithmetic (floating point lost nanoseconds near the int64 limit): each
    // number is whole units plus a decimal fraction of up to 18 digits, the fraction's
    // nanoseconds rounded to the nearest.
    size_t i = 1;
    bool in_time = false, any = false;
    int64_t total = 0;
    while (i < text.size()) {
        if (text[i] == 'T' || text[i] == 't') {
            if (in_time) return bad();
            in_time = true;
            ++i;
            continue;
        }
        size_t j = i;
        int64_t whole = 0;
        bool digits = false;
        while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) {
            if (__builtin_mul_overflow(whole, int64_t{10}, &whole) ||
                __builtin_add_overflow(whole, int64_t{text[j] - '0'}, &whole))
                return too_long();
            digits = true;
            ++j;
        }
        __extension__ typedef __int128 i128;
        i128 frac = 0, scale = 1;  // the fraction is frac / scale
        if (j < text.size() && (text[j] == '.' || text[j] == ',')) {
            ++j;
            int kept = 0;
            while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) {
                if (kept < 18) {
                    frac = frac * 10 + (text[j] - '0');
                    scale *= 10;
                    ++kept;
                }
                digits = true;
                ++j;
            }
        }
        if (!digits || j >= text.size()) return bad();
        const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(text[j])));
        int64_t unit_ns = 0;
        if (!in_time && u == 'W') unit_ns = 7 * 86400 * 1000000000LL;
        else if (!in_time && u == 'D') unit_ns = 86400 * 1000000000LL;
        else if (in_time && u == 'H') unit_ns = 3600 * 1000000000LL;
        else if (in_time && u == 'M') unit_ns = 60 * 1000000000LL;
        else if (in_time && u == 'S') unit_ns = 1000000000LL;
        else return bad();  // years and months have no fixed length
        int64_t part = 0;
        if (__builtin_mul_overflow(whole, unit_ns, &part)) return too_long();
        const auto frac_ns = static_cast<int64_t>((frac * unit_ns + scale / 2) / scale);  // < unit_ns
        if (__builtin_add_overflow(part, frac_ns, &part) || __builtin_add_overflow(total, part, &total))
            return too_long();
        any = true;
        i = j + 1;
    }
    if (!any || total < 1) return bad();
    return total;
}

Result<int64_t> parse_time(std::string_view text, int64_t now) {
    std::string_view t = text;
    while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    if (t.size() >= 3 && (t.substr(0, 3) == "now" || t.substr(0, 3) == "NOW")) {
        std::string_view rest = t.substr(3);
        if (rest.empty()) return now;
        if (rest.front() != '-' && rest.front() != '+')
            return Status::invalid("'" + std::string(text) + "' is not a relative time (expected now, now-30s, now+5m)");
        const bool minus = rest.front() == '-';
        auto d = parse_duration_ns(rest.substr(1));
        if (!d) return Status::invalid("'" + std::string(text) + "': " + d.message());
        int64_t out = 0;
        if (minus ? __builtin_sub_overflow(now, *d, &out) : __builtin_add_overflow(now, *d, &out))
            return Status::invalid("'" + std::string(text) + "' is out of range");
        return out;
    }
    return parse_absolute(t);
}

}  // namespace speeddata
