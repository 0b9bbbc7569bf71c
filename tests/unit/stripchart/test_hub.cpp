// The stripchart hub: decoding decimated datagrams into per-signal frames, latest values,
// malformed/unknown counting, loss from sequence gaps, per-signal frame cap.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/avro/codec.hpp"
#include "core/net/mcast_header.hpp"
#include "stripchart/hub.hpp"
#include "hub_datagrams.hpp"

using namespace speeddata;
using namespace speeddata::stripchart;

namespace {

const char* kSchema = R"({"type":"record","name":"r","fields":[
  {"name":"time","type":{"type":"long","logicalType":"timestamp-nanos"}},
  {"name":"label","type":"string"},
  {"name":"x","type":"double"},
  {"name":"n","type":"int"},
  {"name":"f","type":"float"},
  {"name":"maybe","type":["null","long"]},
  {"name":"mode","type":{"type":"enum","name":"m","symbols":["A","B"]}}]})";

avro::Schema schema() { return *avro::Schema::parse(kSchema); }

std::string record(int64_t t_ns, const std::string& label, double x, int32_t n, float f, bool null_maybe, int mode) {
    std::string out;
    avro::append_long(out, t_ns);
    avro::append_long(out, static_cast<int64_t>(label.size()));
    out += label;
    avro::append_double(out, x);
    avro::append_long(out, n);
    avro::append_float(out, f);
    avro::append_long(out, null_maybe ? 0 : 1);
    if (!null_maybe) avro::append_long(out, n * 10);
    avro::append_long(out, mode);
    return out;
}

using hub_test::datagram;
using hub_test::ingest;

struct Seg {
    uint32_t id, n;
    std::vector<double> t, v;
};
std::map<uint32_t, Seg> segments(const Frame& f) {
    std::map<uint32_t, Seg> out;
    for (const auto& s : f.segments) {
        const std::string& b = *s.bytes;
        Seg g;
        std::memcpy(&g.id, b.data(), 4);
        std::memcpy(&g.n, b.data() + 4, 4);
        g.t.resize(g.n);
        g.v.resize(g.n);
        std::memcpy(g.t.data(), b.data() + 8, 8 * g.n);
        std::memcpy(g.v.data(), b.data() + 8 + 8 * g.n, 8 * g.n);
        EXPECT_EQ(b.size(), 8 + 16 * size_t{g.n});
        EXPECT_EQ(g.id, s.signal_id);
        out[g.id] = g;
    }
    return out;
}

}  // namespace

TEST(StripchartHub, SignalsAreTheNumericFieldsExceptTime) {
    Hub hub;
    auto r = hub.add_channel("ch", schema(), "time", "");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(*r);
    EXPECT_FALSE(*hub.add_channel("ch", schema(), "time", ""));  // same schema again: nothing new
    auto j = hub.signals_json();
    std::vector<std::string> names;
    for (const auto& s : j["signals"]) names.push_back(s["name"]);
    EXPECT_EQ(names, (std::vector<std::string>{"ch.x", "ch.n", "ch.f", "ch.maybe"}));
    EXPECT_EQ(j["channels"]["ch"]["time_field"], "time");
    EXPECT_FALSE(hub.add_channel("ch", schema(), "nope", "").ok());
    EXPECT_FALSE(hub.add_channel("ch", *avro::Schema::parse(R"("long")"), "time", "").ok());
}

TEST(StripchartHub, DecodesRecordsInOrderWithTimesInMs) {
    Hub hub;
    ASSERT_TRUE(hub.add_channel("ch", schema(), "time", "").ok());
    uint64_t fp = schema().fingerprint();
    const int64_t t0 = 1'795'507'500'000'000'000;
    ingest(hub, datagram(fp, 0, {record(t0, "a", 1.5, 7, 0.25f, false, 1), record(t0 + 1'000'000, "bb", -2.5, 8, 0.5f, true, 0)}));
    ingest(hub, datagram(fp, 1, {record(t0 + 2'000'000, "ccc", 3.5, 9, 0.75f, false, 1)}));
    auto f = hub.take_frame();
    ASSERT_TRUE(f);
    auto segs = segments(*f);
    uint32_t x = *hub.signal_id("ch.x"), n = *hub.signal_id("ch.n"), fl = *hub.signal_id("ch.f"), m = *hub.signal_id("ch.maybe");
    EXPECT_EQ(segs[x].v, (std::vector<double>{1.5, -2.5, 3.5}));
    EXPECT_EQ(segs[n].v, (std::vector<double>{7, 8, 9}));
    EXPECT_EQ(segs[fl].v, (std::vector<double>{0.25, 0.5, 0.75}));
    EXPECT_EQ(segs[m].v, (std::vector<double>{70, 90}));  // the null is a missing sample
    EXPECT_EQ(segs[x].t, (std::vector<double>{1795507500000.0, 1795507500001.0, 1795507500002.0}));
    EXPECT_FALSE(hub.take_frame());  // nothing pending any more

    auto st = hub.status_json();
    const auto& ch = st["channels"]["ch"];
    EXPECT_EQ(ch["values"]["label"], "ccc");
    EXPECT_EQ(ch["values"]["mode"], "B");
    EXPECT_EQ(ch["values"]["n"], 9);
    EXPECT_EQ(ch["time_ns"], t0 + 2'000'000);
    EXPECT_EQ(ch["time"], "2026-11-24T08:05:00.002Z");
    EXPECT_EQ(ch["records"], 3);
    EXPECT_EQ(hub.counters().samples, 11u);
}

