// Container files: each codec round-trips; the reader reports and skips damaged blocks,
// stops cleanly at a truncated tail, follows a file that is still being appended, seeks.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "avro_test_util.hpp"
#include "core/avro/container.hpp"

using namespace avro_test;
namespace fs = std::filesystem;

namespace {

class TempDir {
public:
    TempDir() {
        path_ = fs::temp_directory_path() / ("sd_avro_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    fs::path operator/(const std::string& name) const { return path_ / name; }

private:
    static inline int counter_ = 0;
    fs::path path_;
};

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_file(const fs::path& p, const std::string& data) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Random datums of the schema, binary encoded.
std::vector<std::string> make_datums(const Schema& s, int n, uint32_t seed) {
    RandomValues gen(s, seed);
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
        std::string d;
        EXPECT_TRUE(encode(s, gen.make(), d).ok());
        out.push_back(std::move(d));
    }
    return out;
}

void write_avro(const fs::path& p, const Schema& s, const std::vector<std::string>& datums, Codec codec,
                size_t block_bytes, std::map<std::string, std::string> meta = {}) {
    BlockEncoderOptions o;
    o.codec = codec;
    o.metadata = std::move(meta);
    auto w = FileWriter::create(p, s, o, block_bytes);
    ASSERT_TRUE(w.ok()) << w.message();
    for (const auto& d : datums) ASSERT_TRUE(w->append({bytes_of(d), d.size()}).ok());
    ASSERT_TRUE(w->close().ok());
}

struct ReadBack {
    std::vector<std::string> datums;
    std::vector<uint64_t> block_offsets;
    std::vector<uint64_t> block_counts;
    std::vector<std::string> problems;
};

// Reads every good block and splits it into datums with the validator.
ReadBack read_avro(FileReader& r) {
    ReadBack out;
    Validator v(r.schema());
    Block b;
    for (;;) {
        auto more = r.next_block(b);
        EXPECT_TRUE(more.ok()) << more.message();
        if (!more.ok() || !*more) break;
        out.block_offsets.push_back(b.file_offset);
        out.block_counts.push_back(b.count);
        const uint8_t* p = reinterpret_cast<const uint8_t*>(b.data.data());
        const uint8_t* e = p + b.data.size();
        for (uint64_t i = 0; i < b.count; ++i) {
            auto res = v.validate(p, static_cast<size_t>(e - p));
            EXPECT_TRUE(res.ok());
            if (!res.ok()) break;
            out.datums.emplace_back(reinterpret_cast<const char*>(p), res.consumed);
            p += res.consumed;
        }
        EXPECT_EQ(p, e);
    }
    out.problems = r.problems();
    return out;
}

ReadBack read_avro(const fs::path& p) {
    auto r = FileReader::open(p);
    EXPECT_TRUE(r.ok()) << r.message();
    if (!r) return {};
    return read_avro(*r);
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + "\n";
    return s;
}

}  // namespace

TEST(AvroContainer, CodecNames) {
    EXPECT_EQ(*parse_codec("null"), Codec::null_codec);
    EXPECT_EQ(*parse_codec("deflate"), Codec::deflate);
    EXPECT_EQ(*parse_codec("snappy"), Codec::snappy);
    EXPECT_EQ(*parse_codec("zstandard"), Codec::zstandard);
    EXPECT_EQ(*parse_codec("zstd"), Codec::zstandard);
    EXPECT_FALSE(parse_codec("bzip2").ok());
    EXPECT_NE(parse_codec("lz4").message().find("unknown codec 'lz4'"), std::string::npos);
    EXPECT_EQ(codec_name(Codec::zstandard), "zstandard");
    EXPECT_EQ(codec_name(Codec::null_codec), "null");
}

TEST(AvroContainer, EachCodecRoundTrips) {
    TempDir dir;
    Schema s = load("tests/data/avro/rich.avsc");
    auto datums = make_datums(s, 400, 1);
    std::set<std::string> syncs;
    for (Codec c : {Codec::null_codec, Codec::deflate, Codec::snappy, Codec::zstandard}) {
        const fs::path p = dir / (std::string(codec_name(c)) + ".avro");
        write_avro(p, s, datums, c, 4096, {{"speeddata.channel", "test"}, {"avro.codec", "ignored"}});
        auto r = FileReader::open(p);
        ASSERT_TRUE(r.ok()) << r.message();
        EXPECT_EQ(r->codec(), c);
        EXPECT_EQ(r->schema().fingerprint(), s.fingerprint());
        EXPECT_EQ(r->metadata().at("speeddata.channel"), "test");
        EXPECT_EQ(r->metadata().at("avro.codec"), codec_name(c));  // the encoder's own key wins
        EXPECT_EQ(r->metadata().at("avro.schema"), s.json_text());
        EXPECT_GT(r->header_size(), 16u);
        syncs.insert(std::string(r->sync().begin(), r->sync().end()));
        ReadBack back = read_avro(*r);
        EXPECT_TRUE(back.problems.empty()) << joined(back.problems);
        EXPECT_GT(back.block_offsets.size(), 5u) << codec_name(c);
        ASSERT_EQ(back.datums.size(), datums.size());
        EXPECT_EQ(back.datums, datums) << codec_name(c);
    }
    EXPECT_EQ(syncs.size(), 4u);  // a fresh random sync marker per file
}

TEST(AvroContainer, CompressedCodecsCompress) {
    TempDir dir;
    Schema s = load("config/agents/example.avsc");
    std::vector<std::string> datums;
    for (int i = 0; i < 2000; ++i) {
        std::string d;
        append_long(d, 1700000000000000000LL + i * 1000000LL);
        append_long(d, 4);
        d += "word";
        append_long(d, i);
        for (int k = 0; k < 4; ++k) append_double(d, (i % 40) / 40.0);
        datums.push_back(d);
    }
    const fs::path raw = dir / "n.avro";
    write_avro(raw, s, datums, Codec::null_codec, 1 << 20);
    for (Codec c : {Codec::deflate, Codec::snappy, Codec::zstandard}) {
        const fs::path p = dir / "c.avro";
        write_avro(p, s, datums, c, 1 << 20);
        EXPECT_LT(fs::file_size(p) * 2, fs::file_size(raw)) << codec_name(c);
        EXPECT_EQ(read_avro(p).datums, datums);
    }
}

TEST(AvroContainer, HeaderLayout) {
    Schema s = parse(R"("long")");
    BlockEncoderOptions o;
    o.metadata["k"] = "v";
    BlockEncoder enc(s, o);
    const std::string h = enc.header();
    ASSERT_EQ(h.substr(0, 4), std::string("Obj\x01", 4));
    // Metadata map: count 3, then key/value pairs, then 0; then the sync marker.
    std::string want("Obj\x01", 4);
    append_long(want, 3);
    for (auto [k, v] : {std::pair<std::string, std::string>{"avro.schema", "\"long\""}, {"avro.codec", "null"}, {"k", "v"}}) {
        append_long(want, static_cast<int64_t>(k.size()));
        want += k;
        append_long(want, static_cast<int64_t>(v.size()));
        want += v;
    }
    want.push_back('\0');
    want.append(reinterpret_cast<const char*>(enc.sync().data()), 16);
    EXPECT_EQ(h, want);

    std::string datums;
    append_long(datums, 5);
    append_long(datums, -5);
    std::string block;
    ASSERT_TRUE(enc.encode_block({bytes_of(datums), datums.size()}, 2, block).ok());
    std::string want_block;
    append_long(want_block, 2);
    append_long(want_block, 2);
    want_block += datums;
    want_block.append(reinterpret_cast<const char*>(enc.sync().data()), 16);
    EXPECT_EQ(block, want_block);

    BlockEncoder other(s, o);
    EXPECT_NE(enc.sync(), other.sync());
}

TEST(AvroContainer, WriterRejectsDatumsThatDoNotMatch) {
    TempDir dir;
    Schema s = load("config/agents/example.avsc");
    auto w = FileWriter::create(dir / "x.avro", s, {}, 1024);
    ASSERT_TRUE(w.ok());
    const std::string junk("\x02", 1);
    speeddata::Status st = w->append({bytes_of(junk), junk.size()});
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("datum does not match the schema: truncated"), std::string::npos) << st.message();
    ASSERT_TRUE(w->close().ok());
    ASSERT_TRUE(w->close().ok());  // idempotent
    EXPECT_FALSE(w->append({bytes_of(junk), junk.size()}).ok());
    auto bad = FileWriter::create(dir / "no" / "such" / "dir.avro", s, {});
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.message().find("No such file or directory"), std::string::npos);
}

