// History tiles against brute force over the raw records, on real cache files written with
// the project's block encoder and .idx layout (closed files, a file being written, rotated
// and removed files), and the GET /api/v1/series route through http::Router::dispatch.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/cache_layout.hpp"
#include "history/history.hpp"
#include "history/routes.hpp"

using namespace speeddata;
namespace fs = std::filesystem;
using history::Agg;

namespace {

const char* k_schema = R"({"type":"record","name":"h","fields":[
    {"name":"time","type":"long"},{"name":"a","type":"double"},{"name":"b","type":"long"},
    {"name":"c","type":"float"},{"name":"word","type":"string"}]})";

struct Rec {
    int64_t t;
    double a;
    int64_t b;
    float c;
};

std::string encode(const Rec& r) {
    std::string s;
    avro::append_long(s, r.t);
    avro::append_double(s, r.a);
    avro::append_long(s, r.b);
    avro::append_float(s, r.c);
    avro::append_long(s, 1);
    s += "w";
    return s;
}

// A cache file as the relay writes it: header, blocks, one .idx entry per indexed block.
class CacheFile {
public:
    CacheFile(const fs::path& path, const avro::Schema& schema)
        : path_(path), enc_(schema, avro::BlockEncoderOptions{avro::Codec::null_codec, -1,
                                                               {{"speeddata.time_field", "time"},
                                                                {"speeddata.time_unit", "ns"}}}) {
        std::ofstream(path_, std::ios::binary) << enc_.header();
        std::ofstream idx(cache::index_path(path_), std::ios::binary);
        idx.write(cache::index_magic, 8);
    }
    // Appends a block; indexes it unless index is false (the relay has not indexed it yet).
    void block(const std::vector<Rec>& recs, bool index = true) {
        std::string datums;
        int64_t lo = INT64_MAX, hi = INT64_MIN;
        for (const auto& r : recs) {
            datums += encode(r);
            lo = std::min(lo, r.t);
            hi = std::max(hi, r.t);
        }
        std::string out;
        ASSERT_TRUE(enc_.encode_block({reinterpret_cast<const uint8_t*>(datums.data()), datums.size()}, recs.size(), out)
                        .ok());
        uint64_t offset = fs::file_size(path_);
        std::ofstream(path_, std::ios::binary | std::ios::app) << out;
        pending_.push_back({offset, recs.size(), lo, hi, out.size()});
        if (index) index_pending();
    }
    void index_pending() {
        std::ofstream idx(cache::index_path(path_), std::ios::binary | std::ios::app);
        for (const auto& e : pending_) {
            uint8_t buf[cache::index_entry_bytes];
            cache::encode_index_entry(e, buf);
            idx.write(reinterpret_cast<const char*>(buf), sizeof buf);
        }
        pending_.clear();
    }

private:
    fs::path path_;
    avro::BlockEncoder enc_;
    std::vector<cache::IndexEntry> pending_;
};

avro::Schema schema() {
    auto s = avro::Schema::parse(k_schema);
    EXPECT_TRUE(s.ok());
    return std::move(s).value();
}

// Brute force, written from the documented semantics (not through Agg).
struct Expect {
    uint64_t count = 0;
    bool has_ext = false;
    double min = 0, max = 0, first = 0, last = 0;
    int64_t t_first = 0, t_last = 0;
};

