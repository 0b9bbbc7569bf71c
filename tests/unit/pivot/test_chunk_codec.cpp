// The pivot's own chunk encoding (shuffle + libdeflate, written with H5Dwrite_chunk) must be
// exactly what HDF5's filter pipeline decodes; and the column writer, which uses it for
// scalar columns and (through a scratch dataset) for variable-length ones, must give back
// every value through plain H5Dread whatever the filters and chunk size.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/avro/schema.hpp"
#include "pivot/chunk_codec.hpp"
#include "pivot/columns.hpp"
#include "pivot/hdf5.hpp"

using namespace speeddata;

namespace {

std::filesystem::path temp_file(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("chunk_codec_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir / name;
}

std::vector<uint8_t> pattern(size_t bytes) {
    std::vector<uint8_t> v(bytes);
    for (size_t i = 0; i < bytes; ++i) v[i] = static_cast<uint8_t>((i * 131 + i / 7) ^ (i >> 9));
    return v;
}

}  // namespace

TEST(ChunkCodec, ShuffleIsHdf5sLayoutAndRoundTrips) {
    const uint8_t in[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};  // three 4-byte elements
    uint8_t out[12], back[12];
    pivot::shuffle_bytes(in, out, 3, 4);
    const uint8_t want[] = {1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12};
    EXPECT_EQ(0, std::memcmp(out, want, sizeof want));
    for (size_t elem : {1u, 2u, 4u, 8u, 16u}) {
        for (size_t n : {1u, 3u, 1000u}) {
            auto v = pattern(n * elem);
            std::vector<uint8_t> s(v.size()), b(v.size());
            pivot::shuffle_bytes(v.data(), s.data(), n, elem);
            pivot::unshuffle_bytes(s.data(), b.data(), n, elem);
            EXPECT_EQ(v, b) << elem << " x " << n;
        }
    }
    pivot::unshuffle_bytes(out, back, 3, 4);
    EXPECT_EQ(0, std::memcmp(back, in, sizeof in));
}

TEST(ChunkCodec, EncodedChunksAreReadByHdf5sFilterPipeline) {
    h5::quiet_errors();
    const hsize_t n = 5000;  // elements per chunk
    const hsize_t m = 1234;  // elements in the last, partial chunk
    auto path = temp_file("direct.h5");
    struct Case {
        hid_t type;
        size_t elem;
        pivot::ChunkFilters f;
    };
    const Case cases[] = {
        {H5T_NATIVE_DOUBLE, 8, {.shuffle = true, .deflate = true, .level = 1}},
        {H5T_NATIVE_DOUBLE, 8, {.shuffle = true, .deflate = true, .level = 9}},
        {H5T_NATIVE_INT32, 4, {.shuffle = false, .deflate = true, .level = 0}},
        {H5T_NATIVE_INT64, 8, {.shuffle = true, .deflate = false, .level = 1}},
        {H5T_NATIVE_UINT8, 1, {.shuffle = false, .deflate = true, .level = 4}},
        {H5T_NATIVE_INT16, 2, {.shuffle = false, .deflate = false, .level = 1}},
    };
    int k = 0;
    for (const Case& c : cases) {
        SCOPED_TRACE(k);
        h5::H5Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
        hsize_t dims = n + m, maxd = H5S_UNLIMITED;
        h5::H5Id space(H5Screate_simple(1, &dims, &maxd));
        h5::H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
        H5Pset_chunk(dcpl.get(), 1, &n);
        if (c.f.shuffle) H5Pset_shuffle(dcpl.get());
        if (c.f.deflate) H5Pset_deflate(dcpl.get(), static_cast<unsigned>(c.f.level));
        h5::H5Id d(H5Dcreate2(file.get(), "d", c.type, space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
        ASSERT_TRUE(d.valid());
        auto data = pattern((n + m) * c.elem);
        for (hsize_t chunk = 0; chunk < 2; ++chunk) {
            std::vector<uint8_t> enc;
            ASSERT_TRUE(pivot::encode_chunk(data.data() + chunk * n * c.elem, chunk ? m : n, n, c.elem, c.f, enc).ok());
            if (c.f.deflate && c.f.level > 0) {
                EXPECT_LT(enc.size(), n * c.elem);
            }
            hsize_t offset = chunk * n;
            ASSERT_GE(H5Dwrite_chunk(d.get(), H5P_DEFAULT, 0, &offset, enc.size(), enc.data()), 0);
        }
        d.reset();
        file.reset();
        file = h5::H5Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
        d = h5::H5Id(H5Dopen2(file.get(), "d", H5P_DEFAULT));
        std::vector<uint8_t> back(data.size());
        ASSERT_GE(H5Dread(d.get(), c.type, H5S_ALL, H5S_ALL, H5P_DEFAULT, back.data()), 0);
        EXPECT_EQ(back, data);
        ++k;
    }
    std::filesystem::remove_all(path.parent_path());
}

namespace {

const char* all_types_schema = R"({"type":"record","name":"all","fields":[
  {"name":"time","type":"long"},
  {"name":"flag","type":"boolean"},
  {"name":"i","type":"int"},
  {"name":"l","type":"long"},
  {"name":"f","type":"float"},
  {"name":"d","type":"double"},
  {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
  {"name":"s","type":"string"},
  {"name":"raw","type":"bytes"},
  {"name":"maybe","type":["null","double"]},
  {"name":"label","type":["null","string"]}]})";

std::string word(int i) { return i % 5 == 0 ? std::string() : "w" + std::to_string(i) + std::string(i % 7, 'x'); }

std::string datum(int i) {
    std::string out;
    avro::append_long(out, 1700000000000000000LL + i * 1000LL);
    out.push_back(static_cast<char>(i % 3 == 0));
    avro::append_long(out, -i * 3);
    avro::append_long(out, static_cast<int64_t>(i) << 33);
    avro::append_float(out, static_cast<float>(i) / 4);
    avro::append_double(out, std::sin(i * 0.1));
    avro::append_long(out, i % 3);
    std::string w = word(i);
    avro::append_long(out, static_cast<int64_t>(w.size()));
    out += w;
    std::string b(static_cast<size_t>(i % 4), static_cast<char>(i & 0xff));
    avro::append_long(out, static_cast<int64_t>(b.size()));
    out += b;
    if (i % 4 == 1) {
        avro::append_long(out, 0);  // null
    } else {
        avro::append_long(out, 1);
        avro::append_double(out, i * 1.5);
    }
    if (i % 3 == 2) {
        avro::append_long(out, 0);
    } else {
        avro::append_long(out, 1);
        avro::append_long(out, 2);
        out += "L" + std::to_string(i % 10);
    }
    return out;
}

// Writes `rows` datums made by make(i) through the column writer into group "c" of a new file.
template <typename Make>
void write_columns(const avro::Schema& schema, const pivot::Hdf5Options& options, const std::filesystem::path& path,
                   int rows, Make make) {
    h5::H5Id file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
    auto cols = pivot::ChannelColumns::create(schema, "time", TimeUnit::ns, {}, options);
    ASSERT_TRUE(cols.ok()) << cols.message();
    ASSERT_TRUE((*cols)->open_group(file.get(), "c").ok());
    for (int i = 0; i < rows; ++i) {
        std::string d = make(i);
        Status io;
        auto p = reinterpret_cast<const uint8_t*>(d.data());
        ASSERT_EQ((*cols)->append(p, p + d.size(), io), p + d.size()) << i;
        ASSERT_TRUE(io.ok()) << io.message();
    }
    Status st = (*cols)->finish();
    ASSERT_TRUE(st.ok()) << st.message();
}

template <typename T>
std::vector<T> read_all(hid_t file, const char* name, hid_t mem_type) {
    h5::H5Id d(H5Dopen2(file, name, H5P_DEFAULT));
    EXPECT_TRUE(d.valid()) << name;
    h5::H5Id s(H5Dget_space(d.get()));
    hsize_t n = 0;
    H5Sget_simple_extent_dims(s.get(), &n, nullptr);
    std::vector<T> out(n);
    if (n) {
        EXPECT_GE(H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), 0) << name;
    }
    return out;
}

std::vector<std::string> read_strings(hid_t file, const char* name) {
    auto type = h5::vlen_utf8_type();
    auto ptrs = read_all<char*>(file, name, type.get());
    std::vector<std::string> out;
    for (char* p : ptrs) {
        out.emplace_back(p ? p : "");
        std::free(p);
    }
    return out;
}

}  // namespace

