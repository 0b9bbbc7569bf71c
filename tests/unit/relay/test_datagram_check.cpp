// Malformed-datagram handling: every kind of bad datagram is refused whole with its reason
// and position; a good one yields its record count and time range.
#include <gtest/gtest.h>

#include <string>

#include "core/avro/codec.hpp"
#include "relay/datagram_check.hpp"

using namespace speeddata;
using relay::DatagramChecker;
using relay::Malformed;

namespace {

avro::Schema schema_of(const char* json) {
    auto s = avro::Schema::parse(json);
    EXPECT_TRUE(s.ok()) << s.message();
    return std::move(s).value();
}

const char* k_schema = R"({"type":"record","name":"r","fields":[
    {"name":"time","type":{"type":"long","logicalType":"timestamp-micros"}},
    {"name":"ok","type":"boolean"},
    {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}},
    {"name":"u","type":["null","double"]},
    {"name":"s","type":"string"}]})";

std::string datum(int64_t t, const std::string& s = "hi") {
    std::string out;
    avro::append_long(out, t);
    out += '\x01';           // true
    avro::append_long(out, 1);  // B
    avro::append_long(out, 1);  // double branch
    avro::append_double(out, 2.5);
    avro::append_long(out, static_cast<int64_t>(s.size()));
    out += s;
    return out;
}

struct Fixture {
    avro::Schema schema = schema_of(k_schema);
    DatagramChecker checker = [this] {
        auto c = DatagramChecker::create(schema, 0, TimeUnit::us, 1000);
        EXPECT_TRUE(c.ok()) << c.message();
        return std::move(c).value();
    }();
    relay::DatagramCheck check(const std::string& d, bool truncated = false) {
        return checker.check(reinterpret_cast<const uint8_t*>(d.data()), d.size(), truncated);
    }
};

}  // namespace

TEST(DatagramChecker, CountsRecordsAndTimeRangeInNanoseconds) {
    Fixture f;
    auto r = f.check(datum(30) + datum(10) + datum(20));
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.records, 3u);
    EXPECT_EQ(r.min_ns, 10'000);
    EXPECT_EQ(r.max_ns, 30'000);
}

TEST(DatagramChecker, EachMalformedKindIsNamedWithItsOffset) {
    Fixture f;
    const std::string good = datum(1);
    struct Case {
        std::string bytes;
        Malformed why;
        size_t where;
    };
    std::string bad_bool = good;
    bad_bool[1] = 2;
    std::string bad_enum = good;
    bad_enum[2] = 4;  // zigzag 2: index 2 of a 2-symbol enum
    std::string bad_union = good;
    bad_union[3] = 6;  // branch 3
    std::string bad_utf8 = datum(1, std::string("\xff\xfe", 2));
    std::string negative = good.substr(0, 12) + std::string("\x03", 1) + "hi";
    std::string varint(11, '\xff');
    const Case cases[] = {
        {good.substr(0, good.size() - 1), Malformed::truncated, 0},
        {good + good.substr(0, 3), Malformed::truncated, good.size()},
        {bad_bool, Malformed::bad_boolean, 1},
        {bad_enum, Malformed::bad_enum_index, 2},
        {bad_union, Malformed::bad_union_index, 3},
        {bad_utf8, Malformed::bad_utf8, 12},  // the string field starts at 12
        {negative, Malformed::negative_length, 12},
        {varint, Malformed::bad_varint, 0},
    };
    for (const auto& c : cases) {
        auto r = f.check(c.bytes);
        EXPECT_FALSE(r.ok);
        EXPECT_EQ(relay::malformed_name(r.why), relay::malformed_name(c.why)) << testing::PrintToString(c.bytes);
        if (c.why != Malformed::truncated && c.why != Malformed::bad_varint) {
            EXPECT_EQ(r.where, c.where);
        }
        if (c.where > 0 && c.why == Malformed::truncated) {
            EXPECT_GE(r.where, c.where);
        }
    }
}

TEST(DatagramChecker, EmptyOversizedAndCutOffDatagramsAreRefused) {
    Fixture f;
    EXPECT_EQ(f.check("").why, Malformed::empty);
    std::string many;
    while (many.size() <= 1000) many += datum(1);
    auto r = f.check(many);  // valid datums, but over max_datagram
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.why, Malformed::oversized);
    r = f.check(datum(1), /*truncated=*/true);  // the kernel cut it (MSG_TRUNC)
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.why, Malformed::oversized);
}

TEST(DatagramChecker, ATimeFieldOfAnotherTypeIsRefusedAtCreation) {
    auto schema = schema_of(k_schema);
    EXPECT_FALSE(DatagramChecker::create(schema, 4, TimeUnit::ns, 1000).ok());  // the string
    EXPECT_TRUE(DatagramChecker::create(schema, -1, TimeUnit::ns, 1000).ok());  // no time field
}
