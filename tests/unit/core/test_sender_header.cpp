// Unit tests of include/speeddata/sender.hpp: encoding (zigzag edges, float/double byte
// order, strings, unions, enums), schema parsing, value checks, and the batching limits
// of the sender over real UDP sockets on 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <speeddata/sender.hpp>

namespace sds = speeddata::sender;

namespace {

using bytes = std::vector<std::uint8_t>;

bytes long_bytes(std::int64_t v) {
    std::uint8_t buf[10];
    return bytes(buf, sds::put_long(buf, v));
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

bytes text(std::string_view s) { return bytes(s.begin(), s.end()); }

// A UDP socket bound to 127.0.0.1 on a free port, to receive what a sender sends.
class receiver {
public:
    receiver() {
        fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
    }
    ~receiver() { ::close(fd_); }
    std::uint16_t port() const { return port_; }

    // Every datagram that arrives until 200 ms pass without one.
    std::vector<bytes> drain() {
        std::vector<bytes> out;
        pollfd p{fd_, POLLIN, 0};
        while (::poll(&p, 1, 200) == 1) {
            bytes buf(65536);
            ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
            if (n < 0) break;
            buf.resize(static_cast<std::size_t>(n));
            out.push_back(std::move(buf));
        }
        return out;
    }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

// A port on which nothing listens (bound, then closed), for "Connection refused".
std::uint16_t dead_port() {
    receiver r;
    return r.port();
}

sds::record_schema one_string_schema() {
    sds::record_schema s("r");
    s.add("s", sds::avro_type::string);
    return s;
}

}  // namespace

TEST(SenderEncoding, ZigzagEdges) {
    EXPECT_EQ(sds::zigzag(0), 0u);
    EXPECT_EQ(sds::zigzag(-1), 1u);
    EXPECT_EQ(sds::zigzag(1), 2u);
    EXPECT_EQ(sds::zigzag(-2), 3u);
    EXPECT_EQ(sds::zigzag(std::numeric_limits<std::int32_t>::max()), 0xFFFFFFFEu);
    EXPECT_EQ(sds::zigzag(std::numeric_limits<std::int32_t>::min()), 0xFFFFFFFFu);
    EXPECT_EQ(sds::zigzag(std::numeric_limits<std::int64_t>::max()), 0xFFFFFFFFFFFFFFFEull);
    EXPECT_EQ(sds::zigzag(std::numeric_limits<std::int64_t>::min()), 0xFFFFFFFFFFFFFFFFull);
    for (std::int64_t v : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{123456789}, std::int64_t{-987654321},
                           std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min()})
        EXPECT_EQ(sds::unzigzag(sds::zigzag(v)), v);
}

TEST(SenderEncoding, VarintBytes) {
    EXPECT_EQ(long_bytes(0), (bytes{0x00}));
    EXPECT_EQ(long_bytes(-1), (bytes{0x01}));
    EXPECT_EQ(long_bytes(1), (bytes{0x02}));
    EXPECT_EQ(long_bytes(63), (bytes{0x7E}));
    EXPECT_EQ(long_bytes(-64), (bytes{0x7F}));
    EXPECT_EQ(long_bytes(64), (bytes{0x80, 0x01}));  // first two-byte value
    EXPECT_EQ(long_bytes(-65), (bytes{0x81, 0x01}));
    EXPECT_EQ(long_bytes(8191), (bytes{0xFE, 0x7F}));
    EXPECT_EQ(long_bytes(8192), (bytes{0x80, 0x80, 0x01}));
    EXPECT_EQ(long_bytes(std::numeric_limits<std::int32_t>::max()), (bytes{0xFE, 0xFF, 0xFF, 0xFF, 0x0F}));
    EXPECT_EQ(long_bytes(std::numeric_limits<std::int32_t>::min()), (bytes{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}));
    EXPECT_EQ(long_bytes(std::numeric_limits<std::int64_t>::max()),
              (bytes{0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}));
    EXPECT_EQ(long_bytes(std::numeric_limits<std::int64_t>::min()),
              (bytes{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}));
    EXPECT_EQ(sds::long_size(63), 1u);
    EXPECT_EQ(sds::long_size(64), 2u);
    EXPECT_EQ(sds::long_size(std::numeric_limits<std::int64_t>::min()), 10u);
}

TEST(SenderEncoding, FloatAndDoubleAreLittleEndianIeee) {
    sds::record_schema s("r");
    s.add("f", sds::avro_type::float32).add("d", sds::avro_type::float64);
    sds::record r(s);
    r.set("f", 1.0f);
    r.set("d", -2.5);
    EXPECT_EQ(r.encode(), (bytes{0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0xC0}));
    r.set("f", 3);  // integers convert
    r.set("d", std::numeric_limits<double>::infinity());
    EXPECT_EQ(r.encode(), (bytes{0x00, 0x00, 0x40, 0x40, 0, 0, 0, 0, 0, 0, 0xF0, 0x7F}));
    r.set("d", std::numeric_limits<double>::denorm_min());
    bytes denormal = r.encode();
    EXPECT_EQ(bytes(denormal.begin() + 4, denormal.end()), (bytes{1, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(SenderEncoding, StringsAndBytes) {
    sds::record_schema s("r");
    s.add("s", sds::avro_type::string).add("b", sds::avro_type::bytes).add_fixed("x", 3);
    sds::record r(s);
    EXPECT_EQ(r.encode(), (bytes{0x00, 0x00, 0, 0, 0}));  // empty, empty, three zero bytes
    r.set("s", "h\xC3\xA9llo");                            // UTF-8: the length counts bytes
    const std::uint8_t raw[] = {0x00, 0xFF};
    r.set_bytes("b", raw, sizeof raw);
    r.set("x", std::string_view("abc"));
    EXPECT_EQ(r.encode(), cat({{0x0C}, text("h\xC3\xA9llo"), {0x04, 0x00, 0xFF}, text("abc")}));
    std::string long_text(64, 'z');  // length 64: the first two-byte length
    r.set("s", long_text);
    bytes encoded = r.encode();
    EXPECT_EQ(bytes(encoded.begin(), encoded.begin() + 3), (bytes{0x80, 0x01, 'z'}));
    EXPECT_EQ(r.encoded_size(), 2 + 64 + 3 + 3u);
    EXPECT_THROW(r.set("x", std::string_view("abcd")), sds::error);
}

TEST(SenderEncoding, SensorRecordMatchesHandEncoding) {
    auto schema = sds::record_schema::from_avsc_file(SPEEDDATA_SOURCE_DIR "/config/agents/sensor.avsc");
    sds::record r(schema);
    r.set("time", std::int64_t{1'700'000'000'000'000'000});
    r.set("sensor", "sensor-1");
    r.set("temperature", 21.5);
    r.set("humidity", 40.0f);
    r.set("status", "WARN");
    std::uint8_t f1[4], f2[4];
    sds::put_float(f1, 21.5f);
    sds::put_float(f2, 40.0f);
    EXPECT_EQ(r.encode(), cat({long_bytes(1'700'000'000'000'000'000), {0x10}, text("sensor-1"), bytes(f1, f1 + 4),
                               bytes(f2, f2 + 4), {0x02}}));
    r.set("status", 2);  // by index
    EXPECT_EQ(r.encode().back(), 0x04);
    EXPECT_EQ(r.encoded_size(), r.encode().size());
}

TEST(SenderEncoding, NullableUnionsBothOrders) {
    sds::record_schema s("r");
    s.add_nullable("a", sds::avro_type::int64);
    sds::field b;
    b.name = "b";
    b.type = sds::avro_type::string;
    b.nullable = true;
    b.null_branch = 1;  // ["string", "null"]
    s.add(b);
    sds::record r(s);
    EXPECT_EQ(r.encode(), (bytes{0x00, 0x02}));  // both start null: branch 0, then branch 1
    r.set("a", 5);
    r.set("b", "x");
    EXPECT_EQ(r.encode(), (bytes{0x02, 0x0A, 0x00, 0x02, 'x'}));
    r.set_null("a");
    EXPECT_EQ(r.encode(), (bytes{0x00, 0x00, 0x02, 'x'}));
    r.clear();
    EXPECT_EQ(r.encode(), (bytes{0x00, 0x02}));
}

TEST(SenderEncoding, ValueChecks) {
    sds::record_schema s("r");
    s.add("i", sds::avro_type::int32)
        .add("l", sds::avro_type::int64)
        .add("b", sds::avro_type::boolean)
        .add("d", sds::avro_type::float64)
        .add_enum("e", {"A", "B"});
    sds::record r(s);
    r.set("i", std::numeric_limits<std::int32_t>::min());
    r.set("i", std::numeric_limits<std::int32_t>::max());
    EXPECT_THROW(r.set("i", std::int64_t{1} << 31), sds::error);
    EXPECT_THROW(r.set("l", std::numeric_limits<std::uint64_t>::max()), sds::error);
    EXPECT_THROW(r.set("l", 1.5), sds::error);     // no silent truncation
    EXPECT_THROW(r.set("l", "12"), sds::error);    // no parsing
    EXPECT_THROW(r.set("i", true), sds::error);    // bool is not a number here
    EXPECT_THROW(r.set("b", 1), sds::error);       // nor a number a bool
    EXPECT_THROW(r.set("e", 2), sds::error);
    EXPECT_THROW(r.set("e", "C"), sds::error);
    EXPECT_THROW(r.set_null("d"), sds::error);     // not nullable
    EXPECT_THROW(r.set("nope", 1), sds::error);
    EXPECT_THROW(r.set(5, 1), sds::error);         // index out of range
    r.set("b", true);
    r.set("e", "B");
    EXPECT_EQ(r.encode(), cat({long_bytes(std::numeric_limits<std::int32_t>::max()), {0x00, 0x01}, bytes(8, 0), {0x02}}));
}

TEST(SenderSchema, ParsesExampleAvsc) {
    auto s = sds::record_schema::from_avsc_file(SPEEDDATA_SOURCE_DIR "/config/agents/example.avsc");
    ASSERT_EQ(s.size(), 7u);
    EXPECT_EQ(s.name(), "data");  // the earlier version's record name
    EXPECT_EQ(s[0].name, "time");
    EXPECT_EQ(s[0].type, sds::avro_type::int64);  // timestamp-nanos: its underlying long
    EXPECT_EQ(s[1].type, sds::avro_type::string);
    EXPECT_EQ(s[2].name, "counter");
    EXPECT_EQ(s[2].type, sds::avro_type::int32);
    EXPECT_EQ(s[6].name, "noise");
    EXPECT_EQ(s[6].type, sds::avro_type::float64);
    EXPECT_EQ(s.index_of("ramp"), 4u);
}

TEST(SenderSchema, UnionsNamedTypesAndEscapes) {
    auto s = sds::record_schema::from_avsc(R"({"type": "record", "name": "r", "namespace": "n", "fields": [
        {"name": "a", "type": ["null", {"type": "enum", "name": "level", "symbols": ["LO", "HI"]}]},
        {"name": "b", "type": "n.level", "doc": "a reference by full name"},
        {"name": "c", "type": ["double", "null"], "default": 1.5e0},
        {"name": "d\u00e9", "type": {"type": "fixed", "name": "id", "size": 4}},
        {"name": "e", "type": "level"}
    ]})");
    ASSERT_EQ(s.size(), 5u);
    EXPECT_TRUE(s[0].nullable);
    EXPECT_EQ(s[0].null_branch, 0);
    EXPECT_EQ(s[0].symbols, (std::vector<std::string>{"LO", "HI"}));
    EXPECT_EQ(s[1].type, sds::avro_type::enumeration);
    EXPECT_EQ(s[1].symbols.size(), 2u);
    EXPECT_EQ(s[2].null_branch, 1);
    EXPECT_EQ(s[3].name, "d\xC3\xA9");
    EXPECT_EQ(s[3].fixed_size, 4u);
    EXPECT_EQ(s[4].type, sds::avro_type::enumeration);
}

TEST(SenderSchema, RejectsWhatItCannotSend) {
    auto message_of = [](std::string_view avsc) {
        try {
            (void)sds::record_schema::from_avsc(avsc);
        } catch (const sds::error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(message_of(R"({"type":"record","name":"r","fields":[{"name":"x","type":{"type":"array","items":"int"}}]})")
                  .find("field 'x': unsupported nested type 'array'"),
              std::string::npos);
    EXPECT_NE(message_of(R"({"type":"record","name":"r","fields":[{"name":"x","type":{"type":"record","name":"q","fields":[]}}]})")
                  .find("unsupported nested type 'record'"),
              std::string::npos);
    EXPECT_NE(message_of(R"({"type":"record","name":"r","fields":[{"name":"x","type":["null","int","string"]}]})")
                  .find("unsupported union"),
              std::string::npos);
    EXPECT_NE(message_of(R"({"type":"record","name":"r","fields":[{"name":"x","type":"nosuch"}]})").find("unknown type 'nosuch'"),
              std::string::npos);
    EXPECT_NE(message_of(R"({"type":"enum","name":"e","symbols":["A"]})").find("must be \"record\""), std::string::npos);
    EXPECT_NE(message_of(R"({"type":"record","name":"r","fields":[}})").find("JSON at byte"), std::string::npos);
    EXPECT_NE(message_of(R"({"type":"record","name":"r","fields":[{"name":"x","type":"int"},{"name":"x","type":"int"}]})")
                  .find("duplicate field 'x'"),
              std::string::npos);
    EXPECT_THROW((void)sds::record_schema::from_avsc_file("/nonexistent/x.avsc"), sds::error);
}

TEST(SenderSocket, SendsOneDatumPerDatagram) {
    receiver rx;
    sds::sender out(one_string_schema(), {.port = rx.port()});
    out.set("s", "abc");
    ASSERT_TRUE(out.send());
    out.set("s", "de");
    ASSERT_TRUE(out.send());
    auto got = rx.drain();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], cat({{0x06}, text("abc")}));
    EXPECT_EQ(got[1], cat({{0x04}, text("de")}));
    EXPECT_EQ(out.stats().datagrams, 2u);
    EXPECT_EQ(out.stats().records, 2u);
    EXPECT_EQ(out.stats().bytes, 7u);
}

TEST(SenderSocket, AddPacksUpToMaxDatagramBytes) {
    receiver rx;
    sds::sender out(one_string_schema(), {.port = rx.port(), .max_datagram_bytes = 100});
    std::string value(29, 'q');  // 30-byte datums: three fit in 100 bytes, four do not
    out.set("s", value);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(out.add());
    EXPECT_EQ(out.pending_records(), 1u);
    ASSERT_TRUE(out.flush());
    EXPECT_EQ(out.pending_records(), 0u);
    ASSERT_TRUE(out.flush());  // nothing pending: no empty datagram
    auto got = rx.drain();
    ASSERT_EQ(got.size(), 4u);
    EXPECT_EQ(got[0].size(), 90u);
    EXPECT_EQ(got[1].size(), 90u);
    EXPECT_EQ(got[2].size(), 90u);
    EXPECT_EQ(got[3].size(), 30u);
    EXPECT_EQ(got[0], cat({{58}, text(value), {58}, text(value), {58}, text(value)}));
    EXPECT_EQ(out.stats().records, 10u);
}

TEST(SenderSocket, ExactFitAndRecordLimit) {
    receiver rx;
    sds::sender out(one_string_schema(), {.port = rx.port(), .max_datagram_bytes = 60, .max_records_per_datagram = 3});
    out.set("s", std::string(29, 'q'));  // 30 bytes: two fill 60 exactly
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(out.add());
    out.set("s", "");  // 1 byte: three per datagram by the record limit, sent at once
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(out.add());
    EXPECT_EQ(out.pending_records(), 0u);
    auto got = rx.drain();
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].size(), 60u);
    EXPECT_EQ(got[1].size(), 60u);
    EXPECT_EQ(got[2], (bytes{0, 0, 0}));
}

TEST(SenderSocket, OversizedDatumIsRefusedAndCounted) {
    receiver rx;
    sds::sender out(one_string_schema(), {.port = rx.port(), .max_datagram_bytes = 10});
    out.set("s", std::string(10, 'x'));  // 11 bytes with its length
    auto st = out.add();
    EXPECT_FALSE(st);
    EXPECT_EQ(st.error, EMSGSIZE);
    EXPECT_NE(out.message(st).find("max_datagram_bytes 10"), std::string::npos);
    EXPECT_FALSE(out.send());
    EXPECT_EQ(out.stats().errors, 2u);
    EXPECT_EQ(out.stats().dropped_records, 2u);
    EXPECT_EQ(out.pending_records(), 0u);
    EXPECT_TRUE(rx.drain().empty());
    EXPECT_THROW(sds::sender(one_string_schema(), {.port = rx.port(), .max_datagram_bytes = 65508}), sds::error);
}

TEST(SenderSocket, SendKeepsOrderWithPendingDatums) {
    receiver rx;
    sds::sender out(one_string_schema(), {.port = rx.port()});
    out.set("s", "a");
    ASSERT_TRUE(out.add());
    out.set("s", "b");
    ASSERT_TRUE(out.add());
    out.set("s", "c");
    ASSERT_TRUE(out.send());  // flushes "a","b" first
    auto got = rx.drain();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0], (bytes{0x02, 'a', 0x02, 'b'}));
    EXPECT_EQ(got[1], (bytes{0x02, 'c'}));
}

