// Relay-side decimation of a channel's records for the decimated multicast stream.
//
// Records are grouped into consecutive windows of `factor` records (counted from the start
// of the relay process). Numeric fields are the top-level fields of type int, long, float
// and double other than the time field; every other field (strings, booleans, enums,
// unions, nested records, arrays...) carries the value of the window's LAST record.
//
//   downsample  the first record of each window, verbatim (records 0, N, 2N, ...); it is
//               sent as soon as it arrives, so a slow channel is never held back.
//   average     one record per window: the arithmetic mean of each numeric field; int and
//               long fields are rounded to nearest (half away from zero).
//               Time: the midpoint of the window's first and last time stamps.
//   rms         one record per window: sqrt(mean(x^2)) of each numeric field (rounded for
//               int/long). Time: the midpoint, as for average.
//   minmax      two records per window, time stamped with the window's first and its last
//               record's time. Per numeric field, the first record holds the extreme (min
//               or max) that occurred first in the window and the second the other one
//               (the first occurrence of each extreme counts; a constant window gives the
//               value twice). So a line through the points rises where the signal rose and
//               falls where it fell, and time never goes backwards. Fields are ordered
//               independently: in one record, one field may hold its max, another its min.
//
// With factor 1 every record passes through unchanged whatever the algorithm. A window
// that is not complete when the relay stops is not emitted.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/config/config.hpp"

namespace speeddata::decimate {

__extension__ typedef __int128 int128_t;  // exact sums of int64 values

class Decimator {
public:
    // time_field: index of the record's time field, or -1 when there is none.
    // Errors when the root is not a record or factor < 1.
    static Result<Decimator> create(const avro::Schema& schema, int time_field,
                                    config::DecimationAlgorithm algorithm, int factor);

    // Feeds one valid datum (spans from avro::Validator::validate). Appends 0, 1 or 2
    // output datums to out and returns how many. No allocation once out has capacity.
    int push(const uint8_t* datum, size_t size, const avro::FieldSpan* spans, std::string& out);

    // Records emitted per completed window (2 for minmax, else 1).
    int outputs_per_window() const;
    int factor() const { return factor_; }
    config::DecimationAlgorithm algorithm() const { return algorithm_; }

private:
    enum class Kind : uint8_t { other, int_field, long_field, float_field, double_field };
    struct Acc {
        int128_t isum = 0;
        double fsum = 0;
        long double sumsq = 0;
        int64_t imin = 0, imax = 0;
        double fmin = 0, fmax = 0;
        uint64_t min_at = 0, max_at = 0;  // position in the window of the first min / first max
        bool min_first() const { return min_at <= max_at; }
    };
    Decimator() = default;
    void encode_field(size_t i, const uint8_t* datum, const avro::FieldSpan* spans, int which,
                      std::string& out) const;

    config::DecimationAlgorithm algorithm_{};
    int factor_ = 1;
    int time_field_ = -1;
    Kind time_kind_ = Kind::other;
    std::vector<Kind> kinds_;
    std::vector<Acc> acc_;
    uint64_t seen_ = 0;  // records in the current window
    int64_t first_time_i_ = 0;
    double first_time_f_ = 0;
};

}  // namespace speeddata::decimate
