// speeddata config: check, document and show the configuration (src/core/config).
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include <yaml-cpp/yaml.h>

#include "cli/commands.hpp"
#include "core/config/cluster.hpp"
#include "core/config/config.hpp"
#include "core/config/orchestrator_config.hpp"
#include "core/fs.hpp"

namespace speeddata::cli {

namespace {

struct ConfigOptions {
    std::string config_dir;
    std::string channel;
    bool json = false;
    bool dry_run = false;
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

// Loads every file as the services do; returns the channel count and the notices (each once).
std::pair<size_t, std::vector<std::string>> check_all(const std::filesystem::path& dir) {
    auto relay = config::load_relay_config(dir);
    if (!relay) fail("config", relay.message(), 2);
    auto strip = config::load_stripchart_config(dir);
    if (!strip) fail("config", strip.message(), 2);
    auto pivot = config::load_pivot_config(dir);
    if (!pivot) fail("config", pivot.message(), 2);
    auto orch = config::load_orchestrator_config(dir);
    if (!orch) fail("config", orch.message(), 2);
    return {relay->channels.size(), unique_notices({&relay->notices, &strip->notices, &pivot->notices, &orch->notices})};
}

void print_notices(const std::vector<std::string>& notices) {
    for (const auto& n : notices) std::cerr << "notice: " << n << "\n";
    if (!notices.empty()) {
        std::cerr << "notice: " << notices.size() << " key" << (notices.size() == 1 ? "" : "s")
                  << " in the earlier (v0.6) form, accepted; `speeddata config migrate` rewrites the files in the "
                     "new form (docs/upgrading.md)\n";
    }
}

// Every server refuses to start without its token file (or the fleet's NATS secrets), and deploy.sh does not copy it (it is
// a secret, kept out of the YAML): a host that lacks it must fail `config check`, before a
// restart takes its services down. (Not part of check_all: migrating files needs no token.)
void check_token_files(const std::filesystem::path& dir) {
    auto orch = config::load_orchestrator_config(dir);
    if (!orch) fail("config", orch.message(), 2);
    auto token = config::load_token(orch->auth, dir, (dir / "global.yaml").string() + ": auth.token_file");
    if (!token) fail("config", token.message(), 2);
    if (!orch->token_file.empty() && orch->token_file != "none") {
        config::AuthConfig own = orch->auth;
        own.token_file = orch->token_file;
        auto t = config::load_token(own, dir, (dir / "orchestrator.yaml").string() + ": http.token_file");
        if (!t) fail("config", t.message(), 2);
    }
    // The fleet's NATS password, token and TLS files are secrets too (cluster.*).
    auto cluster = config::load_cluster_config(dir);
    if (!cluster) fail("config", cluster.message(), 2);
}

void run_check(const ConfigOptions& o) {
    const auto [channels, notices] = check_all(dir_of(o));
    check_token_files(dir_of(o));
    print_notices(notices);
    std::cout << "config OK: " << channels << " channels\n";
}

// A backup name next to path that is not taken yet: relay.yaml.before-migrate[.N].
std::filesystem::path backup_name(const std::filesystem::path& path) {
    std::filesystem::path b = path.string() + ".before-migrate";
    std::error_code ec;
    for (int n = 1; std::filesystem::exists(b, ec); ++n) b = path.string() + ".before-migrate." + std::to_string(n);
    return b;
}

void write_file(const std::filesystem::path& path, const std::string& text) {
    // Written beside, then renamed over: a crash leaves the old file or the new one, whole;
    // the file keeps its permissions (a config with a token in it may be 0600).
    if (auto st = write_file_atomically(path, text, {.keep_permissions = true}); !st.ok()) fail("config", st.message(), 1);
}

void run_migrate(const ConfigOptions& o) {
    const auto dir = dir_of(o);
    check_all(dir);  // a file a service would refuse is not migrated: fix it first
    auto files = config::migrate_config(dir);
    if (!files) fail("config", files.message(), 2);
    if (files->empty()) {
        std::cout << "config: every file of " << dir.string() << " is in the new form already; nothing to do\n";
        return;
    }
    for (const auto& f : *files) {
        if (o.dry_run) {
            std::cout << "--- " << f.path.string() << " (new form, not written)\n" << f.new_text;
        } else {
            const auto backup = backup_name(f.path);
            write_file(backup, f.original_text);
            write_file(f.path, f.new_text);
            std::cout << "migrated " << f.path.string() << " (the original is " << backup.string() << ")\n";
        }
        for (const auto& n : f.notices) std::cout << "  " << n << "\n";
        if (f.dropped_comments.empty()) {
            std::cout << "  every comment kept\n";
        } else {
            std::cout << "  comments not kept (they described the earlier keys):\n";
            for (const auto& c : f.dropped_comments) std::cout << "    " << c << "\n";
        }
    }
    if (o.dry_run) return;
    const auto [channels, notices] = check_all(dir);
    print_notices(notices);
    std::cout << "config OK: " << channels << " channels" << (notices.empty() ? ", no notice" : "") << "\n";
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

// `config check|migrate|docs|show`; failures exit with status 2 (a configuration error), like a
// service refusing to start with the same files.
void add_config_command(CLI::App& app) {
    auto opts = std::make_shared<ConfigOptions>();
    auto* cmd = app.add_subcommand("config", "Check, document and show the configuration");
    cmd->require_subcommand(1);

    auto* check = cmd->add_subcommand("check", "Validate every config file; print \"config OK: N channels\"");
    check->add_option("--config-dir", opts->config_dir, "Config directory (default: $SPEEDDATA_CONFIG, else ./config)");
    check->callback([opts] { run_check(*opts); });

    auto* migrate = cmd->add_subcommand(
        "migrate", "Rewrite config files that use the earlier (v0.6) spellings in the new form; the originals are kept "
                   "as FILE.before-migrate");
    migrate->add_option("--config-dir", opts->config_dir, "Config directory (default: $SPEEDDATA_CONFIG, else ./config)");
    migrate->add_flag("--dry-run", opts->dry_run, "Print the new text of each file instead of writing it");
    migrate->callback([opts] { run_migrate(*opts); });

    auto* docs = cmd->add_subcommand("docs", "Print the option reference (docs/config.md) as Markdown");
    docs->callback([] { std::cout << config::docs_markdown(); });

    auto* show = cmd->add_subcommand("show", "Print the effective configuration after merging the files");
    show->add_option("--config-dir", opts->config_dir, "Config directory (default: $SPEEDDATA_CONFIG, else ./config)");
    show->add_option("--channel", opts->channel, "Only this relay channel");
    show->add_flag("--json", opts->json, "JSON instead of YAML");
    show->callback([opts] { run_show(*opts); });
}

}  // namespace speeddata::cli