TEST(AvroContainer, ReaderSkipsDamagedBlocks) {
    TempDir dir;
    Schema s = load("tests/data/avro/rich.avsc");
    auto datums = make_datums(s, 300, 2);
    for (Codec c : {Codec::null_codec, Codec::deflate, Codec::snappy, Codec::zstandard}) {
        const fs::path p = dir / "good.avro";
        write_avro(p, s, datums, c, 2048);
        ReadBack good = read_avro(p);
        ASSERT_TRUE(good.problems.empty());
        const size_t nblocks = good.block_offsets.size();
        ASSERT_GT(nblocks, 6u);
        const std::string bytes = read_file(p);
        auto datums_without = [&](std::set<size_t> skipped) {
            std::vector<std::string> want;
            size_t k = 0;
            for (size_t b = 0; b < nblocks; ++b) {
                for (uint64_t i = 0; i < good.block_counts[b]; ++i, ++k) {
                    if (!skipped.count(b)) want.push_back(datums[k]);
                }
            }
            return want;
        };
        const uint64_t b3 = good.block_offsets[3], b4 = good.block_offsets[4];

        // 1. The sync marker after block 3 is overwritten: blocks 3 and 4 cannot be told
        //    apart any more; the scan resumes after block 4's marker.
        {
            std::string bad = bytes;
            bad[b4 - 5] ^= 0x55;
            write_file(dir / "bad.avro", bad);
            ReadBack r = read_avro(dir / "bad.avro");
            EXPECT_EQ(r.datums, datums_without({3, 4})) << codec_name(c);
            ASSERT_EQ(r.problems.size(), 1u) << joined(r.problems);
            EXPECT_NE(r.problems[0].find("damaged block at offset " + std::to_string(b3) + ": sync marker mismatch"),
                      std::string::npos)
                << r.problems[0];
            EXPECT_NE(r.problems[0].find("to the next sync marker (offset " + std::to_string(good.block_offsets[5] - 16) + ")"),
                      std::string::npos)
                << r.problems[0];
        }
        // 2. Block 3's header claims an impossible size: skipped up to its own marker.
        {
            std::string bad = bytes;
            // Replace the count varint's first byte with a negative count.
            bad[b3] = 0x01;
            write_file(dir / "bad.avro", bad);
            ReadBack r = read_avro(dir / "bad.avro");
            EXPECT_EQ(r.datums, datums_without({3})) << codec_name(c);
            ASSERT_EQ(r.problems.size(), 1u) << joined(r.problems);
            EXPECT_NE(r.problems[0].find("damaged block at offset " + std::to_string(b3)), std::string::npos);
        }
        // 3. Bytes inside block 5's data are garbage: the codec (CRC, stream structure) or
        //    the validator notices, and exactly that block is skipped.
        {
            std::string bad = bytes;
            const uint64_t b5 = good.block_offsets[5], b6 = good.block_offsets[6];
            for (uint64_t i = b5 + 4; i < b6 - 16; ++i) bad[i] = static_cast<char>(0xff);
            write_file(dir / "bad.avro", bad);
            ReadBack r = read_avro(dir / "bad.avro");
            EXPECT_EQ(r.datums, datums_without({5})) << codec_name(c);
            ASSERT_EQ(r.problems.size(), 1u) << joined(r.problems);
            EXPECT_NE(r.problems[0].find("damaged block at offset " + std::to_string(b5)), std::string::npos) << r.problems[0];
        }
        // 4. Garbage from block 3 to the end: everything before is read, the damage reported.
        {
            std::string bad = bytes.substr(0, b3) + std::string(5000, '\x07');
            write_file(dir / "bad.avro", bad);
            ReadBack r = read_avro(dir / "bad.avro");
            std::set<size_t> all_after;
            for (size_t b = 3; b < nblocks; ++b) all_after.insert(b);
            EXPECT_EQ(r.datums, datums_without(all_after));
            ASSERT_EQ(r.problems.size(), 1u) << joined(r.problems);
            EXPECT_NE(r.problems[0].find("no sync marker follows"), std::string::npos) << r.problems[0];
        }
    }
}

