// Times and durations of the pivot's CLI and REST parameters; the engine on hand-made files.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/cache_layout.hpp"
#include "core/time.hpp"
#include "pivot/hdf5.hpp"
#include "pivot/pivot.hpp"

using namespace speeddata;

TEST(PivotTime, Iso8601Forms) {
    const int64_t t = 1737640800LL * 1000000000LL;  // 2025-01-23T14:00:00Z
    EXPECT_EQ(*pivot::parse_time("2025-01-23T14:00:00Z"), t);
    EXPECT_EQ(*pivot::parse_time("2025-01-23 14:00:00z"), t);
    EXPECT_EQ(*pivot::parse_time("2025-01-23T15:00:00+01:00"), t);
    EXPECT_EQ(*pivot::parse_time("2025-01-23T09:30:00-0430"), t);
    EXPECT_EQ(*pivot::parse_time("2025-01-23T14:00Z"), t);
    EXPECT_EQ(*pivot::parse_time("2025-01-23T14:00:00.000000001Z"), t + 1);
    EXPECT_EQ(*pivot::parse_time("2025-01-23T14:00:00.5Z"), t + 500000000);
    EXPECT_EQ(*pivot::parse_time("2025-01-23T14:00:00.1234567891Z"), t + 123456789);  // beyond ns: cut
    EXPECT_EQ(*pivot::parse_time("2025-01-23"), t - 14 * 3600 * 1000000000LL);
    EXPECT_EQ(*pivot::parse_time("1969-12-31T23:59:59Z"), -1000000000LL);
    for (const char* bad : {"", "2025", "2025-1-23", "2025-13-01T00:00:00Z", "2025-01-23T14", "2025-01-23T14:00:00Q",
                            "2025-01-23T14:00:00+25:00", "2025-01-23T14:00:00.Z", "1737640800",
                            "2025-02-30T00:00:00Z", "2023-02-29"}) {
        auto r = pivot::parse_time(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.message().find("is not an ISO 8601 time"), std::string::npos) << r.message();
    }
}

// A date-time without a zone is ambiguous (local or UTC?): refused with the fix spelled out.
TEST(PivotTime, NoZoneIsAnErrorThatSuggestsOne) {
    for (const char* t : {"2025-01-23T14:00:00", "2025-01-23 14:00:00", "2025-01-23T14:00"}) {
        auto r = pivot::parse_time(t);
        ASSERT_FALSE(r.ok()) << t;
        EXPECT_NE(r.message().find("has no time zone: add Z for UTC"), std::string::npos) << r.message();
    }
    EXPECT_NE(pivot::parse_time("2026-12-01 08:33:00").message().find("2026-12-01T08:33:00Z"), std::string::npos);
    EXPECT_TRUE(pivot::parse_time("2024-02-29").ok());  // a date alone: midnight UTC (leap day)
}

TEST(PivotTime, RelativeTimes) {
    const int64_t now = 1737640800LL * 1000000000LL;
    const int64_t s = 1000000000LL;
    EXPECT_EQ(*parse_time("now", now), now);
    EXPECT_EQ(*parse_time("now-30s", now), now - 30 * s);
    EXPECT_EQ(*parse_time("now+5m", now), now + 300 * s);
    EXPECT_EQ(*parse_time("now-PT1H", now), now - 3600 * s);
    EXPECT_EQ(*parse_time(" now-1h ", now), now - 3600 * s);
    EXPECT_EQ(*parse_time("2025-01-23T14:00:00Z", now), now);
    for (const char* bad : {"now-", "now-x", "now*2", "now-0s", "now--1s"}) EXPECT_FALSE(parse_time(bad, now).ok()) << bad;
    // Far past the int64 range: an error, never a wrapped time.
    EXPECT_FALSE(parse_time("now-300000000d", now).ok());
    EXPECT_FALSE(parse_time("now+300y", now).ok());
}

// Signed overflow used to wrap: year 9999 searched 1816, 213503 days exported 29 s.
TEST(PivotTime, OutOfRangeIsAnErrorNotAWrap) {
    for (const char* t : {"9999-12-31T00:00:00Z", "2263-01-01T00:00:00Z", "1677-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
                          "2262-04-11T23:47:17Z"}) {
        auto r = pivot::parse_time(t);
        ASSERT_FALSE(r.ok()) << t;
        EXPECT_NE(r.message().find("out of range"), std::string::npos) << r.message();
    }
    EXPECT_TRUE(pivot::parse_time("2262-04-11T23:47:16Z").ok());
    EXPECT_TRUE(pivot::parse_time("1677-09-22T00:00:00Z").ok());
    for (const char* d : {"213503d", "106752d", "P213503D", "P30000W", "PT99999999999999H", "9223372037s"}) {
        auto r = pivot::parse_iso_duration(d);
        EXPECT_FALSE(r.ok()) << d << " -> " << (r.ok() ? *r : 0);
    }
    EXPECT_EQ(*pivot::parse_iso_duration("106751d"), 106751LL * 86400 * 1000000000LL);
}

