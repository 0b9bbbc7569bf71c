// The multicast packers as pure functions: messages (mmsghdr + iovecs) in, nothing sent.
#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <string>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/decimate/decimator.hpp"
#include "relay/packers.hpp"

using namespace speeddata;
using relay::DecimatedPacker;
using relay::FullPacker;

namespace {

avro::Schema schema_of(const char* json) {
    auto s = avro::Schema::parse(json);
    EXPECT_TRUE(s.ok()) << s.message();
    return std::move(s).value();
}

// time (long) + a string of n bytes: a datum of known size.
const char* k_schema = R"({"type":"record","name":"r","fields":[{"name":"time","type":"long"},{"name":"s","type":"string"}]})";

std::string datum(int64_t t, size_t n) {
    std::string out;
    avro::append_long(out, t);
    avro::append_long(out, static_cast<int64_t>(n));
    out.append(n, static_cast<char>('a' + t % 26));
    return out;
}

sockaddr_in dest() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(6000);
    a.sin_addr.s_addr = htonl(0xEF010101);
    return a;
}

net::McastHeader header(uint8_t flags = 0) {
    net::McastHeader h;
    h.flags = flags;
    h.fingerprint = 0x1122334455667788ULL;
    h.channel = "chan";
    return h;
}

struct Parsed {
    net::McastHeader h;
    std::string payload;
    size_t bytes = 0;
};

// Gathers a message's iovecs the way the kernel would, then parses it.
Parsed gather(const mmsghdr& m) {
    std::string bytes;
    for (size_t i = 0; i < m.msg_hdr.msg_iovlen; ++i)
        bytes.append(static_cast<const char*>(m.msg_hdr.msg_iov[i].iov_base), m.msg_hdr.msg_iov[i].iov_len);
    auto h = net::parse_mcast_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    EXPECT_TRUE(h.has_value());
    Parsed p;
    p.h = *h;
    p.payload = bytes.substr(h->header_length);
    p.bytes = bytes.size();
    return p;
}

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

}  // namespace

TEST(FullPacker, PacksConsecutiveDatagramsUpToTheLimitWithoutCopying) {
    auto schema = schema_of(k_schema);
    avro::Validator v(schema);
    FullPacker p(header(), 300, 64, v, dest());
    std::vector<std::string> in;
    for (int i = 0; i < 10; ++i) in.push_back(datum(i, 50));  // 52 bytes each
    for (const auto& d : in) p.add(u8(d), d.size(), 1);
    auto msgs = p.finish();
    // 28 + 4 header bytes, 52-byte datums: 5 fit in 300 bytes (292), the 6th would not.
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(msgs[0].msg_hdr.msg_iov[1].iov_base, in[0].data());  // the caller's bytes, not a copy
    std::string all;
    for (size_t i = 0; i < msgs.size(); ++i) {
        auto g = gather(msgs[i]);
        EXPECT_LE(g.bytes, 300u);
        EXPECT_EQ(g.h.sequence, i);
        EXPECT_EQ(g.h.fingerprint, 0x1122334455667788ULL);
        EXPECT_EQ(g.h.channel, "chan");
        EXPECT_EQ(g.h.record_count, i == 0 ? 5 : 5);
        all += g.payload;
    }
    std::string want;
    for (const auto& d : in) want += d;
    EXPECT_EQ(all, want);
    EXPECT_EQ(p.next_sequence(), 2u);
}

TEST(FullPacker, SequenceContinuesAcrossBatchesAndEmptyBatchSendsNothing) {
    auto schema = schema_of(k_schema);
    avro::Validator v(schema);
    FullPacker p(header(), 1472, 4, v, dest());
    EXPECT_TRUE(p.finish().empty());
    p.clear();
    auto d = datum(1, 10);
    for (int batch = 0; batch < 3; ++batch) {
        p.add(u8(d), d.size(), 1);
        auto msgs = p.finish();
        ASSERT_EQ(msgs.size(), 1u);
        EXPECT_EQ(gather(msgs[0]).h.sequence, static_cast<uint64_t>(batch));
        p.clear();
    }
}