TEST(AvroContainer, ValidatorCatchesCorruptNullCodecData) {
    TempDir dir;
    Schema s = load("config/agents/example.avsc");
    std::vector<std::string> datums;
    for (int i = 0; i < 100; ++i) {
        std::string d;
        append_long(d, i);
        append_long(d, 2);
        d += "ok";
        append_long(d, i);
        for (int k = 0; k < 4; ++k) append_double(d, 0.5);
        datums.push_back(d);
    }
    const fs::path p = dir / "v.avro";
    write_avro(p, s, datums, Codec::null_codec, 200);
    ReadBack good = read_avro(p);
    std::string bytes = read_file(p);
    // In block 2, the first datum's string "ok" becomes invalid UTF-8: the block still has
    // its sync marker, only the validator can tell.
    const size_t at = bytes.find("ok", good.block_offsets[2]);
    bytes[at] = static_cast<char>(0xff);
    write_file(p, bytes);
    ReadBack r = read_avro(p);
    EXPECT_EQ(r.datums.size(), datums.size() - good.block_counts[2]);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_NE(r.problems[0].find("datum 0 of " + std::to_string(good.block_counts[2]) + ": bad utf8"), std::string::npos)
        << r.problems[0];
    // With validation off, the block is handed out as is.
    FileReaderOptions o;
    o.validate_datums = false;
    auto lax = FileReader::open(p, o);
    ASSERT_TRUE(lax.ok());
    uint64_t blocks = 0;
    Block b;
    while (*lax->next_block(b)) ++blocks;
    EXPECT_EQ(blocks, good.block_offsets.size());
}

