// The earlier version's (v0.6) config spellings: accepted, mapped onto the new options, one
// notice per old-form key, errors naming the key as written; `config migrate`'s rewrite.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "config_test_util.hpp"
#include "core/config/config.hpp"
#include "core/config/orchestrator_config.hpp"

namespace speeddata::config {
namespace {

using test::ConfigDir;
namespace fs = std::filesystem;

fs::path v06_dir() { return test::source_dir() / "tests/data/v0.6/config"; }

std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A ConfigDir holding the earlier files verbatim (yaml and agents/*.avsc).
void use_v06(const ConfigDir& d) {
    for (const char* f : {"global.yaml", "relay.yaml", "stripchart.yaml", "pivot.yaml", "agents/example.avsc",
                          "agents/temperature.avsc"}) {
        d.write(f, read(v06_dir() / f));
    }
}

// Messages and notices with the temp dir's prefix cut: "relay.yaml: ...".
std::string rel(const ConfigDir& d, std::string m) {
    const std::string p = d.dir().string() + "/";
    for (size_t at; (at = m.find(p)) != std::string::npos;) m.erase(at, p.size());
    return m;
}
std::vector<std::string> rel(const ConfigDir& d, const std::vector<std::string>& v) {
    std::vector<std::string> out;
    for (const auto& m : v) out.push_back(rel(d, m));
    return out;
}

TEST(Legacy, FixtureIsTheReferenceVerbatim) {
    const fs::path ref = test::source_dir().parent_path() / "shared/reference/v0.6/config";
    std::error_code ec;
    if (!fs::is_directory(ref, ec)) GTEST_SKIP() << ref << " is not here";
    for (const char* f : {"global.yaml", "relay.yaml", "stripchart.yaml", "pivot.yaml", "agents/example.avsc",
                          "agents/temperature.avsc"}) {
        EXPECT_EQ(read(v06_dir() / f), read(ref / f)) << f;
    }
}

TEST(Legacy, EarlierFilesLoadAsTheyMeant) {
    ConfigDir d;
    use_v06(d);
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->multicast.full.group, "239.1.1.1");
    EXPECT_EQ(r->multicast.full.port, 6000);
    EXPECT_EQ(r->multicast.decimated.group, "239.1.1.2");
    EXPECT_EQ(r->multicast.decimated.port, 6001);
    EXPECT_EQ(r->storage.avro_path, d.root() / "data");
    ASSERT_EQ(r->channels.size(), 1u);
    const ChannelConfig& c = r->channels.at("example");
    EXPECT_EQ(c.port, 26000);
    EXPECT_EQ(c.schema, "agents/example.avsc");
    EXPECT_EQ(c.schema_path, d.dir() / "agents/example.avsc");
    EXPECT_EQ(c.avro_dir, d.root() / "data/example");
    EXPECT_EQ(c.decimation_factor, 5);
    EXPECT_EQ(c.decimation_algorithm, DecimationAlgorithm::downsample);
    EXPECT_EQ(c.rotate_interval, std::chrono::seconds(3600));  // mode: time, threshold: 3600
    EXPECT_EQ(c.rotate_bytes, 0u);                             // ... and not by size
    EXPECT_EQ(c.retention_ttl, std::chrono::seconds(86400));   // mode: ttl, value: 86400
    EXPECT_EQ(c.retention_max_bytes, 0u);

    auto s = load_stripchart_config(d.dir());
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->port, 8081);
    auto p = load_pivot_config(d.dir());
    ASSERT_TRUE(p.ok()) << p.message();
    EXPECT_EQ(p->port, 8000);
    EXPECT_EQ(p->max_channels, 20);
    EXPECT_EQ(p->max_duration, std::chrono::seconds(300));
    auto o = load_orchestrator_config(d.dir());  // no orchestrator.yaml then: all defaults
    ASSERT_TRUE(o.ok()) << o.message();
}

TEST(Legacy, OneNoticePerOldFormKeyNamingFileKeyAndNewSpelling) {
    ConfigDir d;
    use_v06(d);
    const std::vector<std::string> global = {
        "global.yaml: multicast.full_rate.address: earlier spelling of multicast.full.group",
        "global.yaml: multicast.full_rate.port: earlier spelling of multicast.full.port",
        "global.yaml: multicast.decimated.address: earlier spelling of multicast.decimated.group",
    };
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    std::vector<std::string> relay = global;
    relay.insert(relay.end(), {
        "relay.yaml: channels: a list of {name, port, schema} is the earlier form; now a mapping of channel names "
        "(channels.NAME: {port, schema})",
        "relay.yaml: channels[0].schema: \"config/agents/example.avsc\" is relative to the repository root (the "
        "earlier form); now relative to the config directory: channels.example.schema: agents/example.avsc",
        "relay.yaml: decimation.enabled: no longer an option: the decimated stream is always sent "
        "(defaults.decimation.factor: 1 makes it carry every record); ignored",
        "relay.yaml: decimation.factor: earlier spelling of defaults.decimation.factor",
        "relay.yaml: decimation.algorithm: earlier spelling of defaults.decimation.algorithm",
        "relay.yaml: rotation: {mode: \"time\", threshold: 3600} is the earlier form; now defaults.rotation: "
        "{interval: 1h, max_size: 0}",
        "relay.yaml: retention: {mode: \"ttl\", value: 86400} is the earlier form; now defaults.retention: {ttl: 1d}",
    });
    EXPECT_EQ(rel(d, r->notices), relay);

    auto s = load_stripchart_config(d.dir());
    ASSERT_TRUE(s.ok());
    std::vector<std::string> strip = global;
    strip.insert(strip.end(), {
        "stripchart.yaml: websocket.port: earlier spelling of http.port",
        "stripchart.yaml: decimation.pass_through: no longer an option (the stripchart shows the relay's decimated "
        "stream as it is sent, as the earlier one did); ignored",
    });
    EXPECT_EQ(rel(d, s->notices), strip);

    auto p = load_pivot_config(d.dir());
    ASSERT_TRUE(p.ok());
    std::vector<std::string> piv = global;
    piv.insert(piv.end(), {
        "pivot.yaml: api.port: earlier spelling of http.port",
        "pivot.yaml: api.limits.max_channels: earlier spelling of limits.max_channels",
        "pivot.yaml: api.limits.max_duration_minutes: earlier spelling of limits.max_duration (5 minutes: 5m)",
        "pivot.yaml: api.limits.timeout_seconds: no longer an option (the earlier pivot did not use it either; an "
        "export runs until it is done, its size bounded by limits.max_duration and limits.max_channels); ignored",
    });
    EXPECT_EQ(rel(d, p->notices), piv);
}

TEST(Legacy, NewFormHasNoNotice) {
    ConfigDir d;
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(r->notices.empty());
    const fs::path shipped = test::source_dir() / "config";
    for (auto n : {load_relay_config(shipped).ok() ? load_relay_config(shipped)->notices : std::vector<std::string>{"x"},
                   load_stripchart_config(shipped)->notices, load_pivot_config(shipped)->notices,
                   load_orchestrator_config(shipped)->notices}) {
        EXPECT_TRUE(n.empty()) << n.front();
    }
}

std::string global_error(const std::string& yaml) {
    ConfigDir d;
    d.write("global.yaml", yaml);
    auto r = load_relay_config(d.dir());
    return r.ok() ? "(loaded)" : rel(d, r.message());
}

std::string relay_error(const std::string& yaml) {
    ConfigDir d;
    d.write("relay.yaml", yaml);
    auto r = load_relay_config(d.dir());
    return r.ok() ? "(loaded)" : rel(d, r.message());
}

TEST(Legacy, ErrorsNameTheKeyAsWritten) {
    EXPECT_EQ(global_error("multicast:\n  full_rate:\n    address: 10.0.0.1\n"),
              "global.yaml: multicast.full_rate.address (now multicast.full.group): expected an IPv4 multicast group "
              "(224.0.0.0 to 239.255.255.255), got \"10.0.0.1\"");
    EXPECT_EQ(global_error("multicast:\n  full_rate:\n    port: abc\n"),
              "global.yaml: multicast.full_rate.port: expected an integer 1..65535, got \"abc\"");
    EXPECT_EQ(global_error("multicast:\n  full_rate:\n    adress: 239.1.1.1\n"),
              "global.yaml: multicast.full_rate.adress: unknown key (did you mean 'address'?)");
    EXPECT_EQ(relay_error("channels:\n  - name: example\n    port: 70000\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels[0].port: expected an integer 1..65535, got \"70000\"");
    EXPECT_EQ(relay_error("channels:\n  - name: example\n    prot: 26000\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels[0].prot: unknown key (did you mean 'port'?)");
    EXPECT_EQ(relay_error("channels:\n  - name: example\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels[0].port: required key missing (expected an integer 1..65535)");
    EXPECT_EQ(relay_error("channels:\n  - port: 26000\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels[0]: required key missing: name");
    EXPECT_EQ(relay_error("channels:\n  - name: a b\n    port: 26000\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels[0].name: invalid channel name \"a b\" (expected 1..64 letters, digits, '_' or '-', "
              "starting with a letter or '_')");
    EXPECT_EQ(relay_error("channels:\n  - {name: a, port: 26000, schema: agents/example.avsc}\n"
                          "  - {name: a, port: 26001, schema: agents/example.avsc}\n"),
              "relay.yaml: channels[1].name: channel 'a' is listed twice");
    EXPECT_EQ(relay_error("channels:\n  - {name: a, port: 26000, schema: agents/example.avsc}\n"
                          "  - {name: b, port: 26000, schema: agents/example.avsc}\n"),
              "relay.yaml: channels[1].port: port 26000 is already used by channel 'a'");
    EXPECT_EQ(relay_error("channels:\n  - {name: a, port: 26000, schema: agents/nope.avsc}\n"),
              "relay.yaml: channels[0].schema: cannot read agents/nope.avsc: No such file or directory");
}

TEST(Legacy, RelaySectionErrors) {
    const std::string ch = "channels:\n  example:\n    port: 26000\n    schema: agents/example.avsc\n";
    EXPECT_EQ(relay_error(ch + "decimation:\n  factor: 0\n"),
              "relay.yaml: decimation.factor (now defaults.decimation.factor): expected an integer 1..1000000, got \"0\"");
    EXPECT_EQ(relay_error(ch + "decimation:\n  enabled: maybe\n"),
              "relay.yaml: decimation.enabled: expected true or false, got \"maybe\"");
    EXPECT_EQ(relay_error(ch + "decimation:\n  facter: 5\n"),
              "relay.yaml: decimation.facter (now defaults.decimation.facter): unknown key (did you mean 'factor'?)");
    EXPECT_EQ(relay_error(ch + "rotation:\n  mode: hourly\n  threshold: 60\n"),
              "relay.yaml: rotation.mode: expected one of time, size, got \"hourly\"");
    EXPECT_EQ(relay_error(ch + "rotation:\n  threshold: 60\n"),
              "relay.yaml: rotation.threshold: needs rotation.mode (time or size)");
    EXPECT_EQ(relay_error(ch + "rotation:\n  mode: time\n  threshold: soon\n"),
              "relay.yaml: rotation.threshold: expected seconds: expected a duration in whole seconds, 0 or 1s..365d, "
              "got \"soon\"");
    EXPECT_EQ(relay_error(ch + "retention:\n  mode: quota\n  value: lots\n"),
              "relay.yaml: retention.value: expected bytes: expected a size 0..1024TiB, got \"lots\"");
    EXPECT_EQ(relay_error(ch + "decimation:\n  factor: 5\ndefaults:\n  decimation:\n    factor: 6\n"),
              "relay.yaml: decimation: also given as defaults.decimation; keep one (defaults.decimation is the new "
              "spelling)");
    EXPECT_EQ(relay_error(ch + "rotaton:\n  mode: time\n"), "relay.yaml: rotaton: unknown key");
}

TEST(Legacy, GlobalAndServiceConflicts) {
    EXPECT_EQ(global_error("multicast:\n  full_rate: {port: 6000}\n  full: {port: 6000}\n"),
              "global.yaml: multicast.full_rate: also given as multicast.full; keep one (full is the new spelling)");
    EXPECT_EQ(global_error("multicast:\n  decimated: {address: 239.1.1.2, group: 239.1.1.3}\n"),
              "global.yaml: multicast.decimated.address: also given as multicast.decimated.group; keep one (group is "
              "the new spelling)");
    ConfigDir d;
    d.write("stripchart.yaml", "websocket:\n  port: 8082\nhttp:\n  port: 8083\n");
    auto s = load_stripchart_config(d.dir());
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(rel(d, s.message()),
              "stripchart.yaml: websocket.port: also given as http.port; keep one (http.port is the new spelling)");
    d.write("stripchart.yaml", "websocket:\n  port: 8082\nhttp:\n  bind: 0.0.0.0\n");
    s = load_stripchart_config(d.dir());
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->port, 8082);
    EXPECT_EQ(s->bind, "0.0.0.0");
    d.write("pivot.yaml", "api:\n  limits:\n    max_duration_minutes: abc\n");
    auto p = load_pivot_config(d.dir());
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(rel(d, p.message()),
              "pivot.yaml: api.limits.max_duration_minutes: expected a number of minutes, 1s..30d, got \"abc\"");
    d.write("pivot.yaml", "api:\n  limits:\n    max_duration_minutes: 90\n    timeout_seconds: 5\n");
    p = load_pivot_config(d.dir());
    ASSERT_TRUE(p.ok()) << p.message();
    EXPECT_EQ(p->max_duration, std::chrono::seconds(5400));
    d.write("pivot.yaml", "api:\n  port: 9000\n  limits: {max_channels: 0}\n");
    p = load_pivot_config(d.dir());
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(rel(d, p.message()),
              "pivot.yaml: api.limits.max_channels (now limits.max_channels): expected an integer 1..10000, got \"0\"");
}

TEST(Legacy, MovedKeysJoinAnEmptyNewSection) {
    ConfigDir d;
    d.write("relay.yaml", "defaults:\n  # nothing set here yet\nchannels:\n  example:\n    port: 26000\n"
                          "    schema: agents/example.avsc\ndecimation:\n  factor: 3\n");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->channels.at("example").decimation_factor, 3);
}

TEST(Legacy, ModesMapToOneLimitAndTheOtherOff) {
    ConfigDir d;
    d.relay_with("", "");
    d.write("relay.yaml", read(d.dir() / "relay.yaml") + "rotation: {mode: size, threshold: 52428800}\n"
                                                        "retention: {mode: quota, value: 10GiB}\n");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    const auto& c = r->channels.at("example");
    EXPECT_EQ(c.rotate_bytes, 52428800u);
    EXPECT_EQ(c.rotate_interval, std::chrono::seconds(0));
    EXPECT_EQ(c.retention_max_bytes, 10ull << 30);
    EXPECT_EQ(c.retention_ttl, std::chrono::seconds(0));
}

// Schema paths: relative to the config directory (the new form) wins; a path that only
// exists relative to its parent (the repository root, the earlier form) is taken with a
// notice; one that leads outside the config directory is an error.
TEST(Legacy, SchemaPathRelativeToConfigDirWins) {
    ConfigDir d;
    const std::string old_schema = read(v06_dir() / "agents/temperature.avsc");
    d.write("relay.yaml", "channels:\n  example:\n    port: 26000\n    schema: config/agents/example.avsc\n");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->channels.at("example").schema_path, d.dir() / "agents/example.avsc");
    EXPECT_EQ(r->notices.size(), 1u);

    // Both exist: <config>/config/agents/example.avsc (relative to the config dir) wins.
    d.write("config/agents/example.avsc", old_schema);
    r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->channels.at("example").schema_path, d.dir() / "config/agents/example.avsc");
    EXPECT_TRUE(r->notices.empty());

    // Outside the config directory: an error that says what to do.
    d.write("../schemas/x.avsc", old_schema);
    d.write("relay.yaml", "channels:\n  - {name: t, port: 26000, schema: schemas/x.avsc}\n");
    r = load_relay_config(d.dir());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(rel(d, r.message()),
              "relay.yaml: channels[0].schema: \"schemas/x.avsc\" is relative to the repository root (the earlier "
              "form) and lies outside the config directory " + d.dir().string() +
              "; move the schema into it (e.g. agents/) and name it relative to it");
}

TEST(Legacy, ChannelEntriesMayHoldNewKeysAndMulticastOverrides) {
    ConfigDir d;
    d.write("relay.yaml",
            "channels:\n"
            "  - name: fast\n    port: 26010\n    schema: agents/example.avsc\n    codec: zstandard\n"
            "    multicast: {full_rate: {address: 239.9.9.1, port: 7000}}\n");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    const auto& c = r->channels.at("fast");
    EXPECT_EQ(c.codec, avro::Codec::zstandard);
    EXPECT_EQ(c.multicast.full.group, "239.9.9.1");
    EXPECT_EQ(c.multicast.full.port, 7000);
    EXPECT_EQ(c.multicast.decimated.group, "239.1.1.2");
    EXPECT_EQ(rel(d, r->notices[1]),
              "relay.yaml: channels[0].multicast.full_rate.address: earlier spelling of "
              "channels.fast.multicast.full.group");
}

TEST(Legacy, MigrateRewritesInTheNewFormKeepingComments) {
    ConfigDir d;
    use_v06(d);
    auto before = load_relay_config(d.dir());
    ASSERT_TRUE(before.ok());
    auto files = migrate_config(d.dir());
    ASSERT_TRUE(files.ok()) << files.message();
    std::map<std::string, MigratedFile> by_name;
    for (const auto& f : *files) by_name[f.path.filename().string()] = f;
    ASSERT_EQ(by_name.size(), 4u);

    EXPECT_EQ(by_name["global.yaml"].new_text,
              "# SpeedData Global Configuration\n"
              "# Shared settings across all services\n"
              "\n"
              "multicast:\n"
              "  full:\n"
              "    group: \"239.1.1.1\"\n"
              "    port: 6000\n"
              "  decimated:\n"
              "    group: \"239.1.1.2\"\n"
              "    port: 6001\n"
              "\n"
              "storage:\n"
              "  avro_path: \"./data\"  # Use local directory for development (change to /var/speeddata/avro for "
              "production)\n");
    EXPECT_TRUE(by_name["global.yaml"].dropped_comments.empty());

    const std::string& relay = by_name["relay.yaml"].new_text;
    EXPECT_EQ(relay,
              "# SpeedData Relay Configuration\n"
              "\n"
              "channels:\n"
              "  example:\n"
              "    port: 26000\n"
              "    schema: \"agents/example.avsc\"\n"
              "\n"
              "defaults:\n"
              "  decimation:\n"
              "    factor: 5  # For 1Hz test data, updates every 5 seconds (reduce for faster visualization)\n"
              "    algorithm: \"downsample\"  # Options: downsample, average, minmax, rms\n"
              "\n"
              "  rotation:\n"
              "    interval: 1h\n"
              "    max_size: 0\n"
              "\n"
              "  retention:\n"
              "    ttl: 1d\n");
    EXPECT_EQ(by_name["relay.yaml"].dropped_comments,
              (std::vector<std::string>{"line 14: # Options: time, size", "line 15: # seconds if mode=time, bytes if mode=size",
                                        "line 18: # Options: ttl, quota", "line 19: # seconds if mode=ttl, bytes if mode=quota"}));

    EXPECT_EQ(by_name["stripchart.yaml"].new_text,
              "# SpeedData Stripchart Configuration\n"
              "\n"
              "http:\n"
              "  port: 8081  # Changed from 8080 (now used by orchestrator REST API)\n");
    EXPECT_EQ(by_name["stripchart.yaml"].dropped_comments,
              (std::vector<std::string>{"line 7: # Stripchart subscribes to relay's decimated multicast stream",
                                        "line 8: # No additional decimation needed"}));
    EXPECT_EQ(by_name["pivot.yaml"].new_text,
              "# SpeedData Pivot Configuration\n"
              "\n"
              "http:\n"
              "  port: 8000\n"
              "limits:\n"
              "  max_channels: 20\n"
              "  max_duration: 5m\n");

    // Written, the files load to the same configuration, without a notice.
    for (const auto& [name, f] : by_name) d.write(name, f.new_text);
    auto after = load_relay_config(d.dir());
    ASSERT_TRUE(after.ok()) << after.message();
    EXPECT_TRUE(after->notices.empty());
    EXPECT_EQ(relay_to_json(*after), relay_to_json(*before));
    auto again = migrate_config(d.dir());
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->empty());
}

TEST(Legacy, EnvironmentOverridesOfTheEarlierRelay) {
    ConfigDir d;
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok());
    ChannelConfig c = r->channels.at("example");
    std::map<std::string, std::string> env = {{"RELAY_RX_PORT", "26005"},
                                              {"RELAY_OUTPUT_DIR", "/tmp/sd-out"},
                                              {"RELAY_DECIMATION_FACTOR", "3"},
                                              {"RELAY_DECIMATION_ENABLED", "true"}};
    const auto lookup = [&](const char* n) -> const char* {
        auto it = env.find(n);
        return it == env.end() ? nullptr : it->second.c_str();
    };
    auto log = apply_relay_environment(c, lookup);
    ASSERT_TRUE(log.ok()) << log.message();
    EXPECT_EQ(c.port, 26005);
    EXPECT_EQ(c.avro_dir, fs::path("/tmp/sd-out/example"));
    EXPECT_EQ(c.decimation_factor, 3);
    ASSERT_EQ(log->size(), 4u);
    EXPECT_EQ((*log)[0], "$RELAY_RX_PORT=26005 overrides channels.example.port (26000)");
    EXPECT_EQ((*log)[1], "$RELAY_OUTPUT_DIR=/tmp/sd-out overrides storage.avro_path (" +
                             (d.root() / "data/avro").string() + "): the cache is /tmp/sd-out/example");
    EXPECT_EQ((*log)[2], "$RELAY_DECIMATION_FACTOR=3 overrides decimation.factor (10)");

    env = {{"RELAY_RX_PORT", "0"}};
    EXPECT_EQ(apply_relay_environment(c, lookup).message(), "$RELAY_RX_PORT: expected an integer 1..65535, got \"0\"");
    env = {{"RELAY_DECIMATION_FACTOR", "five"}};
    EXPECT_EQ(apply_relay_environment(c, lookup).message(),
              "$RELAY_DECIMATION_FACTOR: expected an integer 1..1000000, got \"five\"");
    env = {};
    EXPECT_TRUE(apply_relay_environment(c, lookup)->empty());
}

}  // namespace
}  // namespace speeddata::config
