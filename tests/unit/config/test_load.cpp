// Loading: the shipped config/, merge precedence, parse_channel, show output.
#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "core/config/config.hpp"

namespace speeddata::config {
namespace {

using test::ConfigDir;
using test::source_dir;
using namespace std::chrono_literals;

TEST(ShippedConfig, RelayLoads) {
    auto r = load_relay_config(source_dir() / "config");
    ASSERT_TRUE(r.ok()) << r.message();
    const RelayConfig& rc = *r;
    ASSERT_EQ(rc.channels.size(), 2u);

    const ChannelConfig& ex = rc.channels.at("example");
    EXPECT_EQ(ex.name, "example");
    EXPECT_EQ(ex.port, 26000);
    EXPECT_EQ(ex.bind, "127.0.0.1");
    EXPECT_EQ(ex.schema, "agents/example.avsc");
    EXPECT_TRUE(ex.schema_path.is_absolute());
    EXPECT_TRUE(std::filesystem::exists(ex.schema_path));
    EXPECT_EQ(ex.decimation_factor, 10);
    EXPECT_EQ(ex.decimation_algorithm, DecimationAlgorithm::minmax);
    EXPECT_EQ(ex.codec, avro::Codec::null_codec);
    EXPECT_EQ(ex.flush_interval, 1000ms);
    EXPECT_EQ(ex.rotate_interval, 3600s);
    EXPECT_EQ(ex.retention_ttl, std::chrono::seconds(7 * 86400));
    EXPECT_EQ(ex.time_field, "time");
    EXPECT_EQ(ex.time_unit, "");

    const ChannelConfig& t = rc.channels.at("temperature");
    EXPECT_EQ(t.port, 26001);
    EXPECT_EQ(t.decimation_factor, 1);
    EXPECT_EQ(t.decimation_algorithm, DecimationAlgorithm::downsample);

    // Multicast: loopback by default, the documented groups.
    EXPECT_EQ(rc.multicast.full.group, "239.1.1.1");
    EXPECT_EQ(rc.multicast.full.port, 6000);
    EXPECT_EQ(rc.multicast.decimated.group, "239.1.1.2");
    EXPECT_EQ(rc.multicast.decimated.port, 6001);
    EXPECT_EQ(rc.multicast.interface, "127.0.0.1");
    EXPECT_EQ(rc.multicast.ttl, 1);
    EXPECT_EQ(ex.multicast.decimated.group, "239.1.1.2");

    // Storage: ./data relative to the repo root (the parent of config/).
    const auto root = std::filesystem::absolute(source_dir()).lexically_normal();
    EXPECT_EQ(rc.storage.root, root / "data");
    EXPECT_EQ(rc.storage.avro_path, root / "data/avro");
    EXPECT_EQ(ex.avro_dir, root / "data/avro/example");
    EXPECT_EQ(ex.status_file, root / "data/state/relays/example.json");
}

TEST(ShippedConfig, StripchartAndPivotLoad) {
    auto s = load_stripchart_config(source_dir() / "config");
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->bind, "127.0.0.1");
    EXPECT_EQ(s->port, 8081);
    EXPECT_EQ(s->multicast.decimated.port, 6001);
    auto p = load_pivot_config(source_dir() / "config");
    ASSERT_TRUE(p.ok()) << p.message();
    EXPECT_EQ(p->bind, "127.0.0.1");
    EXPECT_EQ(p->port, 8000);
    EXPECT_EQ(p->max_channels, 20);
    EXPECT_EQ(p->max_duration, 300s);
    EXPECT_EQ(p->compression, "gzip");
    EXPECT_EQ(p->compression_level, 1);
    EXPECT_TRUE(p->shuffle);
    EXPECT_EQ(p->threads, 0);
}

// Every key of the shipped files is spelled out: a file with the keys removed must load to
// the same values (so the comments in the files describe the real defaults).
TEST(ShippedConfig, ShippedValuesEqualBuiltInDefaults) {
    ConfigDir d;
    auto shipped = load_relay_config(source_dir() / "config");
    ASSERT_TRUE(shipped.ok()) << shipped.message();
    auto builtin = load_relay_config(d.dir());
    ASSERT_TRUE(builtin.ok()) << builtin.message();
    EXPECT_EQ(relay_to_json(*shipped)["multicast"], relay_to_json(*builtin)["multicast"]);
    auto a = channel_to_json(shipped->defaults), b = channel_to_json(builtin->defaults);
    EXPECT_EQ(a, b);
}

TEST(Merge, ChannelOverDefaultsOverBuiltIn) {
    ConfigDir d;
    d.write("relay.yaml", R"(
defaults:
  codec: deflate
  codec_level: 6
  block_size: 1MiB
  rotation: {interval: 30m}
channels:
  a:
    port: 26000
    schema: agents/example.avsc
    codec: zstandard
    codec_level: 19
    rotation: {max_size: 1GiB}
  b:
    port: 26001
    schema: agents/temperature.avsc
)");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    const auto& a = r->channels.at("a");
    const auto& b = r->channels.at("b");
    EXPECT_EQ(a.codec, avro::Codec::zstandard);  // channel
    EXPECT_EQ(a.codec_level, 19);
    EXPECT_EQ(b.codec, avro::Codec::deflate);    // defaults
    EXPECT_EQ(b.codec_level, 6);
    EXPECT_EQ(a.block_bytes, 1u << 20);          // defaults
    EXPECT_EQ(a.rotate_interval, 1800s);         // defaults, beside the channel's rotation.max_size
    EXPECT_EQ(a.rotate_bytes, 1u << 30);         // channel
    EXPECT_EQ(b.rotate_bytes, 256u << 20);       // built-in
    EXPECT_EQ(b.batch, 64);                      // built-in
    EXPECT_EQ(r->defaults.codec, avro::Codec::deflate);
    EXPECT_EQ(r->defaults.port, 0);
}

TEST(Merge, MulticastChannelOverServiceOverGlobal) {
    ConfigDir d;
    d.write("global.yaml", "multicast:\n  ttl: 3\n  full: {group: 239.9.9.9, port: 7000}\n  interface: 10.0.0.5\n");
    d.write("relay.yaml", R"(
multicast:
  ttl: 2
channels:
  a:
    port: 26000
    schema: agents/example.avsc
    multicast:
      full: {port: 7100}
      decimated: {group: 239.5.5.5}
      enabled: false
  b:
    port: 26001
    schema: agents/temperature.avsc
)");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    const auto& a = r->channels.at("a").multicast;
    const auto& b = r->channels.at("b").multicast;
    EXPECT_EQ(r->multicast.ttl, 2);              // relay.yaml over global.yaml
    EXPECT_EQ(a.ttl, 2);
    EXPECT_EQ(a.full.group, "239.9.9.9");        // global.yaml, beside the channel's port
    EXPECT_EQ(a.full.port, 7100);                // channel
    EXPECT_EQ(a.decimated.group, "239.5.5.5");   // channel
    EXPECT_EQ(a.decimated.port, 6001);           // built-in
    EXPECT_FALSE(a.enabled);
    EXPECT_EQ(a.interface, "10.0.0.5");          // global.yaml
    EXPECT_EQ(b.full.port, 7000);                // global.yaml
    EXPECT_TRUE(b.enabled);
}

TEST(Merge, StoragePaths) {
    ConfigDir d;
    d.write("global.yaml", "storage:\n  avro_path: /srv/cache/\n  state_path: var/state\n");
    d.write("relay.yaml", "storage:\n  tags_path: ../tags\nchannels: {}\n");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->storage.avro_path, "/srv/cache");                  // absolute kept
    EXPECT_EQ(r->storage.state_path, d.root() / "var/state");       // relative to config's parent
    EXPECT_EQ(r->storage.tags_path, d.root().parent_path() / "tags");  // from relay.yaml
    EXPECT_EQ(r->storage.root, d.root() / "data");                  // built-in
    EXPECT_TRUE(r->channels.empty());
}