TEST(SenderSocket, SendBatchUsesSendmmsg) {
    receiver rx;
    auto sock = sds::udp_socket::connect_to("127.0.0.1", rx.port());
    std::vector<std::string> payloads;
    for (int i = 0; i < 150; ++i) payloads.push_back(std::to_string(i));  // more than one 64-chunk
    std::vector<iovec> iov;
    for (auto& p : payloads) iov.push_back({p.data(), p.size()});
    auto r = sock.send_batch(iov);
    EXPECT_EQ(r.error, 0);
    EXPECT_EQ(r.sent, 150u);
    auto got = rx.drain();
    ASSERT_EQ(got.size(), 150u);
    for (int i = 0; i < 150; ++i) EXPECT_EQ(got[static_cast<std::size_t>(i)], text(std::to_string(i)));
}

TEST(SenderSocket, RefusedPortIsReportedNotThrown) {
    sds::sender out(one_string_schema(), {.port = dead_port()});
    out.set("s", "x");
    // The ICMP port-unreachable of one send is reported by a later one.
    int refused = 0;
    for (int i = 0; i < 20; ++i) {
        auto st = out.send();
        if (!st) {
            EXPECT_EQ(st.error, ECONNREFUSED);
            EXPECT_EQ(out.message(st), "send " + out.peer() + ": Connection refused");
            ++refused;
        }
        ::usleep(1000);
    }
    EXPECT_GT(refused, 0);
    EXPECT_EQ(out.stats().errors, static_cast<std::uint64_t>(refused));
    EXPECT_EQ(out.stats().datagrams + out.stats().errors, 20u);
}

TEST(SenderSocket, BadHostThrows) {
    EXPECT_THROW(sds::sender(one_string_schema(), {.host = "no.such.host.invalid"}), sds::error);
}