TEST(PivotTime, Durations) {
    const int64_t s = 1000000000LL;
    EXPECT_EQ(*pivot::parse_iso_duration("PT30S"), 30 * s);
    EXPECT_EQ(*pivot::parse_iso_duration("PT1M"), 60 * s);
    EXPECT_EQ(*pivot::parse_iso_duration("PT1H30M"), 5400 * s);
    EXPECT_EQ(*pivot::parse_iso_duration("P1D"), 86400 * s);
    EXPECT_EQ(*pivot::parse_iso_duration("P1DT2H"), 93600 * s);
    EXPECT_EQ(*pivot::parse_iso_duration("P1W"), 7 * 86400 * s);
    EXPECT_EQ(*pivot::parse_iso_duration("PT0.5S"), s / 2);
    EXPECT_EQ(*pivot::parse_iso_duration("PT0,25S"), s / 4);
    EXPECT_EQ(*pivot::parse_iso_duration("pt2s"), 2 * s);
    EXPECT_EQ(*pivot::parse_iso_duration("30s"), 30 * s);
    EXPECT_EQ(*pivot::parse_iso_duration("250ms"), s / 4);
    // Exact to the nanosecond near the int64 limit (a fuzz finding: long double arithmetic
    // gave a value that did not round-trip through its own PT<seconds>S spelling).
    EXPECT_EQ(*pivot::parse_iso_duration("P106051DT23H47M16.854775827S"), 9162892036854775827LL);
    EXPECT_EQ(*pivot::parse_iso_duration("PT9162892036.854775827S"), 9162892036854775827LL);
    EXPECT_EQ(*pivot::parse_iso_duration("PT9223372036.854775807S"), INT64_MAX);
    EXPECT_FALSE(pivot::parse_iso_duration("PT9223372036.854775808S").ok());
    EXPECT_EQ(*pivot::parse_iso_duration("PT0.0000000015S"), 2);  // rounded to the nearest ns
    EXPECT_EQ(*pivot::parse_iso_duration("P0.5DT1.5H"), 12 * 3600 * s + 5400 * s);
    for (const char* bad : {"", "P", "PT", "P1M", "P1Y", "PT1D", "PT-1S", "PT0S", "PTS", "P1H", "0s", "abc",
                            "PT0.0000000001S", "PT1..5S", "PT.S", "PT1.2.3S"}) {
        auto r = pivot::parse_iso_duration(bad);
        EXPECT_FALSE(r.ok()) << bad;
    }
}