TEST(StripchartHub, MalformedUnknownAndLossAreCounted) {
    Hub hub;
    ASSERT_TRUE(hub.add_channel("ch", schema(), "time", "").ok());
    uint64_t fp = schema().fingerprint();
    const int64_t t0 = 1'795'507'500'000'000'000;
    std::string good = record(t0, "a", 1, 1, 1, true, 0);
    ingest(hub, "garbage");
    ingest(hub, datagram(fp + 1, 0, {good}));
    ingest(hub, datagram(fp, 0, {good}));
    ingest(hub, datagram(fp, 1, {good.substr(0, good.size() - 1)}));      // truncated
    ingest(hub, datagram(fp, 2, {good, good}).substr(0, 200) + "");         // whole, count ok
    ingest(hub, datagram(fp, 3, {good}) + "xx");                           // trailing bytes
    ingest(hub, datagram(fp, 9, {record(t0 + 5'000'000, "z", 2, 2, 2, true, 0)}));  // 4..8 lost
    ingest(hub, datagram(fp, 0, {good}));                                  // relay restart: not loss
    auto c = hub.counters();
    EXPECT_EQ(c.datagrams, 8u);
    EXPECT_EQ(c.malformed, 3u);
    EXPECT_EQ(c.unknown_fingerprint, 1u);
    EXPECT_EQ(c.lost_datagrams, 5u);
    auto st = hub.status_json();
    EXPECT_EQ(st["channels"]["ch"]["lost"], 5);
    EXPECT_EQ(st["channels"]["ch"]["restarts"], 1);
    ASSERT_EQ(st["channels"]["ch"]["loss_events"].size(), 1u);
    EXPECT_EQ(st["channels"]["ch"]["loss_events"][0]["missing"], 5);
    EXPECT_DOUBLE_EQ(st["channels"]["ch"]["loss_events"][0]["time_ms"].get<double>(), static_cast<double>(t0 + 5'000'000) / 1e6);
    // Valid records before a bad one are kept: 1 + 0 + 2 + 1 + 1 + 1
    EXPECT_EQ(c.records, 6u);
}

TEST(StripchartHub, EachSignalIsCappedPerFrameKeepingTheNewest) {
    HubOptions o;
    o.max_samples_per_signal_frame = 100;
    Hub hub(o);
    ASSERT_TRUE(hub.add_channel("ch", schema(), "time", "").ok());
    uint64_t fp = schema().fingerprint();
    for (int i = 0; i < 1000; ++i) ingest(hub, datagram(fp, i, {record(1'000'000'000'000'000'000 + i, "a", i, i, 0, true, 0)}));
    auto f = hub.take_frame();
    auto segs = segments(*f);
    auto& n = segs[*hub.signal_id("ch.n")];
    EXPECT_LE(n.n, 100u);
    EXPECT_GE(n.n, 50u);
    EXPECT_EQ(n.v.back(), 999);
    for (size_t i = 1; i < n.v.size(); ++i) EXPECT_EQ(n.v[i], n.v[i - 1] + 1);
    EXPECT_GT(hub.counters().samples_dropped, 0u);
}

TEST(StripchartHub, ChannelsSharingASchemaKeepTheirOwnSignals) {
    Hub hub;
    ASSERT_TRUE(hub.add_channel("a", schema(), "time", "").ok());
    ASSERT_TRUE(hub.add_channel("b", schema(), "time", "").ok());
    EXPECT_TRUE(hub.knows("a", schema().fingerprint()));
    EXPECT_FALSE(hub.knows("c", schema().fingerprint()));
    uint64_t fp = schema().fingerprint();
    const int64_t t0 = 1'795'507'500'000'000'000;
    uint64_t v0 = hub.signals_version();
    ingest(hub, datagram(fp, 0, {record(t0, "x", 1, 1, 1, true, 0)}, "a"));
    ingest(hub, datagram(fp, 0, {record(t0, "x", 2, 2, 2, true, 0)}, "b"));
    ingest(hub, datagram(fp, 0, {record(t0, "x", 3, 3, 3, true, 0)}, "c"));  // learned on the fly
    EXPECT_GT(hub.signals_version(), v0);
    auto segs = segments(*hub.take_frame());
    EXPECT_EQ(segs[*hub.signal_id("a.x")].v, std::vector<double>{1});
    EXPECT_EQ(segs[*hub.signal_id("b.x")].v, std::vector<double>{2});
    ASSERT_TRUE(hub.signal_id("c.x"));
    EXPECT_EQ(segs[*hub.signal_id("c.x")].v, std::vector<double>{3});
    EXPECT_EQ(hub.counters().unknown_fingerprint, 0u);
}