std::vector<Expect> brute(const std::vector<Rec>& all, int field, int64_t start, int64_t end, int points) {
    std::vector<Expect> out(static_cast<size_t>(points));
    std::vector<int64_t> bounds;  // tile starts, by the documented formula
    for (int k = 0; k < points; ++k) bounds.push_back(history::tile_start(start, end, points, k));
    for (const auto& r : all) {
        if (r.t < start || r.t >= end) continue;
        int k = static_cast<int>(std::upper_bound(bounds.begin(), bounds.end(), r.t) - bounds.begin()) - 1;
        double v = field == 0 ? r.a : field == 1 ? static_cast<double>(r.b) : static_cast<double>(r.c);
        Expect& e = out[static_cast<size_t>(k)];
        if (!std::isnan(v)) {
            if (!e.has_ext) e.min = e.max = v;
            e.min = std::min(e.min, v);
            e.max = std::max(e.max, v);
            e.has_ext = true;
        }
        if (e.count == 0 || r.t < e.t_first) { e.first = v; e.t_first = r.t; }
        if (e.count == 0 || r.t >= e.t_last) { e.last = v; e.t_last = r.t; }
        ++e.count;
    }
    return out;
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_tiles(const std::vector<Agg>& got, const std::vector<Expect>& want, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t k = 0; k < got.size(); ++k) {
        const Agg& g = got[k];
        const Expect& w = want[k];
        ASSERT_EQ(g.count, w.count) << what << " tile " << k;
        if (!w.count) continue;
        ASSERT_EQ(!std::isnan(g.min), w.has_ext) << what << " tile " << k;
        if (w.has_ext) {
            ASSERT_EQ(g.min, w.min) << what << " tile " << k;
            ASSERT_EQ(g.max, w.max) << what << " tile " << k;
        }
        ASSERT_TRUE(same(g.first, w.first)) << what << " tile " << k << " first " << g.first << " " << w.first;
        ASSERT_TRUE(same(g.last, w.last)) << what << " tile " << k << " last";
        ASSERT_EQ(g.t_first, w.t_first) << what << " tile " << k;
        ASSERT_EQ(g.t_last, w.t_last) << what << " tile " << k;
    }
}

class HistoryTest : public ::testing::Test {
protected:
    void SetUp() override {
        root_ = fs::temp_directory_path() / ("sd_history_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(root_);
        fs::create_directories(root_ / "avro" / "ch");
        options_.avro_path = root_ / "avro";
        options_.summary_path = root_ / "state" / "history";
    }
    void TearDown() override { fs::remove_all(root_); }

    fs::path file(int n) const {
        return root_ / "avro" / "ch" / cache::file_name("ch", t0_ + int64_t(n) * 3600 * 1000000000LL);
    }

    // n records from the current time, 1 ms apart with jitter (sometimes equal time stamps
    // and small reorders, as from a source with a skewed clock), random values, some NaN.
    std::vector<Rec> make(size_t n) {
        std::vector<Rec> v;
        std::uniform_real_distribution<double> u(-1000, 1000);
        std::uniform_int_distribution<int> jitter(-300000, 300000);
        for (size_t i = 0; i < n; ++i) {
            now_ += 1000000;
            int64_t t = now_ + (i % 17 == 3 ? 0 : jitter(rng_));
            if (i % 29 == 5 && !v.empty()) t = v.back().t;  // equal time stamps
            double a = std::sin(static_cast<double>(now_) / 3.7e8) * 100 + u(rng_) * 0.01;
            if (i % 101 == 7) a = std::nan("");
            Rec r{t, a, static_cast<int64_t>(u(rng_) * 1e6), static_cast<float>(u(rng_))};
            v.push_back(r);
        }
        all_.insert(all_.end(), v.begin(), v.end());
        return v;
    }

    // Files 0..2 closed (rotated), file 3 being written: indexed blocks and two unindexed.
    void write_cache(int per_block = 200) {
        auto s = schema();
        for (int f = 0; f < 4; ++f) {
            CacheFile cf(file(f), s);
            int blocks = f == 3 ? 12 : 25;
            for (int b = 0; b < blocks; ++b) cf.block(make(static_cast<size_t>(per_block - 37 + (b * 13) % 75)),
                                                      !(f == 3 && b >= 10));
            now_ += 5 * 1000000000LL;  // a gap between files
        }
    }

    void check(history::HistoryEngine& eng, int64_t start, int64_t end, int points, history::QueryStats* stats = nullptr) {
        history::SeriesRequest req;
        req.signals = {{"ch", "a"}, {"ch", "b"}, {"ch", "c"}};
        req.start_ns = start;
        req.end_ns = end;
        req.points = points;
        history::SeriesAnswer ans;
        history::QueryError err;
        ASSERT_TRUE(eng.query(req, ans, err)) << err.message;
        ASSERT_EQ(ans.series.size(), 3u);
        std::string what = "[" + std::to_string(start) + ", " + std::to_string(end) + ") x" + std::to_string(points);
        for (int f = 0; f < 3; ++f) expect_tiles(ans.series[f].tiles, brute(all_, f, start, end, points), what);
        if (stats) *stats = ans.stats;
    }

    fs::path root_;
    history::HistoryOptions options_;
    std::mt19937_64 rng_{12345};
    const int64_t t0_ = 1700000000000000000LL;
    int64_t now_ = t0_;
    std::vector<Rec> all_;
};

}  // namespace