TEST(AvroContainer, TruncatedFile) {
    TempDir dir;
    Schema s = load("tests/data/avro/rich.avsc");
    auto datums = make_datums(s, 200, 3);
    const fs::path p = dir / "t.avro";
    write_avro(p, s, datums, Codec::deflate, 2048);
    ReadBack good = read_avro(p);
    const std::string bytes = read_file(p);
    const uint64_t last = good.block_offsets.back();
    const size_t n_before_last = datums.size() - good.block_counts.back();

    for (uint64_t cut : {last + 1, last + 3, (last + bytes.size()) / 2, uint64_t(bytes.size() - 1)}) {
        write_file(p, bytes.substr(0, cut));
        ReadBack r = read_avro(p);
        EXPECT_EQ(r.datums.size(), n_before_last) << "cut at " << cut;
        ASSERT_EQ(r.problems.size(), 1u) << joined(r.problems);
        EXPECT_NE(r.problems[0].find("incomplete block at offset " + std::to_string(last)), std::string::npos) << r.problems[0];
    }
    // Cut exactly at a block boundary: a clean, shorter file.
    write_file(p, bytes.substr(0, last));
    ReadBack r = read_avro(p);
    EXPECT_EQ(r.datums.size(), n_before_last);
    EXPECT_TRUE(r.problems.empty());
    // Only the header: no blocks, no problem.
    auto reader = FileReader::open(p);
    ASSERT_TRUE(reader.ok());
    write_file(p, bytes.substr(0, reader->header_size()));
    EXPECT_TRUE(read_avro(p).datums.empty());
    EXPECT_TRUE(read_avro(p).problems.empty());
    // Inside the header: open fails and says why.
    write_file(p, bytes.substr(0, 40));
    auto h = FileReader::open(p);
    ASSERT_FALSE(h.ok());
    EXPECT_NE(h.message().find("file ends inside the header"), std::string::npos) << h.message();
}

