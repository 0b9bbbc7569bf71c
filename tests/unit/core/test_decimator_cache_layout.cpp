// Unit tests of core parts the relay uses (not relay code): decimator edge cases, cache file names and
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

TEST(Decimator, MinmaxPutsEachFieldsEarlierExtremeFirst) {
    // Window 100..300: i falls (5 -> -5), l rises (1 -> 3), d rises (-1 -> 2).
    auto out = run(DecimationAlgorithm::minmax, 3,
                   {datum(100, 5, 1, -1.0, "x"), datum(200, -5, 3, 2.0, "y"), datum(300, 0, 2, 0.5, "z")});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].t, 100);
    EXPECT_EQ(out[0].i, 5);  // the max came first
    EXPECT_EQ(out[0].l, 1);
    EXPECT_DOUBLE_EQ(out[0].d, -1.0);
    EXPECT_EQ(out[1].t, 300);
    EXPECT_EQ(out[1].i, -5);
    EXPECT_EQ(out[1].l, 3);
    EXPECT_DOUBLE_EQ(out[1].d, 2.0);
    EXPECT_EQ(out[0].s, "z");
    EXPECT_EQ(out[1].s, "z");
}

TEST(Decimator, MinmaxConstantWindowAndTiesUseFirstOccurrence) {
    auto out = run(DecimationAlgorithm::minmax, 4,
                   {datum(1, 7, 2, 3.0, ""), datum(2, 7, 9, 3.0, ""), datum(3, 7, 2, 3.0, ""), datum(4, 7, 9, 3.0, "")});
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].i, 7);
    EXPECT_EQ(out[1].i, 7);
    EXPECT_EQ(out[0].l, 2);  // min first seen at 1, max first seen at 2
    EXPECT_EQ(out[1].l, 9);
    EXPECT_DOUBLE_EQ(out[0].d, 3.0);
    EXPECT_DOUBLE_EQ(out[1].d, 3.0);
}

namespace {

const char* k_wave_schema = R"({"type":"record","name":"w","fields":[
    {"name":"time","type":"long"},{"name":"sine","type":"double"},{"name":"cosine","type":"double"},
    {"name":"icos","type":"int"}]})";

}  // namespace