TEST(Merge, ConfigDirWithTrailingSlashOrDot) {
    ConfigDir d;
    auto r = load_relay_config(d.dir().string() + "/");
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_EQ(r->storage.avro_path, d.root() / "data/avro");
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(d.dir());
    auto dot = load_relay_config(".");
    std::filesystem::current_path(cwd);
    ASSERT_TRUE(dot.ok()) << dot.message();
    EXPECT_EQ(dot->storage.avro_path, d.root() / "data/avro");
}

TEST(Merge, EmptyFilesGiveBuiltIns) {
    ConfigDir d;
    d.write("relay.yaml", "# nothing yet\n");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    EXPECT_TRUE(r->channels.empty());
    EXPECT_EQ(r->multicast.full.group, "239.1.1.1");
    auto s = load_stripchart_config(d.dir());
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->port, 8081);
    EXPECT_DOUBLE_EQ(s->frame_rate, 30);
}

TEST(Merge, YamlSpellings) {
    ConfigDir d;
    d.relay_with("    codec: null\n    fsync: yes\n    flush_interval: 0.25\n    receive_buffer: 1.5MB\n"
                 "    time_unit: ms\n    decimation: {algorithm: min-max}\n    rotation:\n");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    const auto& c = r->channels.at("example");
    EXPECT_EQ(c.codec, avro::Codec::null_codec);  // bare YAML null is the codec named null
    EXPECT_TRUE(c.fsync);
    EXPECT_EQ(c.flush_interval, 250ms);
    EXPECT_EQ(c.receive_buffer_bytes, 1'500'000u);
    EXPECT_EQ(c.time_unit, "ms");
    EXPECT_EQ(c.decimation_algorithm, DecimationAlgorithm::minmax);
    EXPECT_EQ(c.rotate_interval, 3600s);  // "rotation:" with nothing under it changes nothing
}

