// CacheWriter through an injected clock: rotation by size and by age, retention by age and
// by quota, block age, and the burst buffer's loss accounting, on real files in a temp
// directory, written on the test's thread (no writer thread, no sleeps).
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/cache_layout.hpp"
#include "relay/cache_writer.hpp"

using namespace speeddata;
using relay::CacheWriter;

namespace {

class FakeClock : public relay::Clock {
public:
    int64_t mono = 1'000'000'000;
    int64_t wall = 1'800'000'000'000'000'000;
    int64_t monotonic_ns() const override { return mono; }
    int64_t wall_ns() const override { return wall; }
    void advance_s(double s) {
        mono += static_cast<int64_t>(s * 1e9);
        wall += static_cast<int64_t>(s * 1e9);
    }
};

const char* k_schema = R"({"type":"record","name":"r","fields":[{"name":"time","type":"long"},{"name":"s","type":"string"}]})";

// Exactly 100 bytes: the time stamp, then a string padded to fit (its length takes 2 bytes).
std::string datum(int64_t t) {
    std::string out;
    avro::append_long(out, t);
    const size_t n = 98 - out.size();
    avro::append_long(out, static_cast<int64_t>(n));
    out.append(n, 'x');
    return out;
}

struct Fixture {
    std::filesystem::path root;
    avro::Schema schema;
    config::ChannelConfig cfg;
    relay::Counters counters;
    FakeClock clock;
    int64_t next_t = 0;

