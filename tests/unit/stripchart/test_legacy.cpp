// The v0.6 pages' WebSocket records: each record as one flat JSON object written straight from
// its Avro bytes (every Avro type, checked against the values encoded), the time as ISO 8601
// with milliseconds, and the hub's batches (only while on, shared channel names, the cap).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/avro/codec.hpp"
#include "core/net/mcast_header.hpp"
#include "core/time.hpp"
#include "stripchart/hub.hpp"
#include "stripchart/legacy_json.hpp"
#include "hub_datagrams.hpp"

using namespace speeddata;
using namespace speeddata::stripchart;
using nlohmann::json;

namespace {

const char* kAll = R"({"type":"record","name":"all","namespace":"t","fields":[
  {"name":"time","type":{"type":"long","logicalType":"timestamp-nanos"}},
  {"name":"message","type":"string"},
  {"name":"counter","type":"int"},
  {"name":"big","type":"long"},
  {"name":"f","type":"float"},
  {"name":"d","type":"double"},
  {"name":"nan","type":"double"},
  {"name":"ok","type":"boolean"},
  {"name":"raw","type":"bytes"},
  {"name":"id","type":{"type":"fixed","name":"four","size":4}},
  {"name":"mode","type":{"type":"enum","name":"m","symbols":["IDLE","RUN"]}},
  {"name":"opt","type":["null","double"]},
  {"name":"none","type":["null","double"]},
  {"name":"pos","type":{"type":"record","name":"p","fields":[{"name":"x","type":"double"},{"name":"tag","type":"string"}]}},
  {"name":"vec","type":{"type":"array","items":"int"}},
  {"name":"attrs","type":{"type":"map","values":"long"}},
  {"name":"either","type":["null","string","t.p"]}]})";

avro::Value num(int64_t v) {
    avro::Value x;
    x.v = v;
    return x;
}

avro::Value record_all(int64_t t_ns) {
    using avro::Value;
    avro::Record r;
    auto put = [&](auto v) {
        Value x;
        x.v = v;
        r.push_back(std::move(x));
    };
    put(t_ns);
    put(std::string("line \"one\"\n\ttab \xc3\xa9"));
    put(int32_t{42});
    put(int64_t{9007199254740993});  // 2^53 + 1: exact as an integer
    put(0.1f);
    put(-2.5);
    put(std::numeric_limits<double>::quiet_NaN());
    put(true);
    put(avro::BytesValue{std::string("\x00\xff\x10", 3)});
    put(avro::FixedValue{std::string("\x01\x02\x03\x04", 4)});
    put(avro::EnumValue{1});
    r.push_back(Value::make_union(1, [] { Value d; d.v = 1.5; return d; }()));
    r.push_back(Value::make_union(0, Value{}));
    {
        avro::Record p;
        Value x;
        x.v = 3.0;
        p.push_back(x);
        Value tag;
        tag.v = std::string("P");
        p.push_back(tag);
        r.push_back(Value::make_record(std::move(p)));
    }
    {
        avro::Array a;
        for (int32_t i : {1, 2, 3}) {
            Value e;
            e.v = i;
            a.push_back(e);
        }
        r.push_back(Value::make_array(std::move(a)));
    }
    {
        Value m;
        m.v = avro::Map{{"a", num(1)}, {"b", num(-2)}};
        r.push_back(std::move(m));
    }
    r.push_back(Value::make_union(1, [] { Value s; s.v = std::string("s"); return s; }()));
    return Value::make_record(std::move(r));
}

using hub_test::datagram;
using hub_test::ingest;

}  // namespace

TEST(LegacyJson, EveryTypeAsTheEarlierServerSentIt) {
    auto schema = avro::Schema::parse(kAll);
    ASSERT_TRUE(schema.ok()) << schema.message();
    std::string bytes;
    // 2025-01-23T14:00:00.123456789Z
    const int64_t t = 1737640800123456789;
    ASSERT_TRUE(avro::encode(*schema, record_all(t), bytes).ok());
    std::string out = "prefix";
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    ASSERT_TRUE(append_legacy_record_json(*schema, 0, TimeUnit::ns, p, p + bytes.size(), out));
    ASSERT_EQ(out.rfind("prefix", 0), 0u);
    const std::string text = out.substr(6);
    json j = json::parse(text);
    EXPECT_EQ(j["time"], "2025-01-23T14:00:00.123Z");  // Date.toISOString(): whole ms
    EXPECT_EQ(j["message"], "line \"one\"\n\ttab \xc3\xa9");
    EXPECT_EQ(j["counter"], 42);
    EXPECT_EQ(j["big"].get<int64_t>(), 9007199254740993);
    EXPECT_EQ(j["f"].get<double>(), static_cast<double>(0.1f));  // the float's value, as a JS number holds it
    EXPECT_EQ(j["d"], -2.5);
    EXPECT_TRUE(j["nan"].is_null());  // JSON.stringify(NaN) is null
    EXPECT_EQ(j["ok"], true);
    EXPECT_EQ(j["raw"], json::parse(R"({"type":"Buffer","data":[0,255,16]})"));
    EXPECT_EQ(j["id"], json::parse(R"({"type":"Buffer","data":[1,2,3,4]})"));
    EXPECT_EQ(j["mode"], "RUN");
    EXPECT_EQ(j["opt"], json::parse(R"({"double":1.5})"));  // avro-js wrapped union values
    EXPECT_TRUE(j["none"].is_null());
    EXPECT_EQ(j["pos"], json::parse(R"({"x":3,"tag":"P"})"));
    EXPECT_EQ(j["vec"], json::parse("[1,2,3]"));
    EXPECT_EQ(j["attrs"], json::parse(R"({"a":1,"b":-2})"));
    EXPECT_EQ(j["either"], json::parse(R"({"string":"s"})"));
    // Flat: the record's fields, in schema order, nothing else.
    std::vector<std::string> keys;
    for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys.size(), schema->root().fields.size());
    EXPECT_LT(text.find("\"time\""), text.find("\"message\""));
    EXPECT_LT(text.find("\"message\""), text.find("\"either\""));

    // Truncated bytes: false, and the output is left as it was.
    std::string keep = "x";
    EXPECT_FALSE(append_legacy_record_json(*schema, 0, TimeUnit::ns, p, p + bytes.size() - 3, keep));
    EXPECT_EQ(keep, "x");
}