TEST(FullPacker, ADatagramTooBigForTheHeaderIsSplitAtDatumBoundariesInOrder) {
    auto schema = schema_of(k_schema);
    avro::Validator v(schema);
    FullPacker p(header(), 1472, 4, v, dest());
    std::string small = datum(0, 10);
    std::string big;
    std::vector<std::string> datums;
    for (int i = 0; i < 4; ++i) {
        datums.push_back(datum(i + 1, 16370));  // 4 x 16375 bytes = 65500: no room for the header
        big += datums.back();
    }
    ASSERT_LE(big.size(), relay::max_udp_payload);
    p.add(u8(small), small.size(), 1);
    p.add(u8(big), big.size(), 4);
    p.add(u8(small), small.size(), 1);
    auto msgs = p.finish();
    ASSERT_EQ(msgs.size(), 4u);  // small, 3 datums, 1 datum, small
    std::vector<uint16_t> counts;
    std::string all;
    for (size_t i = 0; i < msgs.size(); ++i) {
        auto g = gather(msgs[i]);
        EXPECT_LE(g.bytes, relay::max_udp_payload);
        EXPECT_EQ(g.h.sequence, i);
        counts.push_back(g.h.record_count);
        all += g.payload;
    }
    EXPECT_EQ(counts, (std::vector<uint16_t>{1, 3, 1, 1}));
    EXPECT_EQ(all, small + big + small);
}

TEST(FullPacker, RecordCountNeverOverflowsSixteenBits) {
    auto schema = schema_of(k_schema);
    avro::Validator v(schema);
    FullPacker p(header(), relay::max_udp_payload, 8, v, dest());
    // A source datagram claims 40000 records (the packer trusts the checked count).
    std::string d = datum(1, 3);
    p.add(u8(d), d.size(), 40000);
    p.add(u8(d), d.size(), 40000);
    auto msgs = p.finish();
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(gather(msgs[0]).h.record_count, 40000);
}

TEST(DecimatedPacker, PacksRecordsUpToTheLimitAndKeepsPairsTogether) {
    DecimatedPacker p(header(net::mcast_flag_decimated | net::mcast_flag_minmax), 200, dest());
    const std::string rec(40, 'x');
    // Five minmax pairs of 80 bytes: header 32 + 2 pairs = 192 fits, 3 pairs do not.
    for (int i = 0; i < 5; ++i) {
        size_t before = p.out().size();
        p.out() += rec;
        p.out() += rec;
        p.appended(before, 2);
    }
    EXPECT_EQ(p.pending_records(), 10u);
    auto msgs = p.finish();
    ASSERT_EQ(msgs.size(), 3u);
    std::vector<uint16_t> counts;
    for (size_t i = 0; i < msgs.size(); ++i) {
        auto g = gather(msgs[i]);
        EXPECT_LE(g.bytes, 200u);
        EXPECT_EQ(g.h.sequence, i);
        EXPECT_EQ(g.h.flags, net::mcast_flag_decimated | net::mcast_flag_minmax);
        EXPECT_EQ(g.payload.size() % 80, 0u);  // whole pairs only
        counts.push_back(g.h.record_count);
    }
    EXPECT_EQ(counts, (std::vector<uint16_t>{4, 4, 2}));
    p.clear();
    EXPECT_TRUE(p.finish().empty());
    EXPECT_EQ(p.next_sequence(), 3u);
}

TEST(DecimatedPacker, ARecordBiggerThanTheLimitGoesOutAlone) {
    DecimatedPacker p(header(net::mcast_flag_decimated), 100, dest());
    for (size_t n : {10u, 500u, 10u}) {
        size_t before = p.out().size();
        p.out() += std::string(n, 'y');
        p.appended(before, 1);
    }
    auto msgs = p.finish();
    ASSERT_EQ(msgs.size(), 3u);
    EXPECT_EQ(gather(msgs[1]).payload.size(), 500u);
}