TEST(AvroContainer, HeaderErrors) {
    TempDir dir;
    const fs::path p = dir / "h.avro";
    write_file(p, "PAR1 not avro at all");
    auto r = FileReader::open(p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("not an Avro container file"), std::string::npos);

    Schema s = parse("\"int\"");
    BlockEncoderOptions o;
    o.codec = Codec::null_codec;
    BlockEncoder enc(s, o);
    std::string h = enc.header();
    const size_t at = h.find("null");
    h.replace(at, 4, "lzma");
    write_file(p, h);
    r = FileReader::open(p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("unsupported codec 'lzma'"), std::string::npos) << r.message();

    h = enc.header();
    h.replace(h.find("\"int\""), 5, "\"itn\"");
    write_file(p, h);
    r = FileReader::open(p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("avro.schema: schema: unknown type 'itn'"), std::string::npos) << r.message();

    r = FileReader::open(dir / "missing.avro");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("missing.avro: No such file or directory"), std::string::npos);
}

TEST(AvroContainer, FileStillBeingAppended) {
    TempDir dir;
    Schema s = load("config/agents/example.avsc");
    auto datums = make_datums(s, 60, 4);
    const fs::path p = dir / "live.avro";
    BlockEncoder enc(s, BlockEncoderOptions{Codec::zstandard, -1, {}});
    std::ofstream out(p, std::ios::binary);
    const std::string header = enc.header();
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.flush();

    auto r = FileReader::open(p);
    ASSERT_TRUE(r.ok()) << r.message();
    Block b;
    auto more = r->next_block(b);
    ASSERT_TRUE(more.ok());
    EXPECT_FALSE(*more);  // nothing yet
    EXPECT_TRUE(r->problems().empty());

    Validator v(s);
    size_t got = 0;
    for (int block = 0; block < 6; ++block) {
        std::string data;
        for (int i = 0; i < 10; ++i) data += datums[static_cast<size_t>(block * 10 + i)];
        std::string bytes;
        ASSERT_TRUE(enc.encode_block({bytes_of(data), data.size()}, 10, bytes).ok());
        // The writer gets only part of the block out before the reader looks.
        const size_t part = bytes.size() / 2 + static_cast<size_t>(block);
        out.write(bytes.data(), static_cast<std::streamsize>(part));
        out.flush();
        more = r->next_block(b);
        ASSERT_TRUE(more.ok());
        EXPECT_FALSE(*more) << "a partial block was handed out";
        more = r->next_block(b);  // asking again does not repeat the report
        ASSERT_TRUE(more.ok());
        EXPECT_FALSE(*more);
        EXPECT_EQ(r->problems().size(), static_cast<size_t>(block + 1));
        EXPECT_NE(r->problems().back().find("incomplete block"), std::string::npos);
        // The rest arrives; now the block is read whole.
        out.write(bytes.data() + part, static_cast<std::streamsize>(bytes.size() - part));
        out.flush();
        more = r->next_block(b);
        ASSERT_TRUE(more.ok());
        ASSERT_TRUE(*more) << "block " << block;
        EXPECT_EQ(b.count, 10u);
        EXPECT_EQ(std::string(b.data), data);
        got += b.count;
    }
    EXPECT_EQ(got, 60u);
    more = r->next_block(b);
    ASSERT_TRUE(more.ok());
    EXPECT_FALSE(*more);
}

TEST(AvroContainer, SeekToBlockOffsets) {
    TempDir dir;
    Schema s = load("tests/data/avro/rich.avsc");
    auto datums = make_datums(s, 150, 5);
    const fs::path p = dir / "s.avro";
    write_avro(p, s, datums, Codec::snappy, 1500);
    ReadBack all = read_avro(p);
    ASSERT_GT(all.block_offsets.size(), 4u);
    auto r = FileReader::open(p);
    ASSERT_TRUE(r.ok());
    Block b;
    for (size_t i : {size_t{3}, size_t{0}, all.block_offsets.size() - 1, size_t{2}}) {
        ASSERT_TRUE(r->seek(all.block_offsets[i]).ok());
        ASSERT_TRUE(*r->next_block(b));
        EXPECT_EQ(b.file_offset, all.block_offsets[i]);
        EXPECT_EQ(b.count, all.block_counts[i]);
    }
    EXPECT_FALSE(r->seek(3).ok());                       // inside the header
    EXPECT_FALSE(r->seek(fs::file_size(p) + 1).ok());    // past the end
    ASSERT_TRUE(r->seek(fs::file_size(p)).ok());         // at the end: nothing more
    EXPECT_FALSE(*r->next_block(b));
    // A wrong offset is damage like any other: reported, then reading resumes at a marker.
    ASSERT_TRUE(r->seek(all.block_offsets[1] + 1).ok());
    ASSERT_TRUE(*r->next_block(b));
    EXPECT_EQ(b.file_offset, all.block_offsets[2]);
    EXPECT_EQ(r->problems().size(), 1u);
}

