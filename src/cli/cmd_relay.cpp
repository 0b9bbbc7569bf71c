// speeddata relay --channel NAME: one channel's relay process.
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/config/config.hpp"
#include "relay/relay.hpp"

namespace speeddata::cli {

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }
}  // namespace

void add_relay_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("relay", "Receive one channel's UDP datagrams, cache them as Avro, re-serve over multicast");
    struct Opts {
        std::string channel;
        std::string config_dir;
        double stats_interval = -1;
        std::string channel_config;
    };
    auto opts = std::make_shared<Opts>();
    cmd->add_option("-c,--channel", opts->channel, "Channel name (a key of channels: in relay.yaml)")->required();
    cmd->add_option("--config-dir", opts->config_dir, "Configuration directory (default $SPEEDDATA_CONFIG or ./config)");
    cmd->add_option("--channel-config", opts->channel_config,
                    "YAML/JSON file with the channel's settings (keys of a channels.NAME entry), used instead of "
                    "relay.yaml's entry; written by the orchestrator for channels registered at run time");
    cmd->add_option("--stats-interval", opts->stats_interval, "Seconds between figure log lines (overrides stats_interval; 0 = off)");
    cmd->callback([opts] {
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
        std::filesystem::path dir = opts->config_dir.empty() ? default_config_dir() : std::filesystem::path(opts->config_dir);
        auto cfg = config::load_relay_config(dir);
        if (!cfg) fail("relay", cfg.message(), 2);
        if (!opts->channel_config.empty()) {
            // A run-time registered channel: its settings come from the file, merged over
            // relay.yaml's defaults exactly like a channels: entry.
            if (auto st = config::check_channel_name(opts->channel); !st.ok()) fail("relay", st.message(), 2);
            std::ifstream in(opts->channel_config);
            if (!in) fail("relay", "open " + opts->channel_config + ": " + std::strerror(errno), 2);
            std::stringstream text;
            text << in.rdbuf();
            cfg->channels.erase(opts->channel);
            // The file's schema path is relative to the file's own directory.
            cfg->config_dir = std::filesystem::absolute(opts->channel_config).parent_path();
            auto ch = config::parse_channel(*cfg, opts->channel, text.str(), opts->channel_config);
            if (!ch) fail("relay", ch.message(), 2);
            cfg->channels[opts->channel] = *ch;
        }
        auto it = cfg->channels.find(opts->channel);
        if (it == cfg->channels.end()) {
            std::string known;
            for (const auto& [name, _] : cfg->channels) known += (known.empty() ? "" : ", ") + name;
            fail("relay", (dir / "relay.yaml").string() + ": no channel '" + opts->channel + "' (known: " + known + ")", 2);
        }
        if (opts->stats_interval >= 0)
            it->second.stats_interval = std::chrono::seconds(static_cast<int64_t>(opts->stats_interval + 0.5));
        auto relay = relay::Relay::create(it->second);
        if (!relay) fail("relay", "channel " + opts->channel + ": " + relay.message(), 1);
        struct sigaction sa{};
        sa.sa_handler = on_signal;  // no SA_RESTART: recvmmsg returns EINTR at once
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGTERM, &sa, nullptr);
        std::signal(SIGPIPE, SIG_IGN);
        int rc = (*relay)->run(g_stop);
        if (rc != 0) throw CLI::RuntimeError(rc);
    });
}

}  // namespace speeddata::cli
