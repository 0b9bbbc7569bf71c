// The pivot's threads belong to the export that starts them (pivot/export_threads.hpp): each
// export gets the chunk encoders its hdf5.threads asks for, and when it returns no thread of
// it is left in the process.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/avro/schema.hpp"
#include "pivot/pivot.hpp"

using namespace speeddata;
namespace fs = std::filesystem;

namespace {

// Threads of this process now (the kernel's list, not the library's idea of it).
size_t thread_count() {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator("/proc/self/task")) {
        (void)e;
        ++n;
    }
    return n;
}

struct TempDir {
    fs::path path = fs::temp_directory_path() / ("export_threads_" + std::to_string(::getpid()));
    TempDir() { fs::create_directories(path); }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

// A cache file of `records` records of {time: long ns, x: double, word: string}, in small
// blocks so the export reads many of them.
fs::path write_cache_file(const fs::path& dir, int records) {
    auto schema = avro::Schema::parse(R"({"type": "record", "name": "r", "fields": [
        {"name": "time", "type": "long"}, {"name": "x", "type": "double"},
        {"name": "word", "type": "string"}]})");
    EXPECT_TRUE(schema.ok());
    fs::path path = dir / "chan_1.avro";
    avro::BlockEncoderOptions o;
    o.metadata["speeddata.channel"] = "chan";
    o.metadata["speeddata.time_unit"] = "ns";
    auto w = avro::FileWriter::create(path, *schema, o, 4096);
    EXPECT_TRUE(w.ok()) << w.message();
    std::string datum;
    for (int i = 0; i < records; ++i) {
        datum.clear();
        avro::append_long(datum, 1'700'000'000'000'000'000LL + i * 1'000'000LL);
        avro::append_double(datum, i * 0.5);
        const std::string word = "w" + std::to_string(i % 10);
        avro::append_long(datum, static_cast<int64_t>(word.size()));
        datum += word;
        EXPECT_TRUE(w->append({reinterpret_cast<const uint8_t*>(datum.data()), datum.size()}).ok());
    }
    EXPECT_TRUE(w->close().ok());
    return path;
}

// Converts `file` with hdf5.threads = threads; returns the most threads the process had
// while the export read its blocks.
size_t peak_threads_of_export(const fs::path& file, const fs::path& out, unsigned threads) {
    pivot::ExportRequest req;
    size_t peak = 0;
    req.progress = [&](uint64_t, uint64_t) { peak = std::max(peak, thread_count()); };
    pivot::Hdf5Options options;
    options.threads = threads;
    options.chunk_rows = 256;  // several chunks: the writer and encoders work during the export
    auto r = pivot::convert_files({file}, req, options, out);
    EXPECT_TRUE(r.ok()) << r.status.message();
    EXPECT_EQ(r.rows, 5000u);
    return peak;
}

// The process's thread count once it has come back to `want`, or after 5 s. A joined thread
// can stay listed in /proc/self/task for a moment (seen under QEMU with the machine loaded).
size_t settled_thread_count(size_t want) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    size_t n = thread_count();
    while (n != want && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        n = thread_count();
    }
    return n;
}

}  // namespace

TEST(ExportThreads, EachExportGetsThePoolSizeItAsksForAndLeavesNoThreadBehind) {
    TempDir dir;
    const fs::path file = write_cache_file(dir.path, 5000);
    const size_t before = thread_count();
    // hdf5.threads encoders + the one writer thread, for this export only.
    EXPECT_EQ(peak_threads_of_export(file, dir.path / "a.h5", 3), before + 3 + 1);
    EXPECT_EQ(settled_thread_count(before), before);
    // A later export with another setting is not stuck with the first one's pool.
    EXPECT_EQ(peak_threads_of_export(file, dir.path / "b.h5", 1), before + 1 + 1);
    EXPECT_EQ(settled_thread_count(before), before);
    EXPECT_EQ(peak_threads_of_export(file, dir.path / "c.h5", 2), before + 2 + 1);
    EXPECT_EQ(settled_thread_count(before), before);
}
