#include "relay/datagram_check.hpp"

#include <algorithm>

namespace speeddata::relay {

namespace {

Malformed to_malformed(avro::DecodeError e) {
    switch (e) {
        case avro::DecodeError::truncated: return Malformed::truncated;
        case avro::DecodeError::bad_varint: return Malformed::bad_varint;
        case avro::DecodeError::negative_length: return Malformed::negative_length;
        case avro::DecodeError::bad_union_index: return Malformed::bad_union_index;
        case avro::DecodeError::bad_enum_index: return Malformed::bad_enum_index;
        case avro::DecodeError::bad_boolean: return Malformed::bad_boolean;
        case avro::DecodeError::too_deep: return Malformed::too_deep;
        case avro::DecodeError::too_large: return Malformed::too_large;
        case avro::DecodeError::bad_utf8: return Malformed::bad_utf8;
        case avro::DecodeError::none: break;
    }
    return Malformed::truncated;
}

}  // namespace

Result<DatagramChecker> DatagramChecker::create(const avro::Schema& schema, int time_field, TimeUnit unit,
                                                size_t max_datagram_bytes) {
    if (schema.root().type != avro::Type::record) return Status::error("a channel's schema must be a record");
    DatagramChecker c;
    c.validator_ = std::make_unique<avro::Validator>(schema);
    c.spans_.resize(c.validator_->field_count());
    c.time_field_ = time_field;
    c.time_unit_ = unit;
    c.max_datagram_bytes_ = max_datagram_bytes;
    if (time_field >= 0) {
        const auto& t = schema.node(schema.root().fields.at(static_cast<size_t>(time_field)).type);
        switch (t.type) {
            case avro::Type::int_type: case avro::Type::long_type: c.time_kind_ = TimeKind::integer; break;
            case avro::Type::float_type: c.time_kind_ = TimeKind::f32; break;
            case avro::Type::double_type: c.time_kind_ = TimeKind::f64; break;
            default: return Status::error("the time field must be int, long, float or double");
        }
    }
    return c;
}

int64_t DatagramChecker::datum_time_ns(const uint8_t* datum, const avro::FieldSpan* spans) const {
    const auto& s = spans[static_cast<size_t>(time_field_)];
    switch (time_kind_) {
        case TimeKind::integer: {
            int64_t v = 0;
            avro::read_long(datum + s.offset, datum + s.offset + s.length, v);
            return to_ns(v, time_unit_);
        }
        case TimeKind::f32: return to_ns(static_cast<double>(avro::read_float(datum + s.offset)), time_unit_);
        case TimeKind::f64: return to_ns(avro::read_double(datum + s.offset), time_unit_);
        case TimeKind::none: break;
    }
    return 0;
}

DatagramCheck DatagramChecker::check(const uint8_t* p, size_t len, bool truncated) {
    DatagramCheck r;
    if (truncated || len > max_datagram_bytes_) {
        r.why = Malformed::oversized;
        return r;
    }
    if (len == 0) {
        r.why = Malformed::empty;
        return r;
    }
    size_t off = 0;
    while (off < len) {
        auto v = validator_->validate(p + off, len - off, spans_.data());
        if (!v.ok()) {
            r.why = to_malformed(v.error);
            r.where = off + v.error_offset;
            r.records = 0;
            return r;
        }
        if (time_kind_ != TimeKind::none) {
            int64_t t = datum_time_ns(p + off, spans_.data());
            r.min_ns = std::min(r.min_ns, t);
            r.max_ns = std::max(r.max_ns, t);
        }
        off += v.consumed;
        ++r.records;
    }
    r.ok = true;
    return r;
}

DatagramCheck DatagramChecker::check(const uint8_t* p, size_t len, bool truncated, CheckedBatch& batch) {
    DatagramCheck r;
    if (truncated || len > max_datagram_bytes_) {
        r.why = Malformed::oversized;
        return r;
    }
    if (len == 0) {
        r.why = Malformed::empty;
        return r;
    }
    const size_t fc = spans_.size();
    const size_t first = batch.datums.size();
    batch.field_count = fc;
    size_t off = 0;
    while (off < len) {
        // The spans go straight into the batch, where the decimator reads them.
        const size_t at = batch.spans.size();
        batch.spans.resize(at + fc);
        avro::FieldSpan* spans = batch.spans.data() + at;
        auto v = validator_->validate(p + off, len - off, spans);
        if (!v.ok()) {
            r.why = to_malformed(v.error);
            r.where = off + v.error_offset;
            r.records = 0;
            batch.datums.resize(first);
            batch.spans.resize(first * fc);
            return r;
        }
        if (time_kind_ != TimeKind::none) {
            int64_t t = datum_time_ns(p + off, spans);
            r.min_ns = std::min(r.min_ns, t);
            r.max_ns = std::max(r.max_ns, t);
        }
        batch.datums.push_back({static_cast<uint32_t>(off), static_cast<uint32_t>(v.consumed)});
        off += v.consumed;
        ++r.records;
    }
    batch.datagrams.push_back({p, static_cast<uint32_t>(len), static_cast<uint32_t>(r.records),
                               static_cast<uint32_t>(first)});
    r.ok = true;
    return r;
}

}  // namespace speeddata::relay