TEST(Merge, StripchartAndPivotOverrides) {
    ConfigDir d;
    d.write("stripchart.yaml", "http: {bind: 0.0.0.0, port: 9000}\nframe_rate: 12.5\nclient_queue_limit: 8\n"
                               "multicast: {decimated: {port: 7001}}\n");
    d.write("pivot.yaml", "limits: {max_channels: 5, max_duration: 1h}\nhdf5: {compression: none, chunk_rows: 1000}\n");
    auto s = load_stripchart_config(d.dir());
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->bind, "0.0.0.0");
    EXPECT_EQ(s->port, 9000);
    EXPECT_DOUBLE_EQ(s->frame_rate, 12.5);
    EXPECT_EQ(s->client_queue_limit, 8u);
    EXPECT_EQ(s->multicast.decimated.port, 7001);
    auto p = load_pivot_config(d.dir());
    ASSERT_TRUE(p.ok()) << p.message();
    EXPECT_EQ(p->max_channels, 5);
    EXPECT_EQ(p->max_duration, 3600s);
    EXPECT_EQ(p->compression, "none");
    EXPECT_EQ(p->chunk_rows, 1000u);
    EXPECT_EQ(p->compression_level, 1);
}

TEST(ParseChannel, BuildsFromDefaultsOfBase) {
    ConfigDir d;
    d.write("relay.yaml", "defaults: {codec: snappy, decimation: {factor: 4}}\nmulticast: {ttl: 2}\n"
                          "channels:\n  example: {port: 26000, schema: agents/example.avsc}\n");
    auto base = load_relay_config(d.dir());
    ASSERT_TRUE(base.ok()) << base.message();
    auto c = parse_channel(*base, "vib", "port: 26005\nschema: agents/temperature.avsc\nblock_size: 1MiB\n"
                                         "multicast: {full: {group: 239.7.7.7}}\n", "POST /api/v1/channels");
    ASSERT_TRUE(c.ok()) << c.message();
    EXPECT_EQ(c->name, "vib");
    EXPECT_EQ(c->port, 26005);
    EXPECT_EQ(c->codec, avro::Codec::snappy);     // base defaults
    EXPECT_EQ(c->decimation_factor, 4);
    EXPECT_EQ(c->block_bytes, 1u << 20);          // own
    EXPECT_EQ(c->multicast.ttl, 2);               // base multicast
    EXPECT_EQ(c->multicast.full.group, "239.7.7.7");
    EXPECT_EQ(c->avro_dir, d.root() / "data/avro/vib");
    EXPECT_TRUE(std::filesystem::exists(c->schema_path));
}

TEST(ParseChannel, AcceptsJson) {
    ConfigDir d;
    auto base = load_relay_config(d.dir());
    ASSERT_TRUE(base.ok()) << base.message();
    auto c = parse_channel(*base, "j", R"({"port": 26010, "schema": "agents/example.avsc", "fsync": true,
                                          "rotation": {"interval": "2h"}, "codec": null})", "registry");
    ASSERT_TRUE(c.ok()) << c.message();
    EXPECT_TRUE(c->fsync);
    EXPECT_EQ(c->rotate_interval, 7200s);
    EXPECT_EQ(c->codec, avro::Codec::null_codec);
    auto quoted = parse_channel(*base, "j", R"({"port": "26010", "schema": "agents/example.avsc"})", "registry");
    EXPECT_EQ(quoted.message(), "registry: port: expected an integer 1..65535, got \"26010\" (a quoted string)");
}