TEST(HistoryTiles, BoundariesAreExactAndCoverTheRange) {
    const int64_t s = 1000, e = 1000 + 999;  // a width that does not divide
    for (int p : {1, 3, 7, 999}) {
        EXPECT_EQ(history::tile_start(s, e, p, 0), s);
        EXPECT_EQ(history::tile_start(s, e, p, p), e);
        for (int64_t t = s; t < e; ++t) {
            int k = history::tile_of(s, e, p, t);
            ASSERT_GE(t, history::tile_start(s, e, p, k));
            ASSERT_LT(t, history::tile_start(s, e, p, k + 1));
        }
    }
}

TEST_F(HistoryTest, RandomRangesAndWidthsMatchBruteForce) {
    write_cache(700);  // blocks of 663..737 records: three summary segments each
    history::HistoryEngine eng(options_);
    const int64_t lo = all_.front().t - 2000000000, hi = now_ + 2000000000;
    std::uniform_int_distribution<int64_t> pos(lo, hi);
    std::uniform_int_distribution<int> pts(1, 3000);
    for (int q = 0; q < 120; ++q) {
        int64_t a = pos(rng_), b = pos(rng_);
        if (a == b) continue;
        if (a > b) std::swap(a, b);
        check(eng, a, b, q % 10 == 0 ? 1 : pts(rng_));
        if (HasFatalFailure()) return;
    }
    // The whole cache at several zoom levels, cold and warm.
    for (int p : {1, 10, 100, 1000, 10000}) check(eng, lo, hi, p);
}

TEST_F(HistoryTest, ZoomedOutUsesSummariesKeptInSidecars) {
    write_cache(400);
    const int64_t lo = all_.front().t - 1, hi = now_;
    history::QueryStats cold, warm, reloaded;
    {
        history::HistoryEngine eng(options_);
        check(eng, lo, hi, 20, &cold);
        check(eng, lo, hi, 20, &warm);
    }
    EXPECT_EQ(cold.sidecars_written, 3u);  // the three closed files
    EXPECT_GT(cold.summaries_computed, 0u);
    EXPECT_EQ(warm.summaries_computed, 0u);
    EXPECT_EQ(warm.sidecars_written, 0u);
    EXPECT_GT(warm.summaries_used, 60u);
    // Only the blocks that straddle one of the 20 tiles' boundaries, or the file being
    // written, are decoded: a small part of the records.
    EXPECT_LT(warm.records_read, all_.size() / 3) << warm.blocks_read;
    for (int f = 0; f < 3; ++f) EXPECT_TRUE(fs::exists(history::sidecar_path(options_.summary_path, "ch", file(f))));
    EXPECT_FALSE(fs::exists(history::sidecar_path(options_.summary_path, "ch", file(3))));
    // A new engine (a restarted server) loads the sidecars instead of reading the files.
    history::HistoryEngine eng2(options_);
    check(eng2, lo, hi, 20, &reloaded);
    EXPECT_EQ(reloaded.sidecars_loaded, 3u);
    EXPECT_EQ(reloaded.sidecars_written, 0u);
    EXPECT_LT(reloaded.records_read, all_.size() / 3);
}

TEST_F(HistoryTest, ChangedFileInvalidatesItsSidecar) {
    write_cache();
    const int64_t lo = all_.front().t - 1, hi = now_;
    { history::HistoryEngine eng(options_); check(eng, lo, hi, 15); }
    // Rewrite closed file 1 with other values (same name, same block layout).
    auto s = schema();
    // Records of file 1 are those between file 0's and file 2's; replace their values.
    auto idx0 = cache::read_index(cache::index_path(file(0)));
    auto idx1 = cache::read_index(cache::index_path(file(1)));
    uint64_t n0 = 0;
    for (auto& e : idx0) n0 += e.count;
    {
        CacheFile cf(file(1), s);
        size_t i = n0;
        for (const auto& e : idx1) {
            std::vector<Rec> blk(all_.begin() + static_cast<long>(i), all_.begin() + static_cast<long>(i + e.count));
            for (auto& r : blk) { r.a = -r.a * 3 + 1; r.b += 17; }
            std::copy(blk.begin(), blk.end(), all_.begin() + static_cast<long>(i));
            cf.block(blk);
            i += e.count;
        }
    }
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1800000000, 5}};  // a clearly different mtime
    ASSERT_EQ(::utimensat(AT_FDCWD, file(1).c_str(), ts, 0), 0);
    history::HistoryEngine eng(options_);
    history::QueryStats st;
    check(eng, lo, hi, 15, &st);
    EXPECT_EQ(st.sidecars_loaded, 2u);
    EXPECT_EQ(st.sidecars_written, 1u);
}