TEST(AvroContainer, OversizedBlocksAreDamage) {
    TempDir dir;
    Schema s = load("config/agents/example.avsc");
    auto datums = make_datums(s, 100, 6);
    const fs::path p = dir / "big.avro";
    write_avro(p, s, datums, Codec::deflate, 1 << 20);  // a single block of ~5 KiB
    FileReaderOptions o;
    o.max_block_bytes = 1000;
    auto r = FileReader::open(p, o);
    ASSERT_TRUE(r.ok());
    Block b;
    EXPECT_FALSE(*r->next_block(b));
    ASSERT_EQ(r->problems().size(), 1u);
    EXPECT_NE(r->problems()[0].find("damaged block"), std::string::npos) << r->problems()[0];
}

namespace {

// One block as the earlier (v0.6) relay wrote it for each datagram (relay/c/src/avro_writer.c
// there): count 1, byte size, the datagram, the fixed marker. No file header.
std::string headerless_block(const std::string& datagram) {
    std::string out;
    auto put_long = [&](int64_t v) {
        uint64_t z = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
        while (z > 0x7f) {
            out.push_back(static_cast<char>((z & 0x7f) | 0x80));
            z >>= 7;
        }
        out.push_back(static_cast<char>(z));
    };
    put_long(1);
    put_long(static_cast<int64_t>(datagram.size()));
    out += datagram;
    out.append(reinterpret_cast<const char*>(headerless_sync.data()), headerless_sync.size());
    return out;
}

}  // namespace

TEST(AvroContainer, HeaderlessFilesOfTheEarlierRelay) {
    TempDir dir;
    Schema s = load("config/agents/example.avsc");
    auto datums = make_datums(s, 50, 7);
    std::string bytes;
    std::vector<uint64_t> offsets;
    for (const auto& d : datums) {
        offsets.push_back(bytes.size());
        bytes += headerless_block(d);
    }
    const fs::path p = dir / "data_1735000000.avro";
    write_file(p, bytes);

    // Without the schema: refused, with a message saying what the file probably is.
    auto plain = FileReader::open(p);
    ASSERT_FALSE(plain.ok());
    EXPECT_NE(plain.message().find("looks like a cache file of the earlier relay"), std::string::npos) << plain.message();
    EXPECT_NE(plain.message().find("--schema"), std::string::npos) << plain.message();

    FileReaderOptions o;
    o.headerless_schema = s;
    auto r = FileReader::open(p, o);
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(r->headerless());
    EXPECT_EQ(r->header_size(), 0u);
    EXPECT_TRUE(r->metadata().empty());
    EXPECT_EQ(r->codec(), Codec::null_codec);
    EXPECT_EQ(r->schema().fingerprint(), s.fingerprint());
    ReadBack got = read_avro(*r);
    EXPECT_EQ(got.datums, datums);
    EXPECT_EQ(got.block_offsets, offsets);
    EXPECT_TRUE(got.problems.empty()) << joined(got.problems);

    // Seeking to a block offset works as in a file with a header.
    auto r2 = FileReader::open(p, o);
    ASSERT_TRUE(r2.ok());
    ASSERT_TRUE(r2->seek(offsets[10]).ok());
    Block b;
    auto more = r2->next_block(b);
    ASSERT_TRUE(more.ok() && *more);
    EXPECT_EQ(std::string(b.data), datums[10]);

    // A file with a header is read by its own schema, whatever the option says.
    write_avro(dir / "with_header.avro", s, datums, Codec::deflate, 512);
    FileReaderOptions other;
    other.headerless_schema = parse("\"int\"");
    auto h = FileReader::open(dir / "with_header.avro", other);
    ASSERT_TRUE(h.ok()) << h.message();
    EXPECT_FALSE(h->headerless());
    EXPECT_EQ(read_avro(*h).datums, datums);

    // An empty file (the relay opened it, no datagram came): no blocks, no problem.
    write_file(dir / "empty.avro", "");
    auto e = FileReader::open(dir / "empty.avro", o);
    ASSERT_TRUE(e.ok()) << e.message();
    EXPECT_TRUE(read_avro(*e).datums.empty());
}

