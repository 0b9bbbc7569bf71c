// Unit tests of the relay's building blocks: decimator edge cases, cache file names and
// index entries, the multicast header, time formatting.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/avro/codec.hpp"
#include "core/cache_layout.hpp"
#include "core/decimate/decimator.hpp"
#include "core/net/mcast_header.hpp"
#include "core/time.hpp"

using namespace speeddata;
using config::DecimationAlgorithm;

namespace {

avro::Schema schema_of(const char* json) {
    auto s = avro::Schema::parse(json);
    EXPECT_TRUE(s.ok()) << s.message();
    return std::move(s).value();
}

const char* k_schema = R"({"type":"record","name":"r","fields":[
    {"name":"time","type":"long"},{"name":"i","type":"int"},{"name":"l","type":"long"},
    {"name":"d","type":"double"},{"name":"s","type":"string"}]})";

std::string datum(int64_t t, int32_t i, int64_t l, double d, const std::string& s) {
    std::string out;
    avro::append_long(out, t);
    avro::append_long(out, i);
    avro::append_long(out, l);
    avro::append_double(out, d);
    avro::append_long(out, static_cast<int64_t>(s.size()));
    out += s;
    return out;
}

struct Out {
    int64_t t;
    int64_t i, l;
    double d;
    std::string s;
};

// Runs records through a decimator and decodes what comes out.
std::vector<Out> run(DecimationAlgorithm a, int factor, const std::vector<std::string>& in) {
    auto schema = schema_of(k_schema);
    avro::Validator v(schema);
    auto d = decimate::Decimator::create(schema, 0, a, factor);
    EXPECT_TRUE(d.ok());
    std::string out;
    std::vector<avro::FieldSpan> spans(v.field_count());
    for (const auto& x : in) {
        auto p = reinterpret_cast<const uint8_t*>(x.data());
        auto r = v.validate(p, x.size(), spans.data());
        EXPECT_TRUE(r.ok());
        d->push(p, x.size(), spans.data(), out);
    }
    std::vector<Out> res;
    const uint8_t* p = reinterpret_cast<const uint8_t*>(out.data());
    const uint8_t* end = p + out.size();
    while (p < end) {
        auto val = avro::decode(schema, p, end);
        EXPECT_TRUE(val.ok()) << val.message();
        const auto& rec = std::get<avro::Value::record_index>(val->v);
        res.push_back({std::get<int64_t>(rec[0].v), std::get<int32_t>(rec[1].v), std::get<int64_t>(rec[2].v),
                       std::get<double>(rec[3].v), std::get<std::string>(rec[4].v)});
    }
    return res;
}

}  // namespace

TEST(Decimator, AverageRoundsHalfAwayFromZeroAndKeepsLastString) {
    auto out = run(DecimationAlgorithm::average, 2,
                   {datum(10, 1, -1, 0.5, "a"), datum(20, 2, -2, 1.5, "b"), datum(30, -1, 7, 0, "c"),
                    datum(41, -2, 8, 0, "d")});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].t, 15);  // midpoint
    EXPECT_EQ(out[0].i, 2);   // 1.5 -> 2
    EXPECT_EQ(out[0].l, -2);  // -1.5 -> -2
    EXPECT_DOUBLE_EQ(out[0].d, 1.0);
    EXPECT_EQ(out[0].s, "b");
    EXPECT_EQ(out[1].t, 35);  // 30 + (41-30)/2 in integer arithmetic
    EXPECT_EQ(out[1].i, -2);  // -1.5 -> -2
    EXPECT_EQ(out[1].l, 8);   // 7.5 -> 8
}

TEST(Decimator, AverageOfLargeLongsIsExact) {
    const int64_t big = std::numeric_limits<int64_t>::max() - 10;
    auto out = run(DecimationAlgorithm::average, 2, {datum(0, 0, big, 0, ""), datum(2, 0, big - 2, 0, "")});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].l, big - 1);  // a double sum would overflow precision
}

TEST(Decimator, MinmaxEmitsMinThenMaxWithFirstAndLastTime) {
    auto out = run(DecimationAlgorithm::minmax, 3,
                   {datum(100, 5, 1, -1.0, "x"), datum(200, -5, 3, 2.0, "y"), datum(300, 0, 2, 0.5, "z")});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].t, 100);
    EXPECT_EQ(out[0].i, -5);
    EXPECT_EQ(out[0].l, 1);
    EXPECT_DOUBLE_EQ(out[0].d, -1.0);
    EXPECT_EQ(out[1].t, 300);
    EXPECT_EQ(out[1].i, 5);
    EXPECT_EQ(out[1].l, 3);
    EXPECT_DOUBLE_EQ(out[1].d, 2.0);
    EXPECT_EQ(out[0].s, "z");
    EXPECT_EQ(out[1].s, "z");
}