TEST(LegacyJson, TimeInTheChannelsUnitAndBeforeTheEpoch) {
    std::string out;
    append_iso8601_ms(out, 0);
    EXPECT_EQ(out, "1970-01-01T00:00:00.000Z");
    out.clear();
    append_iso8601_ms(out, -1);  // floor, as Date keeps whole milliseconds
    EXPECT_EQ(out, "1969-12-31T23:59:59.999Z");
    auto schema = avro::Schema::parse(R"({"type":"record","name":"r","fields":[{"name":"t","type":"double"},{"name":"v","type":"int"}]})");
    ASSERT_TRUE(schema.ok());
    std::string bytes;
    avro::append_double(bytes, 1737640800.5);  // seconds
    avro::append_long(bytes, 7);
    out.clear();
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    ASSERT_TRUE(append_legacy_record_json(*schema, 0, TimeUnit::s, p, p + bytes.size(), out));
    EXPECT_EQ(out, R"({"t":"2025-01-23T14:00:00.500Z","v":7})");
}

TEST(LegacyHub, RecordsOnlyWhileOnOneTextPerRecordChannelNamesPerBatch) {
    auto schema = avro::Schema::parse(R"({"type":"record","name":"r","fields":[
      {"name":"time","type":{"type":"long","logicalType":"timestamp-nanos"}},{"name":"x","type":"double"}]})");
    ASSERT_TRUE(schema.ok());
    Hub hub;
    ASSERT_TRUE(hub.add_channel("a", *schema, "time", "").ok());
    ASSERT_TRUE(hub.add_channel("b", *schema, "time", "").ok());
    auto rec = [](int64_t t, double x) {
        std::string r;
        avro::append_long(r, t);
        avro::append_double(r, x);
        return r;
    };
    const uint64_t fp = schema->fingerprint();
    ingest(hub, datagram(fp, 1, {rec(1'000'000'000, 1)}, "a"));
    EXPECT_EQ(hub.take_legacy(), nullptr);  // off: nothing encoded
    EXPECT_EQ(hub.counters().legacy_records, 0u);

    hub.set_legacy(true);
    ingest(hub, datagram(fp, 2, {rec(2'000'000'000, 2), rec(2'001'000'000, 2.5)}, "a"));
    ingest(hub, datagram(fp, 1, {rec(3'000'000'000, 3)}, "b"));
    ingest(hub, datagram(fp, 3, {rec(4'000'000'000, 4)}, "a"));
    auto b = hub.take_legacy();
    ASSERT_NE(b, nullptr);
    ASSERT_EQ(b->size(), 4u);
    EXPECT_EQ(b->record(0), R"({"time":"1970-01-01T00:00:02.000Z","x":2})");
    EXPECT_EQ(b->record(1), R"({"time":"1970-01-01T00:00:02.001Z","x":2.5})");
    EXPECT_EQ(b->record(2), R"({"time":"1970-01-01T00:00:03.000Z","x":3})");
    EXPECT_EQ(b->channel_of(0), "a");
    EXPECT_EQ(b->channel_of(2), "b");
    EXPECT_EQ(b->channel_of(3), "a");
    EXPECT_EQ(b->channels.size(), 2u);  // one copy of each name per batch
    EXPECT_EQ(hub.take_legacy(), nullptr);
    EXPECT_EQ(hub.counters().legacy_records, 4u);

    hub.set_legacy(false);
    ingest(hub, datagram(fp, 4, {rec(5'000'000'000, 5)}, "a"));
    EXPECT_EQ(hub.take_legacy(), nullptr);
}

TEST(LegacyHub, RecordsNobodyTakesAreCappedKeepingTheNewest) {
    auto schema = avro::Schema::parse(R"({"type":"record","name":"r","fields":[
      {"name":"time","type":"long"},{"name":"x","type":"double"}]})");
    ASSERT_TRUE(schema.ok());
    HubOptions o;
    o.max_legacy_records = 10;
    Hub hub(o);
    ASSERT_TRUE(hub.add_channel("a", *schema, "time", "ns").ok());
    hub.set_legacy(true);
    for (int i = 0; i < 25; ++i) {
        std::string r;
        avro::append_long(r, int64_t{i} * 1'000'000);
        avro::append_double(r, i);
        ingest(hub, datagram(schema->fingerprint(), static_cast<uint64_t>(i + 1), {r}, "a"));
    }
    auto b = hub.take_legacy();
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->size(), 5u);  // two full batches of 10 dropped, the newest 5 kept
    EXPECT_EQ(json::parse(b->record(4))["x"], 24);
    EXPECT_EQ(hub.counters().legacy_dropped, 20u);
    EXPECT_EQ(hub.counters().legacy_records, 25u);
}
