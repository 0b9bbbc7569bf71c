// Text forms of durations, sizes, decimation algorithms and codecs.
#include <array>
#include <cctype>
#include <optional>
#include <string>

#include "core/config/config.hpp"
#include "core/config/options.hpp"

namespace speeddata::config {

namespace {

// A non-negative decimal "123" or "1.5" split into exact integers, so that "1.5GB" is exactly
// 1500000000 bytes without floating-point rounding.
struct Decimal {
    uint64_t whole = 0;
    uint64_t frac = 0;      // the digits after the point as an integer
    uint64_t frac_scale = 1;  // 10^(number of those digits)
};

// Parses the leading decimal of text into out; returns the rest (the unit), or nullopt when
// there is no number or it has too many digits to be exact.
std::optional<std::string_view> parse_decimal(std::string_view text, Decimal& out) {
    size_t i = 0;
    bool any = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        if (out.whole > (UINT64_MAX - 9) / 10) return std::nullopt;
        out.whole = out.whole * 10 + static_cast<uint64_t>(text[i] - '0');
        ++i;
        any = true;
    }
    if (i < text.size() && text[i] == '.') {
        ++i;
        int digits = 0;
        while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
            // Six fractional digits are plenty and keep frac * unit inside 64 bits.
            if (++digits > 6) return std::nullopt;
            out.frac = out.frac * 10 + static_cast<uint64_t>(text[i] - '0');
            out.frac_scale *= 10;
            ++i;
            any = true;
        }
    }
    if (!any) return std::nullopt;
    while (i < text.size() && text[i] == ' ') ++i;  // "30 s" reads like "30s"
    return text.substr(i);
}

// value * unit exactly, or nullopt on overflow or when the result is not a whole number.
std::optional<uint64_t> scale(const Decimal& d, uint64_t unit) {
    uint64_t whole = 0;
    if (__builtin_mul_overflow(d.whole, unit, &whole)) return std::nullopt;
    const uint64_t frac = d.frac * unit;  // < 10^6 * 2^50: no overflow
    if (frac % d.frac_scale != 0) return std::nullopt;
    uint64_t total = 0;
    if (__builtin_add_overflow(whole, frac / d.frac_scale, &total)) return std::nullopt;
    return total;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

}  // namespace

// Accepts "<number><unit>" with unit ms, s, m, h, d, or a plain number of seconds; the result
// must be a whole number of milliseconds and fit comfortably (at most ~3000 years).
Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    const std::string_view t = trim(text);
    const auto bad = [&] {
        return Status::error("expected a duration like 250ms, 30s, 5m, 1h, 7d or a number of seconds, got " +
                             detail::quote(text));
    };
    Decimal d;
    const auto unit = parse_decimal(t, d);
    if (!unit) return bad();
    uint64_t ms_per_unit = 0;
    if (*unit == "ms") ms_per_unit = 1;
    else if (unit->empty() || *unit == "s") ms_per_unit = 1000;
    else if (*unit == "m") ms_per_unit = 60'000;
    else if (*unit == "h") ms_per_unit = 3'600'000;
    else if (*unit == "d") ms_per_unit = 86'400'000;
    else return bad();
    const auto ms = scale(d, ms_per_unit);
    if (!ms) {
        return Status::error("expected a duration in whole milliseconds, got " + detail::quote(text));
    }
    if (*ms > 100'000'000'000'000ULL) return Status::error("duration too long: " + detail::quote(text));
    return std::chrono::milliseconds(static_cast<int64_t>(*ms));
}