TEST(ChunkCodec, EveryColumnKindReadsBackWhateverTheFiltersAndChunks) {
    h5::quiet_errors();
    auto schema = avro::Schema::parse(all_types_schema);
    ASSERT_TRUE(schema.ok()) << schema.message();
    const int rows = 1000;
    struct Opt {
        bool gzip, shuffle;
        int level;
        uint64_t chunk;
    };
    const Opt opts[] = {{true, true, 1, 64}, {true, false, 0, 333}, {false, true, 1, 64},
                        {false, false, 1, 1000}, {true, true, 6, 65536}, {true, true, 1, 1}};
    for (const Opt& o : opts) {
        SCOPED_TRACE("gzip " + std::to_string(o.gzip) + " shuffle " + std::to_string(o.shuffle) + " level " +
                     std::to_string(o.level) + " chunk " + std::to_string(o.chunk));
        pivot::Hdf5Options options;
        options.gzip = o.gzip;
        options.shuffle = o.shuffle;
        options.gzip_level = o.level;
        options.chunk_rows = o.chunk;
        auto path = temp_file("cols.h5");
        ASSERT_NO_FATAL_FAILURE(write_columns(*schema, options, path, rows, datum));
        h5::H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
        auto time = read_all<int64_t>(file.get(), "c/time", H5T_NATIVE_INT64);
        auto flag = read_all<int8_t>(file.get(), "c/flag", H5T_NATIVE_INT8);
        auto i32 = read_all<int32_t>(file.get(), "c/i", H5T_NATIVE_INT32);
        auto i64 = read_all<int64_t>(file.get(), "c/l", H5T_NATIVE_INT64);
        auto f32 = read_all<float>(file.get(), "c/f", H5T_NATIVE_FLOAT);
        auto f64 = read_all<double>(file.get(), "c/d", H5T_NATIVE_DOUBLE);
        auto e = read_all<int32_t>(file.get(), "c/e", H5T_NATIVE_INT32);
        auto maybe = read_all<double>(file.get(), "c/maybe", H5T_NATIVE_DOUBLE);
        auto maybe_valid = read_all<int8_t>(file.get(), "c/maybe__valid", H5T_NATIVE_INT8);
        auto label_valid = read_all<int8_t>(file.get(), "c/label__valid", H5T_NATIVE_INT8);
        auto s = read_strings(file.get(), "c/s");
        auto label = read_strings(file.get(), "c/label");
        auto raw = read_all<hvl_t>(file.get(), "c/raw", h5::H5Id(H5Tvlen_create(H5T_NATIVE_UINT8)).get());
        ASSERT_EQ(time.size(), size_t(rows));
        for (auto* v : {&flag, &maybe_valid, &label_valid}) ASSERT_EQ(v->size(), size_t(rows));
        ASSERT_EQ(s.size(), size_t(rows));
        ASSERT_EQ(label.size(), size_t(rows));
        ASSERT_EQ(raw.size(), size_t(rows));
        for (int i = 0; i < rows; ++i) {
            SCOPED_TRACE(i);
            ASSERT_EQ(time[i], 1700000000000000000LL + i * 1000LL);
            ASSERT_EQ(flag[i], i % 3 == 0);
            ASSERT_EQ(i32[i], -i * 3);
            ASSERT_EQ(i64[i], static_cast<int64_t>(i) << 33);
            ASSERT_EQ(f32[i], static_cast<float>(i) / 4);
            ASSERT_EQ(f64[i], std::sin(i * 0.1));
            ASSERT_EQ(e[i], i % 3);
            ASSERT_EQ(maybe_valid[i], i % 4 != 1);
            ASSERT_EQ(maybe[i], i % 4 == 1 ? 0.0 : i * 1.5);
            ASSERT_EQ(label_valid[i], i % 3 != 2);
            ASSERT_EQ(label[i], i % 3 == 2 ? "" : "L" + std::to_string(i % 10));
            ASSERT_EQ(s[i], word(i));
            ASSERT_EQ(raw[i].len, static_cast<size_t>(i % 4));
            for (size_t k = 0; k < raw[i].len; ++k)
                ASSERT_EQ(static_cast<uint8_t*>(raw[i].p)[k], static_cast<uint8_t>(i & 0xff));
            std::free(raw[i].p);
        }
        // The datasets carry the filters that were asked for.
        h5::H5Id d(H5Dopen2(file.get(), "c/d", H5P_DEFAULT));
        h5::H5Id dcpl(H5Dget_create_plist(d.get()));
        EXPECT_EQ(H5Pget_nfilters(dcpl.get()), int(o.gzip) + int(o.shuffle));
    }
    std::filesystem::remove_all(temp_file("x").parent_path());
}