// A line through the decimated points must rise where the signal rose: checks a sine and a
// cosine whose periods (37 and 23 samples) do not divide the window (10 records).
TEST(Decimator, MinmaxOfSineAndCosineFollowsTheSignal) {
    auto schema = schema_of(k_wave_schema);
    avro::Validator v(schema);
    const int factor = 10, n = 1000;
    auto d = decimate::Decimator::create(schema, 0, DecimationAlgorithm::minmax, factor);
    ASSERT_TRUE(d.ok());
    std::vector<int64_t> t(n);
    std::vector<double> sn(n), cs(n);
    std::vector<int64_t> ic(n);
    std::string out;
    std::vector<avro::FieldSpan> spans(v.field_count());
    for (int k = 0; k < n; ++k) {
        t[k] = 1'000'000 + k * 1000;
        sn[k] = std::sin(2 * M_PI * k / 37.0);
        cs[k] = std::cos(2 * M_PI * k / 23.0);
        ic[k] = std::lround(1000 * cs[k]);
        std::string x;
        avro::append_long(x, t[k]);
        avro::append_double(x, sn[k]);
        avro::append_double(x, cs[k]);
        avro::append_long(x, ic[k]);
        auto p = reinterpret_cast<const uint8_t*>(x.data());
        ASSERT_TRUE(v.validate(p, x.size(), spans.data()).ok());
        d->push(p, x.size(), spans.data(), out);
    }
    struct Rec { int64_t t; double s, c; int64_t i; };
    std::vector<Rec> got;
    const uint8_t* p = reinterpret_cast<const uint8_t*>(out.data());
    const uint8_t* end = p + out.size();
    while (p < end) {
        auto val = avro::decode(schema, p, end);
        ASSERT_TRUE(val.ok()) << val.message();
        const auto& rec = std::get<avro::Value::record_index>(val->v);
        got.push_back({std::get<int64_t>(rec[0].v), std::get<double>(rec[1].v), std::get<double>(rec[2].v),
                       std::get<int32_t>(rec[3].v)});
    }
    ASSERT_EQ(got.size(), size_t(2 * n / factor));

    // Per field and window: the two values are the window's extremes, the earlier first, and
    // the segment between them has the sign of the signal's change between those instants.
    int falling[3] = {0, 0, 0}, rising[3] = {0, 0, 0};
    auto check = [&](const char* name, int f, const auto& x, int w, auto first, auto second) {
        int b = w * factor;
        int imin = b, imax = b;
        for (int k = b; k < b + factor; ++k) {
            if (x[k] < x[imin]) imin = k;
            if (x[k] > x[imax]) imax = k;
        }
        int early = std::min(imin, imax), late = std::max(imin, imax);
        EXPECT_EQ(first, x[early]) << name << " window " << w;
        EXPECT_EQ(second, x[late]) << name << " window " << w;
        if (x[late] < x[early]) ++falling[f];
        if (x[late] > x[early]) ++rising[f];
        // Where the signal is monotonic over the whole window, so is the decimated segment.
        bool up = true, down = true;
        for (int k = b + 1; k < b + factor; ++k) {
            up = up && x[k] > x[k - 1];
            down = down && x[k] < x[k - 1];
        }
        if (up) { EXPECT_GT(second, first) << name << " rises in window " << w; }
        if (down) { EXPECT_LT(second, first) << name << " falls in window " << w; }
    };
    for (int w = 0; w < n / factor; ++w) {
        const Rec& a = got[2 * w];
        const Rec& b = got[2 * w + 1];
        EXPECT_EQ(a.t, t[w * factor]);
        EXPECT_EQ(b.t, t[w * factor + factor - 1]);
        if (w > 0) { EXPECT_GT(a.t, got[2 * w - 1].t); }
        check("sine", 0, sn, w, a.s, b.s);
        check("cosine", 1, cs, w, a.c, b.c);
        check("icos", 2, ic, w, a.i, b.i);
    }
    for (int f = 0; f < 3; ++f) {
        EXPECT_GT(falling[f], 30) << f;  // the test sees falling halves, not only rising ones
        EXPECT_GT(rising[f], 30) << f;
    }
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

TEST(CacheLayout, FileStreamsHaveASuffixAndGroupByStream) {
    int64_t t = 1795507512123000000;
    EXPECT_EQ(cache::file_name("example", t, 0), "example_20261124T080512.123Z.avro");
    EXPECT_EQ(cache::file_name("example", t, 3), "example_20261124T080512.123Z_s3.avro");
    auto p = cache::parse_cache_name("example_20261124T080512.123Z_s12.avro", "example");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->start_ns, t);
    EXPECT_EQ(p->stream, 12u);
    EXPECT_EQ(cache::parse_cache_name("example_20261124T080512.123Z.avro", "example")->stream, 0u);
    EXPECT_EQ(*cache::parse_file_name("example_20261124T080512.123Z_s1.avro", "example"), t);
    for (const char* bad : {"example_20261124T080512.123Z_s0.avro", "example_20261124T080512.123Z_s01.avro",
                            "example_20261124T080512.123Z_s64.avro", "example_20261124T080512.123Z_x1.avro",
                            "example_20261124T080512.123Z_s.avro", "example_20261124T080512.123Z_s123.avro"})
        EXPECT_FALSE(cache::parse_cache_name(bad, "example")) << bad;
    // Same stamp: stream 0 first; then by stamp.
    EXPECT_LT(cache::file_name("c", t, 0), cache::file_name("c", t, 1));
    EXPECT_LT(cache::file_name("c", t, 2), cache::file_name("c", t + 1000000, 1));

    std::vector<cache::CacheFile> files = {{"a", 1, 0}, {"b", 2, 2}, {"c", 3, 0}, {"d", 4, 1}, {"e", 5, 2}};
    auto groups = cache::by_stream(files);
    ASSERT_EQ(groups.size(), 3u);
    EXPECT_EQ(groups[0].size(), 2u);
    EXPECT_EQ(groups[0][1].path, "c");
    EXPECT_EQ(groups[1][0].path, "d");
    EXPECT_EQ(groups[2][0].path, "b");
    EXPECT_EQ(groups[2][1].path, "e");
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

// ---- reading a channel of several file streams ---------------------------------------------

#include <unistd.h>

#include <filesystem>

#include "core/avro/container.hpp"
#include "core/cache_blocks.hpp"

namespace {

struct StreamDir {
    std::filesystem::path dir;
    StreamDir() {
        static int n = 0;
        dir = std::filesystem::temp_directory_path() / ("sd-merge-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    ~StreamDir() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    // A container file of records with these times (i = time), blocks of `per_block` records.
    std::filesystem::path write(const std::string& name, const std::vector<int64_t>& times, size_t block_bytes) {
        auto schema = schema_of(k_schema);
        avro::BlockEncoderOptions o;
        o.metadata = {{"speeddata.time_field", "time"}, {"speeddata.time_unit", "ns"}};
        auto w = avro::FileWriter::create(dir / name, schema, o, block_bytes);
        EXPECT_TRUE(w.ok());
        for (int64_t t : times) {
            auto d = datum(t, static_cast<int32_t>(t), t, 0.5, "s");
            EXPECT_TRUE(w->append({reinterpret_cast<const uint8_t*>(d.data()), d.size()}).ok());
        }
        EXPECT_TRUE(w->close().ok());
        return dir / name;
    }
};

std::vector<int64_t> read_times(const std::vector<cache::BlockSelection>& files, size_t* blocks = nullptr,
                                size_t* opened = nullptr) {
    std::vector<int64_t> out;
    cache::ChannelReadHooks hooks;
    hooks.opened = [&](avro::FileReader&, const cache::BlockSelection&) {
        if (opened) ++*opened;
        return Status{};
    };
    avro::FileReaderOptions ro;
    Status st = cache::read_channel_blocks(files, ro, hooks, [&](const avro::Block& b, const std::filesystem::path&) {
        if (blocks) ++*blocks;
        auto p = reinterpret_cast<const uint8_t*>(b.data.data());
        auto end = p + b.data.size();
        for (uint64_t i = 0; i < b.count; ++i) {
            int64_t t = 0;
            p += avro::read_long(p, end, t);  // time
            int64_t skip = 0;
            p += avro::read_long(p, end, skip);  // i
            p += avro::read_long(p, end, skip);  // l
            p += 8;                              // d
            int64_t len = 0;
            p += avro::read_long(p, end, len);
            p += len;
            out.push_back(t);
        }
        return Status{};
    });
    EXPECT_TRUE(st.ok()) << st.message();
    return out;
}

}  // namespace

TEST(ChannelRead, OneStreamIsReadFileByFileAsItIs) {
    StreamDir d;
    auto a = d.write("c_20261124T080512.123Z.avro", {5, 3, 9}, 40);  // out of time order: kept
    auto b = d.write("c_20261124T080513.123Z.avro", {1, 2}, 40);
    size_t opened = 0;
    auto t = read_times({cache::whole_file(a), cache::whole_file(b)}, nullptr, &opened);
    EXPECT_EQ(t, (std::vector<int64_t>{5, 3, 9, 1, 2}));
    EXPECT_EQ(opened, 2u);
}

TEST(ChannelRead, SeveralStreamsAreMergedRecordByRecordByTime) {
    StreamDir d;
    // Stream 0 over two files, streams 1 and 2 one each; equal times: the lower stream first.
    auto s0a = d.write("c_20261124T080512.123Z.avro", {0, 3, 6, 9}, 60);
    auto s0b = d.write("c_20261124T080513.000Z.avro", {12, 15}, 60);
    auto s1 = d.write("c_20261124T080512.124Z_s1.avro", {1, 4, 7, 10, 13, 15}, 60);
    auto s2 = d.write("c_20261124T080512.125Z_s2.avro", {2, 5, 8, 11, 14}, 60);
    std::vector<cache::BlockSelection> files;
    for (auto& [p, k] : std::vector<std::pair<std::filesystem::path, unsigned>>{{s0a, 0}, {s1, 1}, {s2, 2}, {s0b, 0}}) {
        files.push_back(cache::whole_file(p));
        files.back().stream = k;
    }
    size_t blocks = 0, opened = 0;
    auto t = read_times(files, &blocks, &opened);
    EXPECT_EQ(t, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 15}));
    EXPECT_EQ(opened, 4u);
    EXPECT_EQ(blocks, 1u);  // small: one merged block
    // Through the index: the same records.
    auto listed = cache::list_files(d.dir, "c");
    ASSERT_EQ(listed.size(), 4u);
    std::vector<cache::BlockSelection> sel;
    for (const auto& f : listed) {
        auto s = cache::select_blocks(f.path, 0, 100);
        ASSERT_TRUE(s);
        s->stream = f.stream;
        sel.push_back(*s);
    }
    EXPECT_EQ(read_times(sel), t);
}
