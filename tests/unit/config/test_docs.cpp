// The option table itself, and docs/config.md generated from it.
#include <fstream>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "core/config/config.hpp"
#include "core/config/options.hpp"

namespace speeddata::config {
namespace {

using detail::Option;
using detail::Section;

TEST(OptionTable, DefaultsParseAndKeysAreUnique) {
    std::set<std::pair<Section, std::string_view>> keys;
    for (const Option& o : detail::option_table()) {
        EXPECT_TRUE(keys.insert({o.section, o.key}).second) << o.key;
        EXPECT_FALSE(o.doc.empty()) << o.key;
        if (o.default_text.empty()) {
            // cluster.host: empty means the machine's hostname; cluster.user: no user (docs/fleet.md).
            if (o.section == Section::cluster && (o.key == "host" || o.key == "user")) continue;
            EXPECT_EQ(o.section, Section::channel_only) << o.key << ": only port and schema are required";
            continue;
        }
        const bool plain = o.type == detail::Type::boolean || o.type == detail::Type::integer ||
                           o.type == detail::Type::number;
        auto v = detail::parse_value(o, {std::string(o.default_text), !plain, false});
        EXPECT_TRUE(v.ok()) << o.key << ": " << v.message();
    }
}

// The struct initializers in config.hpp document defaults too; they must be the table's,
// or code that default-constructs a struct would disagree with a loaded config.
TEST(OptionTable, StructInitializersMatchTableDefaults) {
    const MulticastConfig m;
    const StorageConfig st;
    const ChannelConfig c;
    const StripchartConfig sc;
    const PivotConfig p;
    const OrchestratorConfig oc;
    const AuthConfig au;
    const ClusterConfig cl;
    for (const Option& o : detail::option_table()) {
        if (o.default_text.empty()) continue;
        const std::string want = detail::format_value(o, detail::default_value(o));
        std::string got;
        std::visit(
            [&](const auto& a) {
                using A = std::decay_t<decltype(a)>;
                if constexpr (std::is_same_v<A, detail::Access<MulticastConfig>>) got = detail::format_value(o, a.get(m));
                if constexpr (std::is_same_v<A, detail::Access<StorageConfig>>) got = detail::format_value(o, a.get(st));
                if constexpr (std::is_same_v<A, detail::Access<AuthConfig>>) got = detail::format_value(o, a.get(au));
                if constexpr (std::is_same_v<A, detail::Access<ClusterConfig>>) got = detail::format_value(o, a.get(cl));
                if constexpr (std::is_same_v<A, detail::Access<ChannelConfig>>) got = detail::format_value(o, a.get(c));
                if constexpr (std::is_same_v<A, detail::Access<StripchartConfig>>) got = detail::format_value(o, a.get(sc));
                if constexpr (std::is_same_v<A, detail::Access<PivotConfig>>) got = detail::format_value(o, a.get(p));
                if constexpr (std::is_same_v<A, detail::Access<OrchestratorConfig>>) got = detail::format_value(o, a.get(oc));
            },
            o.access);
        if (o.section == Section::storage) {
            // The struct says "data/avro", the table "./data/avro": the same path.
            EXPECT_EQ(std::filesystem::path(got).lexically_normal(), std::filesystem::path(want).lexically_normal()) << o.key;
        } else {
            EXPECT_EQ(got, want) << o.key;
        }
    }
}

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// docs/config.md is generated (`speeddata config docs > docs/config.md`); it must not drift.
TEST(Docs, CommittedFileIsUpToDate) {
    const auto path = test::source_dir() / "docs/config.md";
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_TRUE(read(path) == docs_markdown())
        << "docs/config.md differs from the option table: run `speeddata config docs > docs/config.md`";
}

TEST(Docs, MentionEveryOption) {
    const std::string md = docs_markdown();
    for (const Option& o : detail::option_table()) {
        EXPECT_NE(md.find(std::string(o.key) + "` |"), std::string::npos) << o.key;
    }
    EXPECT_NE(md.find("| `channels.NAME.decimation.algorithm` | choice | `downsample` |"), std::string::npos);
    EXPECT_NE(md.find("| `multicast.interface` | IPv4 address | `127.0.0.1` |"), std::string::npos);
    EXPECT_NE(md.find("| `channels.NAME.port` | integer | required |"), std::string::npos);
}

// The example in the docs is a real relay.yaml.
TEST(Docs, ExampleLoads) {
    test::ConfigDir d;
    d.write("relay.yaml", std::string(detail::docs_example_relay_yaml()));
    auto r = load_relay_config(d.dir());
    ASSERT_TRUE(r.ok()) << r.message();
    const auto& t = r->channels.at("temperature");
    EXPECT_EQ(t.codec, avro::Codec::null_codec);
    EXPECT_EQ(t.rotate_interval, std::chrono::seconds(1800));
    EXPECT_EQ(t.multicast.full.group, "239.1.2.1");
    EXPECT_EQ(r->channels.at("example").codec, avro::Codec::zstandard);
}

}  // namespace
}  // namespace speeddata::config
