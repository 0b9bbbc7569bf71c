// Fuzz target: configuration text. The input is a channel entry (YAML, the keys of
// `channels.NAME` in relay.yaml, as the orchestrator and `relay --channel-config` pass it to
// config::parse_channel), parsed against the repository's config/ as the base; the same
// bytes are also parsed as a duration and as a size.
// Properties:
//   * an accepted channel prints (channel_to_json, what `config show` prints) to text that
//     parse_channel accepts again and that gives the same channel back;
//   * a rejected entry has a message naming the source;
//   * an accepted duration or size formats (format_duration / format_size) to text that
//     parses back to the same value; a duration is never negative.
// The schema key names a file to read: inputs whose schema path could leave config/
// (absolute, "..", NUL) are skipped, so that the fuzzer never reads /dev/zero or the like.
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>

#include "core/config/config.hpp"
#include "fuzz_check.hpp"

using namespace speeddata;
namespace fs = std::filesystem;

namespace {

const config::RelayConfig& base() {
    static const config::RelayConfig cfg = [] {
        auto c = config::load_relay_config(fuzz::source_path("config"));
        FUZZ_CHECK(c.ok(), c.message());
        // As the orchestrator registers channels: relay.yaml's own channels aside, so that the
        // real entries (ports 26000, 26001) are accepted; one other channel on port 26099 keeps
        // the port-clash check reachable.
        config::ChannelConfig other = c->channels.begin()->second;
        other.name = "other";
        other.port = 26099;
        c->channels.clear();
        c->channels.emplace(other.name, other);
        return std::move(*c);
    }();
    return cfg;
}

// True when the entry's schema (if any) is a relative path that stays inside config/.
bool schema_stays_inside(const std::string& text) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
        if (!root.IsMap() || !root["schema"] || !root["schema"].IsScalar()) return true;
        const std::string s = root["schema"].as<std::string>();
        if (s.find('\0') != std::string::npos) return false;
        const fs::path p(s);
        if (p.is_absolute()) return false;
        for (const auto& part : p) {
            if (part == "..") return false;
        }
        return true;
    } catch (const YAML::Exception&) {
        return true;  // parse_channel rejects it before opening anything
    }
}

void check_channel(const std::string& text) {
    if (!schema_stays_inside(text)) return;
    const std::string name = "fuzzed";
    auto ch = config::parse_channel(base(), name, text, "entry");
    if (!ch) {
        FUZZ_CHECK(ch.message().rfind("entry", 0) == 0, ch.message());
        return;
    }
    const std::string shown = config::channel_to_json(*ch).dump();
    auto again = config::parse_channel(base(), name, shown, "shown");
    FUZZ_CHECK(again.ok(), shown + ": " + again.message());
    const std::string shown_again = config::channel_to_json(*again).dump();
    FUZZ_CHECK(shown_again == shown, shown + " -> " + shown_again);
    FUZZ_CHECK(again->schema_path == ch->schema_path);
}

void check_units(std::string_view text) {
    if (auto d = config::parse_duration(text)) {
        FUZZ_CHECK(d->count() >= 0);
        const std::string f = config::format_duration(*d);
        auto back = config::parse_duration(f);
        FUZZ_CHECK(back.ok() && *back == *d, f + ": " + back.message());
    }
    if (auto b = config::parse_size(text)) {
        const std::string f = config::format_size(*b);
        auto back = config::parse_size(f);
        FUZZ_CHECK(back.ok() && *back == *b, f + ": " + back.message());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(fuzz::text_of(data, size));
    check_units(text);
    check_channel(text);
    return 0;
}