TEST(DecimatedPacker, CarriesTheDecimatorsOutputUnchanged) {
    auto schema = schema_of(k_schema);
    avro::Validator v(schema);
    auto dec = decimate::Decimator::create(schema, 0, config::DecimationAlgorithm::downsample, 3);
    ASSERT_TRUE(dec.ok());
    DecimatedPacker p(header(net::mcast_flag_decimated), 1400, dest());
    std::vector<avro::FieldSpan> spans(v.field_count());
    std::string want;
    for (int i = 0; i < 9; ++i) {
        auto d = datum(i, 5);
        ASSERT_TRUE(v.validate(u8(d), d.size(), spans.data()).ok());
        size_t before = p.out().size();
        p.appended(before, dec->push(u8(d), d.size(), spans.data(), p.out()));
        if (i % 3 == 0) want += d;
    }
    auto msgs = p.finish();
    ASSERT_EQ(msgs.size(), 1u);
    auto g = gather(msgs[0]);
    EXPECT_EQ(g.h.record_count, 3);
    EXPECT_EQ(g.payload, want);
}

namespace {
std::string bytes_of(const mmsghdr& m) {
    std::string out;
    for (size_t i = 0; i < m.msg_hdr.msg_iovlen; ++i)
        out.append(static_cast<const char*>(m.msg_hdr.msg_iov[i].iov_base), m.msg_hdr.msg_iov[i].iov_len);
    return out;
}
}  // namespace

TEST(RawPacker, EachDatumGoesOutAloneExactlyAsGivenWithoutAHeader) {
    auto schema = schema_of(k_schema);
    avro::Validator v(schema);
    relay::RawPacker p(v, dest());
    const std::string a = datum(1, 3), b = datum(2, 700), c = datum(3, 0);
    p.add(u8(a), a.size());
    p.add(u8(b), b.size());
    p.add(u8(c), c.size());
    auto msgs = p.finish();
    ASSERT_EQ(msgs.size(), 3u);
    EXPECT_EQ(bytes_of(msgs[0]), a);
    EXPECT_EQ(bytes_of(msgs[1]), b);
    EXPECT_EQ(bytes_of(msgs[2]), c);
    EXPECT_EQ(msgs[1].msg_hdr.msg_iov[0].iov_base, static_cast<const void*>(b.data()));  // not copied
    EXPECT_EQ(msgs[0].msg_hdr.msg_namelen, sizeof(sockaddr_in));
    p.clear();
    EXPECT_TRUE(p.finish().empty());
}

TEST(RawPacker, DecimatedRecordsEachInADatagramAMinmaxPairIsTwo) {
    auto schema = schema_of(k_schema);
    avro::Validator v(schema);
    auto dec = decimate::Decimator::create(schema, 0, config::DecimationAlgorithm::minmax, 2);
    ASSERT_TRUE(dec.ok());
    relay::RawPacker p(v, dest());
    std::vector<avro::FieldSpan> spans(v.field_count());
    for (int i = 0; i < 6; ++i) {
        auto d = datum(i, 4);
        ASSERT_TRUE(v.validate(u8(d), d.size(), spans.data()).ok());
        size_t before = p.out().size();
        p.appended(before, dec->push(u8(d), d.size(), spans.data(), p.out()));
    }
    auto msgs = p.finish();
    ASSERT_EQ(msgs.size(), 6u);  // 3 windows, 2 records each
    for (size_t i = 0; i < msgs.size(); ++i) {
        std::string one = bytes_of(msgs[i]);
        auto r = v.validate(u8(one), one.size());
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(r.consumed, one.size()) << "one record per datagram";
        int64_t t = 0;
        avro::read_long(u8(one), u8(one) + one.size(), t);
        EXPECT_EQ(t, static_cast<int64_t>(i));  // pairs stamped with the window's first and last time
    }
}