TEST_F(HistoryTest, RemovedFilesLoseTheirSidecarsAndData) {
    write_cache();
    const int64_t lo = all_.front().t - 1, hi = now_;
    history::HistoryEngine eng(options_);
    check(eng, lo, hi, 10);
    auto sum0 = history::sidecar_path(options_.summary_path, "ch", file(0));
    ASSERT_TRUE(fs::exists(sum0));
    // Retention removes the oldest file and its index; the sidecar left behind is stale.
    uint64_t n0 = 0;
    for (auto& e : cache::read_index(cache::index_path(file(0)))) n0 += e.count;
    fs::remove(file(0));
    fs::remove(cache::index_path(file(0)));
    all_.erase(all_.begin(), all_.begin() + static_cast<long>(n0));
    check(eng, lo, hi, 10);
    EXPECT_FALSE(fs::exists(sum0));
}

TEST_F(HistoryTest, GrowingFileIsReadAsItGrows) {
    write_cache();
    history::HistoryEngine eng(options_);
    const int64_t lo = all_.front().t - 1;
    check(eng, lo, now_ + 1000000000, 7);
    // The relay indexes the pending blocks and writes more (some not yet indexed).
    {
        // Append to file 3 through a fresh encoder is not possible (sync marker), so write a
        // new newest file: file 3 becomes closed, file 4 is being written.
        CacheFile cf(file(4), schema());
        for (int b = 0; b < 6; ++b) cf.block(make(150), b < 4);
    }
    check(eng, lo, now_ + 1000000000, 7);
    check(eng, lo, now_ + 1000000000, 300);
}

TEST_F(HistoryTest, ErrorsNameTheParameterAndListKnownNames) {
    write_cache(50);
    fs::create_directories(root_ / "avro" / "other");
    history::HistoryEngine eng(options_);
    history::SeriesRequest req;
    req.start_ns = t0_;
    req.end_ns = now_;
    history::SeriesAnswer ans;
    history::QueryError err;
    req.signals = {{"nope", "a"}};
    EXPECT_FALSE(eng.query(req, ans, err));
    EXPECT_EQ(err.kind, history::ErrorKind::not_found);
    EXPECT_EQ(err.message, "signals: unknown channel 'nope' (known: ch, other)");
    req.signals = {{"ch", "zz"}};
    EXPECT_FALSE(eng.query(req, ans, err));
    EXPECT_EQ(err.kind, history::ErrorKind::not_found);
    EXPECT_EQ(err.message, "signals: unknown signal 'ch.zz' (known: ch.a, ch.b, ch.c)");
    req.signals = {{"ch", "word"}};
    EXPECT_FALSE(eng.query(req, ans, err));
    EXPECT_EQ(err.kind, history::ErrorKind::bad_request);
    req.signals = {{"ch", "a"}};
    req.points = 0;
    EXPECT_FALSE(eng.query(req, ans, err));
    EXPECT_EQ(err.message.substr(0, 7), "points:");
}