TEST(AvroContainer, HeaderlessFilesKeepTheDamageTolerance) {
    // The earlier relay wrote every datagram unchecked: one that is not a datum of the schema
    // is a block to skip; broken framing is skipped to the next marker; a cut-off tail ends
    // the file. Every good datum around them is read.
    TempDir dir;
    Schema s = load("config/agents/example.avsc");
    auto datums = make_datums(s, 30, 9);
    std::string bytes;
    std::vector<uint64_t> offsets;
    for (size_t i = 0; i < datums.size(); ++i) {
        offsets.push_back(bytes.size());
        std::string datagram = datums[i];
        if (i == 5) datagram = "\xff\xff\xff garbage datagram";     // not a datum at all
        if (i == 12) datagram.resize(datagram.size() - 3);            // a datum cut short
        bytes += headerless_block(datagram);
    }
    bytes[offsets[21] - 3] ^= 0x40;                               // block 20's marker
    bytes += headerless_block(datums[0]).substr(0, 9);            // a block cut off at the end
    const fs::path p = dir / "data_1.avro";
    write_file(p, bytes);
    FileReaderOptions o;
    o.headerless_schema = s;
    auto r = FileReader::open(p, o);
    ASSERT_TRUE(r.ok()) << r.message();
    ReadBack got = read_avro(*r);
    std::vector<std::string> want;
    for (size_t i = 0; i < datums.size(); ++i)
        if (i != 5 && i != 12 && i != 20 && i != 21) want.push_back(datums[i]);
    EXPECT_EQ(got.datums, want) << joined(got.problems);
    const std::string all = joined(got.problems);
    EXPECT_NE(all.find("damaged block at offset " + std::to_string(offsets[5])), std::string::npos) << all;
    EXPECT_NE(all.find("damaged block at offset " + std::to_string(offsets[12])), std::string::npos) << all;
    EXPECT_NE(all.find("damaged block at offset " + std::to_string(offsets[20]) + ": sync marker mismatch"),
              std::string::npos) << all;
    EXPECT_NE(all.find("incomplete block at offset " + std::to_string(bytes.size() - 9)), std::string::npos) << all;
}

// A few bytes claiming 2^60 datums of a zero-size schema made `avro cat` print "null"
// forever (found by the container fuzz target): such a block is damage, and the writer
// refuses to produce one.
TEST(AvroContainer, BlockCountMayNotExceedItsBytes) {
    TempDir dir;
    Schema s = parse("\"null\"");
    BlockEncoder enc(s, {});
    std::string block;
    EXPECT_FALSE(enc.encode_block({}, 3, block).ok());
    std::string file = enc.header();
    std::string varints;
    append_long(varints, int64_t{1} << 60);
    append_long(varints, 0);
    file += varints + std::string(reinterpret_cast<const char*>(enc.sync().data()), enc.sync().size());
    const fs::path p = dir / "nulls.avro";
    write_file(p, file);
    auto r = FileReader::open(p);
    ASSERT_TRUE(r.ok()) << r.message();
    Block b;
    auto more = r->next_block(b);
    ASSERT_TRUE(more.ok());
    EXPECT_FALSE(*more);
    ASSERT_EQ(r->problems().size(), 1u);
    EXPECT_NE(r->problems()[0].find("1152921504606846976 datums in 0 bytes"), std::string::npos) << r->problems()[0];
    // Ordinary blocks still read.
    Schema ex = load("config/agents/example.avsc");
    auto datums = make_datums(ex, 50, 9);
    write_avro(dir / "ok.avro", ex, datums, Codec::null_codec, 512);
    auto back = read_avro(dir / "ok.avro");
    EXPECT_EQ(back.datums, datums);
    EXPECT_TRUE(back.problems.empty()) << joined(back.problems);
}