TEST(ChunkCodec, ScratchDatasetsForStringsDoNotGrowTheFile) {
    // Strings written the pivot's way (scratch dataset per chunk, references deflated on the
    // pool) must take no more room than HDF5 writing the same strings itself.
    h5::quiet_errors();
    auto schema = avro::Schema::parse(
        R"({"type":"record","name":"c","fields":[{"name":"time","type":"long"},{"name":"s","type":"string"}]})");
    ASSERT_TRUE(schema.ok());
    const int rows = 20000;
    const uint64_t chunk = 500;
    pivot::Hdf5Options options;
    options.chunk_rows = chunk;
    auto ours = temp_file("ours.h5"), plain = temp_file("plain.h5");
    std::vector<std::string> words;
    for (int i = 0; i < rows; ++i) words.push_back("value-" + std::to_string(i * 7919 % 1000));
    ASSERT_NO_FATAL_FAILURE(write_columns(*schema, options, ours, rows, [&](int i) {
        std::string d;
        avro::append_long(d, i);
        avro::append_long(d, static_cast<int64_t>(words[i].size()));
        return d + words[i];
    }));
    {
        h5::H5Id file(H5Fcreate(plain.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
        h5::H5Id g(H5Gcreate2(file.get(), "c", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        hsize_t n = rows, c = chunk;
        h5::H5Id space(H5Screate_simple(1, &n, nullptr));
        h5::H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
        H5Pset_chunk(dcpl.get(), 1, &c);
        H5Pset_deflate(dcpl.get(), 1);
        auto type = h5::vlen_utf8_type();
        h5::H5Id d(H5Dcreate2(g.get(), "s", type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT));
        std::vector<const char*> ptrs;
        for (const auto& w : words) ptrs.push_back(w.c_str());
        ASSERT_GE(H5Dwrite(d.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), 0);
        std::vector<int64_t> t(rows);
        for (int i = 0; i < rows; ++i) t[i] = i;
        h5::H5Id dcpl2(H5Pcreate(H5P_DATASET_CREATE));
        H5Pset_chunk(dcpl2.get(), 1, &c);
        H5Pset_shuffle(dcpl2.get());
        H5Pset_deflate(dcpl2.get(), 1);
        h5::H5Id dt(H5Dcreate2(g.get(), "time", H5T_STD_I64LE, space.get(), H5P_DEFAULT, dcpl2.get(), H5P_DEFAULT));
        ASSERT_GE(H5Dwrite(dt.get(), H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data()), 0);
    }
    auto ours_size = std::filesystem::file_size(ours), plain_size = std::filesystem::file_size(plain);
    // Ours adds attributes (a few KiB); a leaked scratch chunk per flush would add 40 x 8 KiB.
    EXPECT_LT(ours_size, plain_size + 64 * 1024) << ours_size << " vs " << plain_size;
    h5::H5Id file(H5Fopen(ours.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    EXPECT_EQ(read_strings(file.get(), "c/s"), words);
    std::filesystem::remove_all(ours.parent_path());
}

TEST(ChunkCodec, AnExportSmallerThanAChunkGetsChunksOfItsOwnSize) {
    // 10 rows must not be padded to hdf5.chunk_rows (65536) rows per column on disk.
    h5::quiet_errors();
    auto schema = avro::Schema::parse(all_types_schema);
    ASSERT_TRUE(schema.ok());
    auto path = temp_file("small.h5");
    ASSERT_NO_FATAL_FAILURE(write_columns(*schema, pivot::Hdf5Options{}, path, 10, datum));
    h5::H5Id file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    for (const char* name : {"c/time", "c/d", "c/s", "c/maybe__valid"}) {
        h5::H5Id d(H5Dopen2(file.get(), name, H5P_DEFAULT));
        h5::H5Id dcpl(H5Dget_create_plist(d.get()));
        hsize_t chunk = 0;
        ASSERT_EQ(H5Pget_chunk(dcpl.get(), 1, &chunk), 1) << name;
        EXPECT_EQ(chunk, 10u) << name;
    }
    EXPECT_EQ(read_strings(file.get(), "c/s")[9], word(9));
    EXPECT_LT(std::filesystem::file_size(path), 64u * 1024);
    std::filesystem::remove_all(path.parent_path());
}
