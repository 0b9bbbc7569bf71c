// Every kind of configuration error, with the exact message: file, key, what was expected.
#include <unistd.h>

#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "core/config/config.hpp"

namespace speeddata::config {
namespace {

using test::ConfigDir;

// The message of loading relay.yaml whose "example" entry has extra lines.
std::string channel_error(const std::string& lines, const std::string& defaults = "") {
    ConfigDir d;
    d.relay_with(lines, defaults);
    auto r = load_relay_config(d.dir());
    if (r.ok()) return "(loaded)";
    const std::string prefix = d.prefix("relay.yaml");
    const std::string& m = r.message();
    return m.starts_with(prefix) ? "relay.yaml: " + m.substr(prefix.size()) : m;
}

std::string relay_error(const std::string& relay_yaml) {
    ConfigDir d;
    d.write("relay.yaml", relay_yaml);
    auto r = load_relay_config(d.dir());
    if (r.ok()) return "(loaded)";
    const std::string prefix = d.prefix("relay.yaml");
    const std::string& m = r.message();
    return m.starts_with(prefix) ? "relay.yaml: " + m.substr(prefix.size()) : m;
}

const char* ch = "channels:\n  example:\n";

// The exact shape promised in DESIGN and the brief, with a relative config dir "config".
TEST(Errors, ExactShapeWithRelativeConfigDir) {
    ConfigDir d;
    d.write("relay.yaml", "channels:\n  example:\n    port: abc\n    schema: agents/example.avsc\n");
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(d.root());
    auto bad_port = load_relay_config("config");
    d.write("relay.yaml", "channels:\n  example:\n    port: 26000\n    schema: agents/example.avsc\n"
                          "    decimaton: {factor: 2}\n");
    auto typo = load_relay_config("config");
    d.write("relay.yaml", "channels:\n  example:\n    port: 26000\n    schema: agents/x.avsc\n");
    auto no_schema = load_relay_config("config");
    std::filesystem::remove(d.dir() / "global.yaml");
    auto no_global = load_relay_config("config");
    std::filesystem::current_path(cwd);

    EXPECT_EQ(bad_port.message(), "config/relay.yaml: channels.example.port: expected an integer 1..65535, got \"abc\"");
    EXPECT_EQ(typo.message(), "config/relay.yaml: channels.example.decimaton: unknown key (did you mean 'decimation'?)");
    EXPECT_EQ(no_schema.message(),
              "config/relay.yaml: channels.example.schema: cannot read config/agents/x.avsc: No such file or directory");
    EXPECT_EQ(no_global.message(), "cannot read config/global.yaml: No such file or directory");
}

TEST(Errors, MissingFiles) {
    ConfigDir d;
    std::filesystem::remove(d.dir() / "relay.yaml");
    EXPECT_EQ(load_relay_config(d.dir()).message(),
              "cannot read " + (d.dir() / "relay.yaml").string() + ": No such file or directory");
    std::filesystem::remove(d.dir() / "pivot.yaml");
    EXPECT_EQ(load_pivot_config(d.dir()).message(),
              "cannot read " + (d.dir() / "pivot.yaml").string() + ": No such file or directory");
    EXPECT_EQ(load_relay_config(d.root() / "nowhere").message(),
              "cannot read " + (d.root() / "nowhere/global.yaml").string() + ": No such file or directory");
    std::filesystem::remove(d.dir() / "stripchart.yaml");
    std::filesystem::create_directory(d.dir() / "stripchart.yaml");
    EXPECT_EQ(load_stripchart_config(d.dir()).message(),
              "cannot read " + (d.dir() / "stripchart.yaml").string() + ": Is a directory");
}

TEST(Errors, UnknownKeys) {
    EXPECT_EQ(channel_error("    decimaton: {factor: 2}\n"),
              "relay.yaml: channels.example.decimaton: unknown key (did you mean 'decimation'?)");
    EXPECT_EQ(channel_error("    prot: 1\n"), "relay.yaml: channels.example.prot: unknown key (did you mean 'port'?)");
    EXPECT_EQ(channel_error("    colour: red\n"), "relay.yaml: channels.example.colour: unknown key");
    EXPECT_EQ(channel_error("    rotation: {intervall: 1h}\n"),
              "relay.yaml: channels.example.rotation.intervall: unknown key (did you mean 'interval'?)");
    // A key that exists elsewhere: say where.
    EXPECT_EQ(channel_error("    factor: 2\n"),
              "relay.yaml: channels.example.factor: unknown key (did you mean 'channels.example.decimation.factor'?)");
    EXPECT_EQ(relay_error("codec: zstd\n"), "relay.yaml: codec: unknown key (did you mean 'defaults.codec'?)");
    EXPECT_EQ(relay_error("defaults:\n  port: 26000\n"),
              "relay.yaml: defaults.port: unknown key (did you mean 'channels.NAME.port'?)");
    EXPECT_EQ(relay_error("channel:\n  x: {}\n"), "relay.yaml: channel: unknown key (did you mean 'channels'?)");
    ConfigDir d;
    d.write("global.yaml", "multicast:\n  ttl: 1\nchannels: {}\n");
    EXPECT_EQ(load_relay_config(d.dir()).message(), d.prefix("global.yaml") + "channels: unknown key");
    d.write("global.yaml", "");
    d.write("pivot.yaml", "limits:\n  max_chanels: 3\n");
    EXPECT_EQ(load_pivot_config(d.dir()).message(),
              d.prefix("pivot.yaml") + "limits.max_chanels: unknown key (did you mean 'max_channels'?)");
}

TEST(Errors, WrongTypes) {
    EXPECT_EQ(relay_error(std::string(ch) + "    port: {a: 1}\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels.example.port: expected an integer 1..65535, got a mapping");
    EXPECT_EQ(relay_error(std::string(ch) + "    port: \"26000\"\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels.example.port: expected an integer 1..65535, got \"26000\" (a quoted string)");
    EXPECT_EQ(relay_error(std::string(ch) + "    port:\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels.example.port: expected an integer 1..65535, got nothing (an empty value)");
    EXPECT_EQ(channel_error("    rotation: 5\n"),
              "relay.yaml: channels.example.rotation: expected a mapping (keys: interval, max_size), got \"5\"");
    EXPECT_EQ(channel_error("    fsync: maybe\n"), "relay.yaml: channels.example.fsync: expected true or false, got \"maybe\"");
    EXPECT_EQ(channel_error("    fsync: \"true\"\n"),
              "relay.yaml: channels.example.fsync: expected true or false, got \"true\" (a quoted string)");
    EXPECT_EQ(channel_error("    bind: [127.0.0.1]\n"),
              "relay.yaml: channels.example.bind: expected an IPv4 address like 127.0.0.1, got a list");
    EXPECT_EQ(relay_error("channels: [example]\n"),
              "relay.yaml: channels[0]: expected a mapping with name, port and schema, got \"example\"");
    EXPECT_EQ(relay_error("- 1\n- 2\n"), "relay.yaml: expected a mapping of keys at the top level, got a list");
    EXPECT_EQ(channel_error("    time_field: 3d-time\n"),
              "relay.yaml: channels.example.time_field: expected a field name (letters, digits, '_'; not starting "
              "with a digit), got \"3d-time\"");
}

TEST(Errors, OutOfRange) {
    EXPECT_EQ(relay_error(std::string(ch) + "    port: 70000\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels.example.port: expected an integer 1..65535, got \"70000\"");
    EXPECT_EQ(relay_error(std::string(ch) + "    port: 0\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels.example.port: expected an integer 1..65535, got \"0\"");
    EXPECT_EQ(channel_error("    decimation: {factor: 0}\n"),
              "relay.yaml: channels.example.decimation.factor: expected an integer 1..1000000, got \"0\"");
    EXPECT_EQ(channel_error("", "  batch: 5000\n"), "relay.yaml: defaults.batch: expected an integer 1..1024, got \"5000\"");
    EXPECT_EQ(channel_error("    flush_interval: 2h\n"),
              "relay.yaml: channels.example.flush_interval: expected a duration 1ms..1h, got \"2h\"");
    EXPECT_EQ(channel_error("    flush_interval: 5x\n"),
              "relay.yaml: channels.example.flush_interval: expected a duration 1ms..1h, got \"5x\"");
    EXPECT_EQ(channel_error("    rotation: {interval: 1500ms}\n"),
              "relay.yaml: channels.example.rotation.interval: expected a duration in whole seconds, 0 or 1s..365d, "
              "got \"1500ms\"");
    EXPECT_EQ(channel_error("    receive_buffer: 8XB\n"),
              "relay.yaml: channels.example.receive_buffer: expected a size 4KiB..1GiB, got \"8XB\"");
    EXPECT_EQ(channel_error("    receive_buffer: 2GiB\n"),
              "relay.yaml: channels.example.receive_buffer: expected a size 4KiB..1GiB, got \"2GiB\"");
    EXPECT_EQ(channel_error("    rotation: {max_size: 1000}\n"),
              "relay.yaml: channels.example.rotation.max_size: expected a size 0 or 1KiB..1TiB, got \"1000\"");
    EXPECT_EQ(channel_error("    decimation: {algorithm: minmaxx}\n"),
              "relay.yaml: channels.example.decimation.algorithm: expected one of downsample, average, minmax, rms, "
              "got \"minmaxx\" (did you mean 'minmax'?)");
    EXPECT_EQ(channel_error("    codec: lz4\n"),
              "relay.yaml: channels.example.codec: expected one of null, deflate, snappy, zstandard, got \"lz4\"");
    EXPECT_EQ(channel_error("    bind: 256.1.1.1\n"),
              "relay.yaml: channels.example.bind: expected an IPv4 address like 127.0.0.1, got \"256.1.1.1\"");
    EXPECT_EQ(channel_error("    multicast: {full: {group: 10.0.0.1}}\n"),
              "relay.yaml: channels.example.multicast.full.group: expected an IPv4 multicast group (224.0.0.0 to "
              "239.255.255.255), got \"10.0.0.1\"");
    ConfigDir d;
    d.write("global.yaml", "multicast:\n  ttl: 300\n");
    EXPECT_EQ(load_relay_config(d.dir()).message(),
              d.prefix("global.yaml") + "multicast.ttl: expected an integer 0..255, got \"300\"");
    d.write("global.yaml", "");
    d.write("stripchart.yaml", "frame_rate: 0.5\n");
    EXPECT_EQ(load_stripchart_config(d.dir()).message(),
              d.prefix("stripchart.yaml") + "frame_rate: expected a number 1..240, got \"0.5\"");
}

TEST(Errors, AcrossOptions) {
    EXPECT_EQ(channel_error("    codec: deflate\n    codec_level: 12\n"),
              "relay.yaml: channels.example.codec_level: expected -1 or 0..9 for codec deflate (channel 'example'), got 12");
    // The level came from defaults: that is the key to fix.
    EXPECT_EQ(channel_error("    codec: deflate\n", "  codec: zstandard\n  codec_level: 19\n"),
              "relay.yaml: defaults.codec_level: expected -1 or 0..9 for codec deflate (channel 'example'), got 19");
    EXPECT_EQ(channel_error("    codec: snappy\n    codec_level: 19\n"), "(loaded)");  // ignored by snappy
    EXPECT_EQ(channel_error("    multicast: {decimated: {group: 239.1.1.1, port: 6000}}\n"),
              "relay.yaml: channels.example.multicast: the full and decimated streams are both 239.1.1.1:6000; they "
              "must differ");
    EXPECT_EQ(channel_error("    multicast: {enabled: false, decimated: {group: 239.1.1.1, port: 6000}}\n"), "(loaded)");
    EXPECT_EQ(relay_error("channels:\n  a: {port: 26000, schema: agents/example.avsc}\n"
                          "  b: {port: 26000, schema: agents/temperature.avsc}\n"),
              "relay.yaml: channels.b.port: port 26000 is already used by channel 'a'");
}

TEST(Errors, Channels) {
    EXPECT_EQ(relay_error("channels:\n  example:\n    schema: agents/example.avsc\n"),
              "relay.yaml: channels.example.port: required key missing (expected an integer 1..65535)");
    EXPECT_EQ(relay_error("channels:\n  example:\n"),
              "relay.yaml: channels.example.port: required key missing (expected an integer 1..65535)");
    EXPECT_EQ(relay_error("channels:\n  example: {port: 26000}\n"),
              "relay.yaml: channels.example.schema: required key missing (expected a path relative to the config "
              "directory, inside it)");
    EXPECT_EQ(relay_error("channels:\n  ex/ample: {port: 26000}\n"),
              "relay.yaml: channels.ex/ample: invalid channel name \"ex/ample\" (expected 1..64 letters, digits, '_' "
              "or '-', starting with a letter or '_')");
    EXPECT_EQ(relay_error("channels:\n  a: {port: 1, schema: agents/example.avsc}\n  a: {port: 2}\n"),
              "relay.yaml: channels.a: duplicate key");
    EXPECT_EQ(channel_error("    fsync: true\n    fsync: false\n"), "relay.yaml: channels.example.fsync: duplicate key");
}

TEST(Errors, SchemaPaths) {
    const auto with_schema = [](const std::string& schema) {
        return relay_error("channels:\n  example:\n    port: 26000\n    schema: " + schema + "\n");
    };
    EXPECT_EQ(with_schema("../outside.avsc"),
              "relay.yaml: channels.example.schema: expected a path relative to the config directory, inside it, got "
              "\"../outside.avsc\" (it leads outside the config directory)");
    EXPECT_EQ(with_schema("agents/../../outside.avsc"),
              "relay.yaml: channels.example.schema: expected a path relative to the config directory, inside it, got "
              "\"agents/../../outside.avsc\" (it leads outside the config directory)");
    EXPECT_EQ(with_schema("/etc/passwd"),
              "relay.yaml: channels.example.schema: expected a path relative to the config directory, inside it, got "
              "\"/etc/passwd\" (absolute paths are not allowed)");
    EXPECT_EQ(with_schema("."),
              "relay.yaml: channels.example.schema: expected a path relative to the config directory, inside it, got "
              "\".\" (it leads outside the config directory)");
    EXPECT_EQ(with_schema("agents/../agents/./example.avsc"), "(loaded)");  // stays inside
}

TEST(Errors, SchemaFiles) {
    ConfigDir d;
    const std::string p = d.prefix("relay.yaml");
    const auto shown = [&](const char* f) { return (d.dir() / f).string(); };
    d.write("relay.yaml", "channels:\n  example: {port: 26000, schema: agents/x.avsc}\n");
    EXPECT_EQ(load_relay_config(d.dir()).message(),
              p + "channels.example.schema: cannot read " + shown("agents/x.avsc") + ": No such file or directory");
    // Not an Avro schema: the Avro parser's message, after file and key.
    d.write("agents/x.avsc", "{\"type\": \"record\", ");
    std::string m = load_relay_config(d.dir()).message();
    EXPECT_TRUE(m.starts_with(p + "channels.example.schema: " + shown("agents/x.avsc") + ": ")) << m;
    EXPECT_GT(m.size(), (p + "channels.example.schema: " + shown("agents/x.avsc") + ": ").size() + 5) << m;
    d.write("agents/x.avsc", R"({"type": "record", "name": "x", "fields": [{"name": "time", "type": "flot"}]})");
    m = load_relay_config(d.dir()).message();
    EXPECT_TRUE(m.starts_with(p + "channels.example.schema: " + shown("agents/x.avsc") + ": ")) << m;
    EXPECT_NE(m.find("flot"), std::string::npos) << m;
    d.write("agents/x.avsc", "\"long\"");
    EXPECT_EQ(load_relay_config(d.dir()).message(),
              p + "channels.example.schema: " + shown("agents/x.avsc") + ": expected a record schema, got long");
    d.write("agents/x.avsc", R"({"type": "record", "name": "x", "fields": [{"name": "t", "type": "long"},
                                {"name": "v", "type": "double"}]})");
    EXPECT_EQ(load_relay_config(d.dir()).message(),
              p + "channels.example.schema: the schema " + shown("agents/x.avsc") +
                  " has no field 'time' (its fields: t, v)");
    d.write("relay.yaml", "defaults: {time_field: ts}\nchannels:\n  example: {port: 26000, schema: agents/x.avsc}\n");
    EXPECT_EQ(load_relay_config(d.dir()).message(),
              p + "defaults.time_field: the schema " + shown("agents/x.avsc") + " has no field 'ts' (its fields: t, v)");
    d.write("relay.yaml", "channels:\n  example: {port: 26000, schema: agents/x.avsc, time_field: t}\n");
    EXPECT_TRUE(load_relay_config(d.dir()).ok());
}

TEST(Errors, InvalidYaml) {
    ConfigDir d;
    d.write("relay.yaml", "channels:\n  example: {port: 26000\n");
    const std::string m = load_relay_config(d.dir()).message();
    EXPECT_TRUE(m.starts_with(d.prefix("relay.yaml") + "line ")) << m;
    EXPECT_NE(m.find("invalid YAML: "), std::string::npos) << m;
    d.write("relay.yaml", "channels:\n\texample: {}\n");
    EXPECT_TRUE(load_relay_config(d.dir()).message().starts_with(d.prefix("relay.yaml") + "line "));
}

}  // namespace
}  // namespace speeddata::config