// Accepts a plain number of bytes or a number with a unit: k/K/kB/KB (1000), KiB (1024),
// M/MB, MiB, G/GB, GiB, T/TB, TiB (case-insensitive, the trailing "B" optional); the result
// must be a whole number of bytes.
Result<uint64_t> parse_size(std::string_view text) {
    const std::string_view t = trim(text);
    const auto bad = [&] {
        return Status::error("expected a size like 4096, 64KiB, 8MiB, 2GiB, 1.5GB or 10k, got " +
                             detail::quote(text));
    };
    Decimal d;
    const auto unit_text = parse_decimal(t, d);
    if (!unit_text) return bad();
    std::string unit;
    for (char c : *unit_text) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!unit.empty() && unit.back() == 'b') unit.pop_back();
    uint64_t mult = 0;
    if (unit.empty()) mult = 1;
    else if (unit == "k") mult = 1000ULL;
    else if (unit == "ki") mult = 1ULL << 10;
    else if (unit == "m") mult = 1000'000ULL;
    else if (unit == "mi") mult = 1ULL << 20;
    else if (unit == "g") mult = 1000'000'000ULL;
    else if (unit == "gi") mult = 1ULL << 30;
    else if (unit == "t") mult = 1000'000'000'000ULL;
    else if (unit == "ti") mult = 1ULL << 40;
    else return bad();
    const auto bytes = scale(d, mult);
    if (!bytes) return Status::error("expected a size in whole bytes, got " + detail::quote(text));
    return *bytes;
}

// The largest unit that divides d exactly, so the text reads back to the same value.
std::string format_duration(std::chrono::milliseconds d) {
    const int64_t ms = d.count();
    if (ms == 0) return "0";
    static constexpr std::array<std::pair<int64_t, const char*>, 4> units{
        {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}}};
    for (const auto& [per, name] : units) {
        if (ms % per == 0) return std::to_string(ms / per) + name;
    }
    return std::to_string(ms) + "ms";
}

// Binary units only (the exact ones); other sizes as plain byte counts.
std::string format_size(uint64_t bytes) {
    if (bytes == 0) return "0";
    static constexpr std::array<std::pair<uint64_t, const char*>, 4> units{
        {{1ULL << 40, "TiB"}, {1ULL << 30, "GiB"}, {1ULL << 20, "MiB"}, {1ULL << 10, "KiB"}}};
    for (const auto& [per, name] : units) {
        if (bytes % per == 0) return std::to_string(bytes / per) + name;
    }
    return std::to_string(bytes);
}

Result<DecimationAlgorithm> parse_algorithm(std::string_view name) {
    if (name == "downsample") return DecimationAlgorithm::downsample;
    if (name == "average") return DecimationAlgorithm::average;
    if (name == "minmax" || name == "min-max") return DecimationAlgorithm::minmax;
    if (name == "rms") return DecimationAlgorithm::rms;
    return Status::error("expected one of downsample, average, minmax, rms, got " + detail::quote(name));
}

std::string_view algorithm_name(DecimationAlgorithm a) {
    switch (a) {
        case DecimationAlgorithm::downsample: return "downsample";
        case DecimationAlgorithm::average: return "average";
        case DecimationAlgorithm::minmax: return "minmax";
        case DecimationAlgorithm::rms: return "rms";
    }
    return "?";
}

Result<StreamFormat> parse_stream_format(std::string_view name) {
    if (name == "speeddata") return StreamFormat::speeddata;
    if (name == "raw") return StreamFormat::raw;
    return Status::error("expected one of speeddata, raw, got " + detail::quote(name));
}

std::string_view stream_format_name(StreamFormat f) {
    return f == StreamFormat::raw ? "raw" : "speeddata";
}

Result<avro::Codec> parse_codec_name(std::string_view name) {
    if (name == "null" || name == "none") return avro::Codec::null_codec;
    if (name == "deflate") return avro::Codec::deflate;
    if (name == "snappy") return avro::Codec::snappy;
    if (name == "zstandard" || name == "zstd") return avro::Codec::zstandard;
    return Status::error("expected one of null, deflate, snappy, zstandard, got " + detail::quote(name));
}

std::string_view codec_config_name(avro::Codec c) {
    switch (c) {
        case avro::Codec::null_codec: return "null";
        case avro::Codec::deflate: return "deflate";
        case avro::Codec::snappy: return "snappy";
        case avro::Codec::zstandard: return "zstandard";
    }
    return "?";
}

}  // namespace speeddata::config