TEST(ParseChannel, Errors) {
    ConfigDir d;
    auto base = load_relay_config(d.dir());
    ASSERT_TRUE(base.ok()) << base.message();
    EXPECT_EQ(parse_channel(*base, "x", "port: abc\nschema: agents/example.avsc\n", "api").message(),
              "api: port: expected an integer 1..65535, got \"abc\"");
    EXPECT_EQ(parse_channel(*base, "x", "port: 1\nschema: agents/example.avsc\ndecimaton: {}\n", "api").message(),
              "api: decimaton: unknown key (did you mean 'decimation'?)");
    EXPECT_EQ(parse_channel(*base, "x", "schema: agents/example.avsc\n", "api").message(),
              "api: port: required key missing (expected an integer 1..65535)");
    EXPECT_EQ(parse_channel(*base, "x", "port: 1\nschema: ../global.yaml\n", "api").message(),
              "api: schema: expected a path relative to the config directory, inside it, got \"../global.yaml\" "
              "(it leads outside the config directory)");
    EXPECT_EQ(parse_channel(*base, "x", "port: 26000\nschema: agents/example.avsc\n", "api").message(),
              "api: port: port 26000 is already used by channel 'example'");
    EXPECT_EQ(parse_channel(*base, "bad/name", "port: 1\n", "api").message(),
              "api: invalid channel name \"bad/name\" (expected 1..64 letters, digits, '_' or '-', starting "
              "with a letter or '_')");
    EXPECT_EQ(parse_channel(*base, "x", "[1, 2]", "api").message(),
              "api: expected a mapping of keys at the top level, got a list");
    const std::string yaml_error = parse_channel(*base, "x", "{port: 1", "api").message();
    EXPECT_TRUE(yaml_error.starts_with("api: line 1, column ")) << yaml_error;
    EXPECT_NE(yaml_error.find(": invalid YAML: "), std::string::npos) << yaml_error;
    // Replacing a channel keeps its own port.
    EXPECT_TRUE(parse_channel(*base, "example", "port: 26000\nschema: agents/example.avsc\n", "api").ok());
}

// channel_to_json is what `config show --channel` prints; parse_channel reads it back.
TEST(Show, ChannelJsonRoundTrips) {
    ConfigDir d;
    d.relay_with("    codec: zstandard\n    codec_level: 7\n    time_unit: us\n    flush_interval: 250ms\n"
                 "    multicast: {ttl: 0, decimated: {group: 239.3.3.3}}\n    decimation: {algorithm: rms}\n");
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    const auto& c = r->channels.at("example");
    const auto j = channel_to_json(c);
    EXPECT_EQ(j["port"], 26000);
    EXPECT_EQ(j["schema"], "agents/example.avsc");
    EXPECT_EQ(j["codec"], "zstandard");
    EXPECT_EQ(j["receive_buffer"], "8MiB");
    EXPECT_EQ(j["flush_interval"], "250ms");
    EXPECT_EQ(j["rotation"]["interval"], "1h");
    EXPECT_EQ(j["multicast"]["decimated"]["group"], "239.3.3.3");
    auto back = parse_channel(*r, "example", j.dump(), "show");
    ASSERT_TRUE(back.ok()) << back.message();
    EXPECT_EQ(channel_to_json(*back), j);
    EXPECT_EQ(back->time_unit, "us");
    EXPECT_EQ(back->schema_path, c.schema_path);
}

TEST(Show, RelayJsonHasEveryChannel) {
    auto r = load_relay_config(source_dir() / "config");
    ASSERT_TRUE(r.ok()) << r.message();
    const auto j = relay_to_json(*r);
    EXPECT_EQ(j["channels"].size(), 2u);
    EXPECT_EQ(j["channels"]["example"]["decimation"]["algorithm"], "minmax");
    EXPECT_EQ(j["multicast"]["decimated"]["group"], "239.1.1.2");
}

}  // namespace
}  // namespace speeddata::config