// A client subscribing late gets the samples of the frames already built (backfill), and the
// next frame starts right after them: no gap, no duplicate at the join.
TEST(StripchartHub, BackfillHoldsTheFramesAlreadyTakenAndNothingPending) {
    HubOptions o;
    o.backfill_ms = 50;
    o.backfill_max_samples = 1000;
    Hub hub(o);
    ASSERT_TRUE(hub.add_channel("ch", schema(), "time", "").ok());
    uint64_t fp = schema().fingerprint();
    const int64_t t0 = 1'795'507'500'000'000'000;
    uint32_t x = *hub.signal_id("ch.x");
    EXPECT_FALSE(hub.backfill_frame({x}));  // nothing yet
    uint64_t seq = 0;
    auto at = [&](int ms, double v) { ingest(hub, datagram(fp, seq++, {record(t0 + ms * 1'000'000LL, "a", v, 1, 1, true, 0)})); };
    for (int i = 0; i < 100; ++i) at(i, i);  // 0..99 ms
    ASSERT_TRUE(hub.take_frame());
    at(100, 100);  // pending, not yet in a frame
    auto b = hub.backfill_frame({x, x, 999});
    ASSERT_TRUE(b);
    EXPECT_EQ(b->sequence, 0u);
    auto segs = segments(*b);
    ASSERT_EQ(segs.size(), 1u);
    // The newest 50 ms of what was sent: 49..99 (times within backfill_ms of the newest).
    ASSERT_EQ(segs[x].v.size(), 51u);
    EXPECT_EQ(segs[x].v.front(), 49);
    EXPECT_EQ(segs[x].v.back(), 99);
    auto next = segments(*hub.take_frame());
    EXPECT_EQ(next[x].v, (std::vector<double>{100}));
    // Bounded by count too.
    HubOptions small;
    small.backfill_max_samples = 10;
    Hub h2(small);
    ASSERT_TRUE(h2.add_channel("ch", schema(), "time", "").ok());
    for (int i = 0; i < 3000; ++i)
        h2.ingest(reinterpret_cast<const uint8_t*>(datagram(fp, i, {record(t0 + i * 1'000'000LL, "a", i, 1, 1, true, 0)}).data()),
                  datagram(fp, i, {record(t0 + i * 1'000'000LL, "a", i, 1, 1, true, 0)}).size()),
            (void)(i % 7 == 0 && h2.take_frame());
    h2.take_frame();
    auto s2 = segments(*h2.backfill_frame({*h2.signal_id("ch.x")}));
    ASSERT_EQ(s2.begin()->second.v.size(), 10u);
    EXPECT_EQ(s2.begin()->second.v.back(), 2999);
}

TEST(StripchartHub, RemovedChannelLeavesTheListAndComesBackWithItsIds) {
    Hub hub;
    ASSERT_TRUE(hub.add_channel("ch", schema(), "time", "").ok());
    ASSERT_TRUE(hub.add_channel("other", schema(), "time", "").ok());
    uint32_t x = *hub.signal_id("ch.x");
    uint64_t v0 = hub.signals_version();
    EXPECT_TRUE(hub.remove_channel("ch"));
    EXPECT_GT(hub.signals_version(), v0);
    EXPECT_FALSE(hub.remove_channel("ch"));
    auto j = hub.signals_json();
    for (const auto& s : j["signals"]) EXPECT_EQ(s["channel"], "other");
    EXPECT_FALSE(j["channels"].contains("ch"));
    EXPECT_FALSE(hub.status_json()["channels"].contains("ch"));
    EXPECT_FALSE(hub.knows("ch", schema().fingerprint()));
    ASSERT_TRUE(*hub.add_channel("ch", schema(), "time", ""));
    EXPECT_EQ(*hub.signal_id("ch.x"), x);
    bool listed = false;
    auto j2 = hub.signals_json();
    for (const auto& s : j2["signals"]) listed |= s["name"] == "ch.x";
    EXPECT_TRUE(listed);
}