TEST(Decimator, RmsAndDownsample) {
    auto rms = run(DecimationAlgorithm::rms, 2, {datum(0, 3, 3, 3.0, ""), datum(10, -4, 4, -4.0, "")});
    ASSERT_EQ(rms.size(), 1u);
    EXPECT_EQ(rms[0].i, 4);  // sqrt(12.5) = 3.54 -> 4
    EXPECT_DOUBLE_EQ(rms[0].d, std::sqrt(12.5));
    EXPECT_EQ(rms[0].t, 5);
    auto ds = run(DecimationAlgorithm::downsample, 3,
                  {datum(1, 1, 0, 0, "a"), datum(2, 2, 0, 0, "b"), datum(3, 3, 0, 0, "c"), datum(4, 4, 0, 0, "d")});
    ASSERT_EQ(ds.size(), 2u);
    EXPECT_EQ(ds[0].i, 1);
    EXPECT_EQ(ds[1].i, 4);
    EXPECT_EQ(ds[1].s, "d");
}

TEST(Decimator, FactorOnePassesThrough) {
    auto out = run(DecimationAlgorithm::minmax, 1, {datum(1, 1, 1, 1, "a"), datum(2, 2, 2, 2, "b")});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1].s, "b");
}

TEST(CacheLayout, FileNamesRoundTripAndSortInTimeOrder) {
    int64_t t = 1795507512123000000;  // 2026-11-24T...
    auto name = cache::file_name("example", t);
    EXPECT_EQ(name.substr(0, 8), "example_");
    EXPECT_EQ(name.size(), std::string("example_20261124T080512.123Z.avro").size());
    auto back = cache::parse_file_name(name, "example");
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, t);
    EXPECT_FALSE(cache::parse_file_name(name, "exampl"));
    EXPECT_FALSE(cache::parse_file_name("example_garbage.avro", "example"));
    EXPECT_LT(cache::file_name("c", t), cache::file_name("c", t + 1000000));
    EXPECT_LT(cache::file_name("c", t), cache::file_name("c", t + 3600LL * 1000000000));
}

TEST(CacheLayout, IndexEntryRoundTrip) {
    cache::IndexEntry e{123456789, 42, -5, 1795507512123456789, 65536};
    uint8_t buf[cache::index_entry_bytes];
    cache::encode_index_entry(e, buf);
    auto d = cache::decode_index_entry(buf);
    EXPECT_EQ(d.offset, e.offset);
    EXPECT_EQ(d.count, e.count);
    EXPECT_EQ(d.min_ns, e.min_ns);
    EXPECT_EQ(d.max_ns, e.max_ns);
    EXPECT_EQ(d.size, e.size);
}

TEST(McastHeader, EncodeParseAndPatch) {
    net::McastHeader h;
    h.flags = net::mcast_flag_decimated;
    h.fingerprint = 0x0123456789abcdefULL;
    h.sequence = 7;
    h.record_count = 3;
    h.channel = "example";
    uint8_t buf[net::mcast_max_header + 4];
    size_t n = net::encode_mcast_header(h, buf);
    EXPECT_EQ(n, 28u + 7u);
    EXPECT_EQ(buf[0], 'S');
    EXPECT_EQ(buf[8], 0xef);  // little-endian fingerprint
    net::patch_mcast_header(buf, 0x1122334455667788ULL, 513);
    auto p = net::parse_mcast_header(buf, n);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->sequence, 0x1122334455667788ULL);
    EXPECT_EQ(p->record_count, 513);
    EXPECT_EQ(p->channel, "example");
    EXPECT_EQ(p->header_length, n);
    EXPECT_FALSE(net::parse_mcast_header(buf, n - 1));  // name cut off
    buf[0] = 'X';
    EXPECT_FALSE(net::parse_mcast_header(buf, n));
}

TEST(Time, Iso8601AndUnits) {
    EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(format_iso8601(1500000000), "1970-01-01T00:00:01.500Z");
    EXPECT_EQ(format_iso8601(1000), "1970-01-01T00:00:00.000001Z");
    EXPECT_EQ(format_iso8601(1), "1970-01-01T00:00:00.000000001Z");
    EXPECT_EQ(infer_time_unit(1.7e18), TimeUnit::ns);
    EXPECT_EQ(infer_time_unit(1.7e15), TimeUnit::us);
    EXPECT_EQ(infer_time_unit(1.7e12), TimeUnit::ms);
    EXPECT_EQ(infer_time_unit(1.7e9), TimeUnit::s);
    EXPECT_EQ(to_ns(int64_t{1700000000}, TimeUnit::unknown), 1700000000LL * 1000000000);
    EXPECT_EQ(to_ns(1.5, TimeUnit::s), 1500000000);
}
