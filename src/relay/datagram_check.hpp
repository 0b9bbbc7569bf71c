// Checks one received datagram against the channel's schema before anything is cached or
// sent: every datum valid, the datums ending exactly at the datagram's end, the records'
// time stamps read on the way. A pure function of the bytes, so it is unit-tested alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/time.hpp"
#include "relay/stats.hpp"

namespace speeddata::relay {

struct DatagramCheck {
    bool ok = false;
    uint64_t records = 0;       // datums in the datagram (when ok)
    int64_t min_ns = INT64_MAX; // smallest and largest record time stamp, ns (when ok and the
    int64_t max_ns = INT64_MIN; // channel has a time field)
    Malformed why{};            // when !ok
    size_t where = 0;           // byte offset of the problem (when !ok)
};

// The valid datagrams of one receive batch with each datum's place and field spans, as the
// checker found them: what the multicast streams and the decimator need, so that nothing is
// validated twice. Grows to the largest batch seen, then allocates no more.
struct CheckedBatch {
    struct Datagram {
        const uint8_t* p;
        uint32_t len;
        uint32_t records;
        uint32_t first_datum;  // index into datums
    };
    struct Datum {
        uint32_t offset;  // in its datagram
        uint32_t size;
    };
    std::vector<Datagram> datagrams;
    std::vector<Datum> datums;
    std::vector<avro::FieldSpan> spans;  // field_count per datum, in datum order
    size_t field_count = 0;

    void clear() {
        datagrams.clear();
        datums.clear();
        spans.clear();
    }
    const avro::FieldSpan* spans_of(size_t datum) const { return spans.data() + datum * field_count; }
};

class DatagramChecker {
public:
    // time_field: index of the record's time field, or -1. Fails when the time field is not
    // int, long, float or double, or the schema's root is not a record.
    static Result<DatagramChecker> create(const avro::Schema& schema, int time_field, TimeUnit unit,
                                          size_t max_datagram_bytes);

    // len is the datagram's real length; truncated is true when the receive buffer was too
    // small (MSG_TRUNC). Nothing is kept from a datagram that fails: it is dropped whole.
    DatagramCheck check(const uint8_t* p, size_t len, bool truncated);
    // The same, and a valid datagram is added to batch (with its datums and their spans).
    DatagramCheck check(const uint8_t* p, size_t len, bool truncated, CheckedBatch& batch);

    // The field spans of the last datum checked (valid after a check of a one-datum datagram).
    const avro::FieldSpan* spans() const { return spans_.data(); }
    avro::FieldSpan* spans() { return spans_.data(); }
    const avro::Validator& validator() const { return *validator_; }
    size_t field_count() const { return spans_.size(); }
    bool has_time() const { return time_kind_ != TimeKind::none; }

private:
    enum class TimeKind : uint8_t { none, integer, f32, f64 };
    DatagramChecker() = default;
    int64_t datum_time_ns(const uint8_t* datum, const avro::FieldSpan* spans) const;

    std::unique_ptr<avro::Validator> validator_;
    std::vector<avro::FieldSpan> spans_;
    int time_field_ = -1;
    TimeKind time_kind_ = TimeKind::none;
    TimeUnit time_unit_ = TimeUnit::unknown;
    size_t max_datagram_bytes_ = 65507;
};

}  // namespace speeddata::relay
