// speeddata config: check, document and show the configuration (src/core/config).
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include <yaml-cpp/yaml.h>

#include "cli/commands.hpp"
#include "core/config/config.hpp"
#include "core/config/orchestrator_config.hpp"

namespace speeddata::cli {

namespace {

struct ConfigOptions {
    std::string config_dir;
    std::string channel;
    bool json = false;
};

// Emits JSON as block YAML, keeping key order (the option table's).
void emit_yaml(YAML::Emitter& out, const nlohmann::ordered_json& j) {
    if (j.is_object()) {
        out << YAML::BeginMap;
        for (const auto& [k, v] : j.items()) {
            out << YAML::Key << k << YAML::Value;
            emit_yaml(out, v);
        }
        out << YAML::EndMap;
    } else if (j.is_array()) {
        out << YAML::BeginSeq;
        for (const auto& v : j) emit_yaml(out, v);
        out << YAML::EndSeq;
    } else if (j.is_string()) {
        // yaml-cpp quotes null-like text itself; YAML 1.1 boolean words it leaves plain, so
        // quote those (a path or name spelled "yes" must stay text).
        static const std::set<std::string> words{"true", "True", "TRUE", "false", "False", "FALSE",
                                                 "yes", "Yes", "YES", "no", "No", "NO",
                                                 "on", "On", "ON", "off", "Off", "OFF"};
        const std::string s = j.get<std::string>();
        if (words.count(s)) out << YAML::DoubleQuoted;
        out << s;
    } else if (j.is_boolean()) {
        out << (j.get<bool>() ? "true" : "false");
    } else if (j.is_number_integer()) {
        out << j.get<int64_t>();
    } else if (j.is_number()) {
        out << j.dump();
    } else {
        out << YAML::Null;
    }
}

void print(const nlohmann::ordered_json& j, bool json) {
    if (json) {
        std::cout << j.dump(2) << "\n";
        return;
    }
    YAML::Emitter out;
    emit_yaml(out, j);
    std::cout << out.c_str() << "\n";
}

std::filesystem::path dir_of(const ConfigOptions& o) {
    return o.config_dir.empty() ? default_config_dir() : std::filesystem::path(o.config_dir);
}

void run_check(const ConfigOptions& o) {
    const auto dir = dir_of(o);
    auto relay = config::load_relay_config(dir);
    if (!relay) fail("config", relay.message(), 2);
    if (auto s = config::load_stripchart_config(dir); !s) fail("config", s.message(), 2);
    if (auto p = config::load_pivot_config(dir); !p) fail("config", p.message(), 2);
    if (auto oc = config::load_orchestrator_config(dir); !oc) fail("config", oc.message(), 2);
    std::cout << "config OK: " << relay->channels.size() << " channels\n";
}

void run_show(const ConfigOptions& o) {
    const auto dir = dir_of(o);
    auto relay = config::load_relay_config(dir);
    if (!relay) fail("config", relay.message(), 2);
    if (!o.channel.empty()) {
        const auto it = relay->channels.find(o.channel);
        if (it == relay->channels.end()) {
            std::string names;
            for (const auto& [n, c] : relay->channels) names += (names.empty() ? "" : ", ") + n;
            fail("config", "no channel '" + o.channel + "' in " + (dir / "relay.yaml").string() +
                               " (channels: " + names + ")", 2);
        }
        print(config::channel_to_json(it->second), o.json);
        return;
    }
    auto stripchart = config::load_stripchart_config(dir);
    if (!stripchart) fail("config", stripchart.message(), 2);
    auto pivot = config::load_pivot_config(dir);
    if (!pivot) fail("config", pivot.message(), 2);
    nlohmann::ordered_json all;
    all["config_dir"] = dir.string();
    all["relay"] = config::relay_to_json(*relay);
    all["stripchart"] = config::stripchart_to_json(*stripchart);
    all["pivot"] = config::pivot_to_json(*pivot);
    auto orchestrator = config::load_orchestrator_config(dir);
    if (!orchestrator) fail("config", orchestrator.message(), 2);
    all["orchestrator"] = config::orchestrator_to_json(*orchestrator);
    print(all, o.json);
}

}  // namespace

// `config check|docs|show`; failures exit with status 2 (a configuration error), like a
// service refusing to start with the same files.
void add_config_command(CLI::App& app) {
    auto opts = std::make_shared<ConfigOptions>();
    auto* cmd = app.add_subcommand("config", "Check, document and show the configuration");
    cmd->require_subcommand(1);

    auto* check = cmd->add_subcommand("check", "Validate every config file; print \"config OK: N channels\"");
    check->add_option("--config-dir", opts->config_dir, "Config directory (default: $SPEEDDATA_CONFIG, else ./config)");
    check->callback([opts] { run_check(*opts); });

    auto* docs = cmd->add_subcommand("docs", "Print the option reference (docs/config.md) as Markdown");
    docs->callback([] { std::cout << config::docs_markdown(); });

    auto* show = cmd->add_subcommand("show", "Print the effective configuration after merging the files");
    show->add_option("--config-dir", opts->config_dir, "Config directory (default: $SPEEDDATA_CONFIG, else ./config)");
    show->add_option("--channel", opts->channel, "Only this relay channel");
    show->add_flag("--json", opts->json, "JSON instead of YAML");
    show->callback([opts] { run_show(*opts); });
}

}  // namespace speeddata::cli