TEST_F(HistoryTest, RouteAnswersJsonAndValidatesParameters) {
    write_cache(50);
    http::Router router;
    auto engine = history::add_history_routes(router, options_);
    auto get = [&](const std::map<std::string, std::string>& q) {
        http::Request r;
        r.method = "GET";
        r.path = "/api/v1/series";
        r.target = r.path;
        r.query = q;
        auto resp = router.dispatch(r);
        return resp.deferred ? resp.deferred() : resp;  // as the server's worker pool would
    };
    const int64_t lo = all_.front().t, hi = now_;
    auto ok = get({{"signals", "ch.a,ch.b"}, {"start", std::to_string(lo)}, {"end", std::to_string(hi)}, {"points", "50"}});
    ASSERT_EQ(ok.status, 200) << ok.body;
    auto j = nlohmann::json::parse(ok.body);
    ASSERT_EQ(j["t0"].size(), 50u);
    EXPECT_EQ(j["t0"][0], lo);
    EXPECT_EQ(j["t1"][49], hi);
    ASSERT_EQ(j["series"].size(), 2u);
    auto want = brute(all_, 1, lo, hi, 50);
    const auto& sb = j["series"][1];
    EXPECT_EQ(sb["signal"], "ch.b");
    EXPECT_EQ(sb["type"], "long");
    for (size_t k = 0; k < 50; ++k) {
        EXPECT_EQ(sb["count"][k], want[k].count);
        if (want[k].count) {
            EXPECT_EQ(sb["min"][k].get<double>(), want[k].min);
            EXPECT_EQ(sb["max"][k].get<double>(), want[k].max);
        } else {
            EXPECT_TRUE(sb["min"][k].is_null());
        }
    }
    EXPECT_EQ(sb["coverage"]["first_ns"].get<int64_t>() <= lo, true);
    // ISO 8601 and relative times.
    auto iso = get({{"signals", "ch.a"}, {"start", "2023-11-14T22:13:20Z"}, {"end", "now"}, {"points", "3"}});
    EXPECT_EQ(iso.status, 200) << iso.body;
    auto rel = get({{"signals", "ch.a"}, {"start", "now-30s"}});
    EXPECT_EQ(rel.status, 200) << rel.body;
    auto err = [&](const std::map<std::string, std::string>& q, int status, const std::string& prefix) {
        auto r = get(q);
        EXPECT_EQ(r.status, status) << r.body;
        auto e = nlohmann::json::parse(r.body);
        EXPECT_EQ(e["error"].get<std::string>().substr(0, prefix.size()), prefix) << r.body;
    };
    err({{"start", "now-1s"}}, 400, "signals: required");
    err({{"signals", "cha"}, {"start", "now-1s"}}, 400, "signals: 'cha' is not channel.field");
    err({{"signals", "ch.a"}}, 400, "start: required");
    err({{"signals", "ch.a"}, {"start", "yesterday"}}, 400, "start: ");
    err({{"signals", "ch.a"}, {"start", "now"}, {"end", "now-1s"}}, 400, "end: must be after start");
    err({{"signals", "ch.a"}, {"start", "now-1s"}, {"points", "0"}}, 400, "points: ");
    err({{"signals", "ch.a"}, {"start", "now-1s"}, {"points", "10001"}}, 400, "points: ");
    err({{"signals", "ch.a"}, {"start", "now-1s"}, {"points", "x"}}, 400, "points: ");
    err({{"signals", "zz.a"}, {"start", "now-1s"}}, 404, "signals: unknown channel 'zz' (known: ch)");
    err({{"signals", "ch.q"}, {"start", "now-1s"}}, 404, "signals: unknown signal 'ch.q' (known: ch.a, ch.b, ch.c)");
}

TEST(HistoryTimeParam, NsIsoAndRelative) {
    const int64_t now = 1700000000000000000LL;
    EXPECT_EQ(*history::parse_time_param("1700000000000000123", now), 1700000000000000123LL);
    EXPECT_EQ(*history::parse_time_param("now", now), now);
    EXPECT_EQ(*history::parse_time_param("now-30s", now), now - 30000000000LL);
    EXPECT_EQ(*history::parse_time_param("now-PT1M", now), now - 60000000000LL);
    EXPECT_EQ(*history::parse_time_param("now+250ms", now), now + 250000000LL);
    EXPECT_EQ(*history::parse_time_param("2023-11-14T22:13:20Z", now), now);
    EXPECT_FALSE(history::parse_time_param("now-", now).ok());
    EXPECT_FALSE(history::parse_time_param("nowish", now).ok());
    EXPECT_FALSE(history::parse_time_param("2023-11-14T22:13:20", now).ok());  // no zone: ambiguous
    EXPECT_FALSE(history::parse_time_param("99999999999999999999", now).ok());
}