    Fixture() {
        static std::atomic<int> n{0};
        root = std::filesystem::temp_directory_path() / ("sd-cw-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        std::filesystem::remove_all(root);
        schema = std::move(avro::Schema::parse(k_schema)).value();
        cfg.name = "ch";
        cfg.avro_dir = root / "ch";
        cfg.block_bytes = 1000;
        cfg.flush_interval = std::chrono::milliseconds(1000);
        cfg.rotate_bytes = 0;
        cfg.rotate_interval = std::chrono::seconds(0);
        cfg.retention_ttl = std::chrono::seconds(0);
        cfg.retention_min_free_bytes = 0;
        cfg.max_datagram_bytes = 2000;
        cfg.burst_buffer_bytes = 64 << 10;
    }
    ~Fixture() {
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }
    std::unique_ptr<CacheWriter> writer() {
        relay::CacheWriterOptions o;
        o.clock = &clock;
        auto w = std::make_unique<CacheWriter>(cfg, schema, counters, "ns", o);
        w->scan();
        return w;
    }
    // n datagrams of one 100-byte datum each, time stamps counting up.
    void send(CacheWriter& w, int n) {
        for (int i = 0; i < n; ++i) {
            auto d = datum(next_t);
            w.append(reinterpret_cast<const uint8_t*>(d.data()), d.size(), 1, next_t, next_t);
            ++next_t;
        }
    }
    std::vector<cache::CacheFile> files() const { return cache::list_files(cfg.avro_dir, "ch"); }
    // Every record time stamp of every file, read back by the container reader.
    std::vector<int64_t> times() const {
        std::vector<int64_t> out;
        for (const auto& f : files()) {
            auto r = avro::FileReader::open(f.path);
            EXPECT_TRUE(r.ok()) << r.message();
            avro::Block b;
            while (*r->next_block(b)) {
                auto p = reinterpret_cast<const uint8_t*>(b.data.data());
                auto end = p + b.data.size();
                while (p < end) {
                    int64_t t = 0;
                    p += avro::read_long(p, end, t);
                    int64_t len = 0;
                    p += avro::read_long(p, end, len);
                    p += len;
                    out.push_back(t);
                }
            }
        }
        return out;
    }
};

// While records keep coming and the writer is one block behind (as the writer thread is),
// each new block starts after the last, so the producer walks the ring. Trimming ahead of it
// then only made the pages fault in again: the relay took ~2,000 page faults a second at
// 8000 B x 18k/s. Pages written in the last second stay; the others go back.
TEST(CacheWriter, PagesAreKeptWhileRecordsArriveAndReturnedWhenIdle) {
    Fixture f;
    f.cfg.burst_buffer_bytes = 16 << 10;  // the walk wraps every ~8 rounds
    auto w = f.writer();
    size_t most = 0;
    for (int round = 0; round < 40; ++round) {  // 4 s of a stream, 0.1 s per round
        f.send(*w, 20);                         // two 1000-byte blocks
        f.clock.advance_s(0.1);
        w->flush_if_due(false);
        w->write_pending();                     // the writer catches up after the producer moved on
        most = std::max(most, w->buffer().touched_bytes());
        ASSERT_GE(w->buffer().touched_bytes(), most) << "pages returned at round " << round << " while records arrive";
        f.send(*w, 1);  // the open block: the writer is behind again when the next round starts
    }
    EXPECT_EQ(most, w->buffer().capacity());  // the producer did walk (and wrap) the ring
    w->flush_if_due(true);
    w->write_pending();
    f.clock.advance_s(1.1);
    w->flush_if_due(false);  // the last second's pages are kept once more...
    f.clock.advance_s(1.1);
    w->flush_if_due(false);  // ...and returned after a second with nothing written
    EXPECT_LE(w->buffer().touched_bytes(), 8192u);
    EXPECT_EQ(f.counters.records_not_written.load(), 0u);
    EXPECT_EQ(f.times().size(), 40u * 21u);
}

// A burst, then a trickle the writer keeps up with: the trickle stays in the ring's first
// pages, and the burst's pages go back while the trickle goes on (not only when it stops).
TEST(CacheWriter, ABurstsPagesGoBackWhileATrickleContinues) {
    Fixture f;
    f.cfg.burst_buffer_bytes = 8 << 20;
    auto w = f.writer();
    for (int i = 0; i < 400; ++i) f.send(*w, 100);  // 4 MB while the writer is behind
    EXPECT_GE(w->buffer().touched_bytes(), 4000000u);
    w->write_pending();
    for (int round = 0; round < 30; ++round) {  // 3 s of one datagram per 0.1 s
        f.send(*w, 1);
        f.clock.advance_s(0.1);
        w->flush_if_due(false);
        w->write_pending();
    }
    EXPECT_LE(w->buffer().touched_bytes(), 8192u);
    EXPECT_EQ(f.counters.records_not_written.load(), 0u);
    EXPECT_EQ(f.times().size(), 400u * 100u + 30u);
}

}  // namespace

TEST(CacheWriter, BlocksAtBlockSizeAndAtFlushIntervalWithAnExactIndex) {
    Fixture f;
    auto w = f.writer();
    f.send(*w, 25);  // 10 datums of 100 bytes fill a 1000-byte block
    w->flush_if_due(false);
    w->write_pending();
    EXPECT_EQ(f.counters.records_written.load(), 20u);
    f.clock.advance_s(0.5);
    w->flush_if_due(false);
    w->write_pending();
    EXPECT_EQ(f.counters.records_written.load(), 20u);  // the open block is young
    f.clock.advance_s(0.6);
    w->flush_if_due(false);
    w->write_pending();
    EXPECT_EQ(f.counters.records_written.load(), 25u);
    auto files = f.files();
    ASSERT_EQ(files.size(), 1u);
    auto idx = cache::read_index(cache::index_path(files[0].path));
    ASSERT_EQ(idx.size(), 3u);
    auto reader = avro::FileReader::open(files[0].path);
    ASSERT_TRUE(reader.ok());
    uint64_t end = reader->header_size();
    for (size_t i = 0; i < idx.size(); ++i) {
        EXPECT_EQ(idx[i].offset, end);
        EXPECT_EQ(idx[i].min_ns, static_cast<int64_t>(i * 10));
        end += idx[i].size;
    }
    EXPECT_EQ(idx[2].count, 5u);
    EXPECT_EQ(end, std::filesystem::file_size(files[0].path));
    std::vector<int64_t> want(25);
    for (int i = 0; i < 25; ++i) want[static_cast<size_t>(i)] = i;
    EXPECT_EQ(f.times(), want);
}

TEST(CacheWriter, RotatesBySizeAndKeepsTheQuota) {
    Fixture f;
    f.cfg.rotate_bytes = 4096;
    f.cfg.retention_max_bytes = 16384;
    auto w = f.writer();
    for (int i = 0; i < 40; ++i) {
        f.send(*w, 10);
        f.clock.advance_s(0.002);  // distinct file names
        w->write_pending();
    }
    EXPECT_EQ(f.counters.records_written.load(), 400u);
    EXPECT_GT(f.counters.files_created.load(), 8u);
    EXPECT_GT(f.counters.files_deleted.load(), 0u);
    uint64_t total = 0;
    for (const auto& file : f.files()) {
        auto size = std::filesystem::file_size(file.path);
        EXPECT_LE(size, 4096u + 1100u);
        total += size + std::filesystem::file_size(cache::index_path(file.path));
    }
    EXPECT_LE(total, 16384u + 4096u + 1100u);
    EXPECT_EQ(f.counters.bytes_on_disk.load(), total);
    auto t = f.times();  // the newest records, contiguous
    ASSERT_FALSE(t.empty());
    EXPECT_GT(t.front(), 0);
    EXPECT_EQ(t.back(), 399);
    EXPECT_EQ(static_cast<int64_t>(t.size()), 400 - t.front());
}

TEST(CacheWriter, RotatesByAgeAndRemovesFilesPastTheTtl) {
    Fixture f;
    f.cfg.rotate_interval = std::chrono::seconds(60);
    f.cfg.retention_ttl = std::chrono::seconds(300);
    auto w = f.writer();
    for (int minute = 0; minute < 10; ++minute) {
        f.send(*w, 10);
        w->write_pending();
        f.clock.advance_s(60);
        w->write_pending();  // the idle file past its interval is closed
    }
    EXPECT_EQ(f.counters.files_created.load(), 10u);
    // Retention runs every 10 s of the clock: files last written more than 300 s ago go.
    f.clock.advance_s(11);
    w->write_pending();
    // File k was last written at 60 k s; now is 611 s: files 0..5 are older than 300 s.
    EXPECT_EQ(f.files().size(), 4u);
    EXPECT_EQ(f.counters.files_deleted.load(), 6u);
    EXPECT_EQ(f.times().front(), 60);
}

TEST(CacheWriter, AFullBurstBufferCountsExactlyTheRecordsItCouldNotHold) {
    Fixture f;
    f.cfg.burst_buffer_bytes = 0;  // the smallest: two blocks and a datagram (4000 bytes)
    auto w = f.writer();
    EXPECT_EQ(w->buffer_bytes(), 4096u);  // rounded up to a page
    f.send(*w, 100);  // the writer is "stalled": nothing is written while these arrive
    const uint64_t lost = f.counters.records_not_written.load();
    EXPECT_EQ(lost, 100u - 40u);  // 4096 bytes hold 40 datums of 100 bytes
    w->flush_if_due(true);
    w->write_pending();
    EXPECT_EQ(f.counters.records_written.load() + lost, 100u);
    f.send(*w, 30);  // room again
    w->flush_if_due(true);
    w->write_pending();
    EXPECT_EQ(f.counters.records_not_written.load(), lost);
    auto t = f.times();
    ASSERT_EQ(t.size(), 70u);
    for (int i = 0; i < 40; ++i) EXPECT_EQ(t[static_cast<size_t>(i)], i);
    for (int i = 0; i < 30; ++i) EXPECT_EQ(t[40 + static_cast<size_t>(i)], 100 + i);
}

TEST(CacheWriter, ASteadyStreamStaysInTheFirstPagesAndIdlePagesAreReturned) {
    Fixture f;
    f.cfg.burst_buffer_bytes = 8 << 20;
    auto w = f.writer();
    for (int i = 0; i < 5000; ++i) {  // 5 MB in 1000-byte blocks, each written as it fills
        f.send(*w, 10);
        w->write_pending();
    }
    EXPECT_LE(w->buffer().touched_bytes(), 4096u);
    // A burst: 4 MB arrive while the writer is behind.
    for (int i = 0; i < 400; ++i) f.send(*w, 100);
    EXPECT_GE(w->buffer().touched_bytes(), 4000000u);
    w->write_pending();
    f.clock.advance_s(1.1);
    w->flush_if_due(false);  // trims once a second, keeping what the last second wrote...
    f.clock.advance_s(1.1);
    w->flush_if_due(false);  // ...so the burst's pages are back at the second trim
    EXPECT_LE(w->buffer().touched_bytes(), 8192u);
    EXPECT_EQ(f.counters.records_not_written.load(), 0u);
}
