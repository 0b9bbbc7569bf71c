#include "core/decimate/decimator.hpp"

#include <cmath>
#include <limits>

namespace speeddata::decimate {

using config::DecimationAlgorithm;

Result<Decimator> Decimator::create(const avro::Schema& schema, int time_field,
                                    DecimationAlgorithm algorithm, int factor) {
    if (schema.root().type != avro::Type::record)
        return Status::error("decimation needs a record schema");
    if (factor < 1) return Status::error("decimation factor must be >= 1");
    Decimator d;
    d.algorithm_ = algorithm;
    d.factor_ = factor;
    d.time_field_ = time_field;
    const auto& fields = schema.root().fields;
    d.kinds_.resize(fields.size(), Kind::other);
    d.acc_.resize(fields.size());
    for (size_t i = 0; i < fields.size(); ++i) {
        switch (schema.node(fields[i].type).type) {
            case avro::Type::int_type: d.kinds_[i] = Kind::int_field; break;
            case avro::Type::long_type: d.kinds_[i] = Kind::long_field; break;
            case avro::Type::float_type: d.kinds_[i] = Kind::float_field; break;
            case avro::Type::double_type: d.kinds_[i] = Kind::double_field; break;
            default: break;
        }
    }
    if (time_field >= 0) {
        d.time_kind_ = d.kinds_[static_cast<size_t>(time_field)];
        d.kinds_[static_cast<size_t>(time_field)] = Kind::other;  // aggregated separately
    }
    return d;
}

int Decimator::outputs_per_window() const {
    return algorithm_ == DecimationAlgorithm::minmax && factor_ > 1 ? 2 : 1;
}

namespace {

int64_t read_int(const uint8_t* p, size_t n) {
    int64_t v = 0;
    avro::read_long(p, p + n, v);
    return v;
}

double read_real(const uint8_t* p, bool is_float) {
    return is_float ? static_cast<double>(avro::read_float(p)) : avro::read_double(p);
}

// Rounds sum/n to nearest, half away from zero, exactly for any int64 inputs.
int64_t rounded_mean(int128_t sum, uint64_t n) {
    int128_t q = sum / static_cast<int128_t>(n);
    int128_t r = sum % static_cast<int128_t>(n);
    if (2 * (r < 0 ? -r : r) >= static_cast<int128_t>(n)) q += sum < 0 ? -1 : 1;
    return static_cast<int64_t>(q);
}

}  // namespace

int Decimator::push(const uint8_t* datum, size_t size, const avro::FieldSpan* spans, std::string& out) {
    if (factor_ == 1) {
        out.append(reinterpret_cast<const char*>(datum), size);
        return 1;
    }
    if (algorithm_ == DecimationAlgorithm::downsample) {
        bool first = seen_ == 0;
        seen_ = (seen_ + 1) % static_cast<uint64_t>(factor_);
        if (!first) return 0;
        out.append(reinterpret_cast<const char*>(datum), size);
        return 1;
    }

    // Accumulate.
    const bool first = seen_ == 0;
    for (size_t i = 0; i < kinds_.size(); ++i) {
        Kind k = kinds_[i];
        if (k == Kind::other) continue;
        Acc& a = acc_[i];
        const uint8_t* p = datum + spans[i].offset;
        if (k == Kind::int_field || k == Kind::long_field) {
            int64_t v = read_int(p, spans[i].length);
            if (first) { a.isum = 0; a.sumsq = 0; a.imin = a.imax = v; a.min_at = a.max_at = 0; }
            a.isum += v;
            a.sumsq += static_cast<long double>(v) * v;
            if (v < a.imin) { a.imin = v; a.min_at = seen_; }
            if (v > a.imax) { a.imax = v; a.max_at = seen_; }
        } else {
            double v = read_real(p, k == Kind::float_field);
            if (first) { a.fsum = 0; a.sumsq = 0; a.fmin = a.fmax = v; a.min_at = a.max_at = 0; }
            a.fsum += v;
            a.sumsq += static_cast<long double>(v) * v;
            if (v < a.fmin) { a.fmin = v; a.min_at = seen_; }
            if (v > a.fmax) { a.fmax = v; a.max_at = seen_; }
        }
    }
    if (first && time_field_ >= 0) {
        const auto& s = spans[time_field_];
        if (time_kind_ == Kind::int_field || time_kind_ == Kind::long_field)
            first_time_i_ = read_int(datum + s.offset, s.length);
        else if (time_kind_ != Kind::other)
            first_time_f_ = read_real(datum + s.offset, time_kind_ == Kind::float_field);
    }
    if (++seen_ < static_cast<uint64_t>(factor_)) return 0;

    // The window is complete: this datum is its last record.
    int emitted = 0;
    if (algorithm_ == DecimationAlgorithm::minmax) {
        for (int which = 0; which < 2; ++which) {
            for (size_t i = 0; i < kinds_.size(); ++i) encode_field(i, datum, spans, which, out);
            ++emitted;
        }
    } else {
        for (size_t i = 0; i < kinds_.size(); ++i) encode_field(i, datum, spans, 0, out);
        emitted = 1;
    }
    seen_ = 0;
    return emitted;
}

// Writes field i of an output record. which (minmax only): 0 = the window's first output
// record, 1 = its second. Per field, the first record carries whichever extreme occurred
// first in the window, so a line through the points rises where the signal rose.
void Decimator::encode_field(size_t i, const uint8_t* datum, const avro::FieldSpan* spans, int which,
                             std::string& out) const {
    const auto n = static_cast<uint64_t>(factor_);
    const avro::FieldSpan& s = spans[i];
    if (static_cast<int>(i) == time_field_ && time_kind_ != Kind::other) {
        bool is_int = time_kind_ == Kind::int_field || time_kind_ == Kind::long_field;
        if (is_int) {
            int64_t last = read_int(datum + s.offset, s.length);
            int64_t t = algorithm_ == DecimationAlgorithm::minmax
                            ? (which == 0 ? first_time_i_ : last)
                            : first_time_i_ + (last - first_time_i_) / 2;
            avro::append_long(out, t);
        } else {
            double last = read_real(datum + s.offset, time_kind_ == Kind::float_field);
            double t = algorithm_ == DecimationAlgorithm::minmax
                           ? (which == 0 ? first_time_f_ : last)
                           : first_time_f_ + (last - first_time_f_) / 2;
            if (time_kind_ == Kind::float_field) avro::append_float(out, static_cast<float>(t));
            else avro::append_double(out, t);
        }
        return;
    }
    const Kind k = kinds_[i];
    if (k == Kind::other) {
        out.append(reinterpret_cast<const char*>(datum + s.offset), s.length);
        return;
    }
    const Acc& a = acc_[i];
    if (k == Kind::int_field || k == Kind::long_field) {
        int64_t v = 0;
        switch (algorithm_) {
            case DecimationAlgorithm::average: v = rounded_mean(a.isum, n); break;
            case DecimationAlgorithm::rms:
                v = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(a.sumsq / n))));
                break;
            case DecimationAlgorithm::minmax: v = (which == 0) == a.min_first() ? a.imin : a.imax; break;
            case DecimationAlgorithm::downsample: break;
        }
        if (k == Kind::int_field) {
            v = std::min<int64_t>(std::max<int64_t>(v, std::numeric_limits<int32_t>::min()),
                                  std::numeric_limits<int32_t>::max());
        }
        avro::append_long(out, v);
    } else {
        double v = 0;
        switch (algorithm_) {
            case DecimationAlgorithm::average: v = a.fsum / static_cast<double>(n); break;
            case DecimationAlgorithm::rms: v = std::sqrt(static_cast<double>(a.sumsq / n)); break;
            case DecimationAlgorithm::minmax: v = (which == 0) == a.min_first() ? a.fmin : a.fmax; break;
            case DecimationAlgorithm::downsample: break;
        }
        if (k == Kind::float_field) avro::append_float(out, static_cast<float>(v));
        else avro::append_double(out, v);
    }
}

}  // namespace speeddata::decimate