namespace {

// Writes a cache file of n records {v: double, time: long ns} in blocks of `per_block`
// with a .idx, as the relay would.
void write_cache_file(const std::filesystem::path& dir, int64_t t0, int n, int per_block, bool index = true) {
    auto schema = avro::Schema::parse(
        R"({"type":"record","name":"c","fields":[{"name":"v","type":"double"},{"name":"time","type":"long"}]})");
    ASSERT_TRUE(schema.ok());
    avro::BlockEncoderOptions o;
    o.metadata["speeddata.channel"] = "c";
    o.metadata["speeddata.time_field"] = "time";
    o.metadata["speeddata.time_unit"] = "ns";
    avro::BlockEncoder enc(*schema, o);
    std::filesystem::create_directories(dir);
    auto path = dir / cache::file_name("c", t0);
    std::string file = enc.header(), idx(cache::index_magic, 8), block;
    for (int b = 0; b * per_block < n; ++b) {
        std::string datums;
        int cnt = 0;
        for (int i = b * per_block; i < std::min(n, (b + 1) * per_block); ++i, ++cnt) {
            avro::append_double(datums, i * 0.5);  // the time field is not the first one
            avro::append_long(datums, t0 + i * 1000);
        }
        ASSERT_TRUE(enc.encode_block({reinterpret_cast<const uint8_t*>(datums.data()), datums.size()},
                                     static_cast<uint64_t>(cnt), block).ok());
        cache::IndexEntry e{file.size(), static_cast<uint64_t>(cnt), t0 + b * per_block * 1000,
                            t0 + (b * per_block + cnt - 1) * 1000, block.size()};
        uint8_t raw[cache::index_entry_bytes];
        cache::encode_index_entry(e, raw);
        idx.append(reinterpret_cast<char*>(raw), sizeof raw);
        file += block;
    }
    FILE* f = std::fopen(path.c_str(), "wb");
    std::fwrite(file.data(), 1, file.size(), f);
    std::fclose(f);
    if (index) {
        f = std::fopen(cache::index_path(path).c_str(), "wb");
        std::fwrite(idx.data(), 1, idx.size(), f);
        std::fclose(f);
    }
}

std::vector<int64_t> read_times(const std::filesystem::path& h5) {
    h5::H5Id f(H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    h5::H5Id d(H5Dopen2(f.get(), "c/time", H5P_DEFAULT));
    h5::H5Id s(H5Dget_space(d.get()));
    hsize_t n = 0;
    H5Sget_simple_extent_dims(s.get(), &n, nullptr);
    std::vector<int64_t> out(n);
    if (n) H5Dread(d.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    return out;
}

int64_t group_attr(const std::filesystem::path& h5, const char* name) {
    h5::H5Id f(H5Fopen(h5.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    h5::H5Id a(H5Aopen_by_name(f.get(), "c", name, H5P_DEFAULT, H5P_DEFAULT));
    int64_t v = -1;
    H5Aread(a.get(), H5T_NATIVE_INT64, &v);
    return v;
}

}  // namespace

TEST(PivotEngine, IndexSelectsBlocksAndEdgesAreExact) {
    auto dir = std::filesystem::temp_directory_path() / ("pivot_unit_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    const int64_t t0 = 1700000000000000000LL;
    write_cache_file(dir / "c", t0, 10000, 100);
    pivot::ExportRequest req;
    req.channels = {"c"};
    req.start_ns = t0 + 4321 * 1000;
    req.end_ns = t0 + 4410 * 1000;
    pivot::Hdf5Options o;
    o.chunk_rows = 7;  // many flushes: bounded buffers
    auto out = dir / "o.h5";
    auto r = pivot::export_range(dir, req, o, out);
    ASSERT_TRUE(r.ok()) << r.status.message();
    EXPECT_EQ(r.rows, 89u);
    EXPECT_EQ(r.blocks_read, 2u);  // blocks 43 and 44 only, found through the index
    auto t = read_times(out);
    ASSERT_EQ(t.size(), 89u);
    EXPECT_EQ(t.front(), req.start_ns);
    EXPECT_EQ(t.back(), req.end_ns - 1000);
    EXPECT_EQ(group_attr(out, "rows"), 89);
    EXPECT_EQ(group_attr(out, "first_time_ns"), req.start_ns);
    EXPECT_EQ(group_attr(out, "last_time_ns"), req.end_ns - 1000);
    std::filesystem::remove_all(dir);
}

TEST(PivotEngine, UnindexedTailIsScanned) {
    auto dir = std::filesystem::temp_directory_path() / ("pivot_unit2_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    const int64_t t0 = 1700000000000000000LL;
    write_cache_file(dir / "c", t0, 1000, 100, /*index=*/false);
    pivot::ExportRequest req;
    req.channels = {"c"};
    req.start_ns = t0 + 950 * 1000;
    req.end_ns = t0 + 2000 * 1000;
    auto out = dir / "o.h5";
    auto r = pivot::export_range(dir, req, {}, out);
    ASSERT_TRUE(r.ok()) << r.status.message();
    EXPECT_EQ(read_times(out).size(), 50u);
    req.start_ns = t0 - 100;
    req.end_ns = t0;
    r = pivot::export_range(dir, req, {}, out);
    EXPECT_EQ(r.kind, pivot::ErrorKind::no_data);
    EXPECT_FALSE(std::filesystem::exists(out));
    std::filesystem::remove_all(dir);
}

TEST(PivotEngine, IndexLaggingBehindTheFileIsCompletedByScanning) {
    // A relay killed between writing a block and its index entry, or still writing: the
    // index covers blocks 0..29 of 100; records of later blocks must still be exported.
    auto dir = std::filesystem::temp_directory_path() / ("pivot_unit3_" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    const int64_t t0 = 1700000000000000000LL;
    write_cache_file(dir / "c", t0, 10000, 100);
    auto files = cache::list_files(dir / "c", "c");
    ASSERT_EQ(files.size(), 1u);
    std::filesystem::resize_file(cache::index_path(files[0].path), 8 + 30 * cache::index_entry_bytes);
    pivot::ExportRequest req;
    req.channels = {"c"};
    req.start_ns = t0 + 2950 * 1000;  // straddles the last indexed block and the unindexed tail
    req.end_ns = t0 + 3050 * 1000;
    auto out = dir / "o.h5";
    auto r = pivot::export_range(dir, req, {}, out);
    ASSERT_TRUE(r.ok()) << r.status.message();
    auto t = read_times(out);
    ASSERT_EQ(t.size(), 100u);
    EXPECT_EQ(t.front(), req.start_ns);
    EXPECT_EQ(t.back(), req.end_ns - 1000);
    // Only the overlapping indexed block is sought; the tail (70 blocks) is scanned.
    EXPECT_EQ(r.blocks_read, 1u + 70u);
    std::filesystem::remove_all(dir);
}
