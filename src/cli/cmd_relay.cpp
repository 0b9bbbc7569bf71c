// speeddata relay NAME (or --channel NAME): one channel's relay process. The earlier relay's
// environment variables (RELAY_RX_PORT, ...) override the config, each logged once.
#include <cerrno>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <iostream>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/config/config.hpp"
#include "core/fs.hpp"
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
        std::string positional;
        std::string config_dir;
        double stats_interval = -1;
        std::string channel_config;
    };
    auto opts = std::make_shared<Opts>();
    cmd->add_option("name", opts->positional, "Channel name, as the earlier relay took it (same as --channel)");
    cmd->add_option("-c,--channel", opts->channel, "Channel name (a key of channels: in relay.yaml)");
    cmd->footer(
        "Environment (the earlier relay's, as overrides of the config; each is logged):\n"
        "  RELAY_RX_PORT             UDP port (channels.NAME.port)\n"
        "  RELAY_OUTPUT_DIR          cache directory: the files go to DIR/NAME/ (storage.avro_path)\n"
        "  RELAY_DECIMATION_FACTOR   decimation.factor\n"
        "  RELAY_DECIMATION_ENABLED  accepted; the decimated stream is always sent");
    cmd->add_option("--config-dir", opts->config_dir, "Configuration directory (default $SPEEDDATA_CONFIG or ./config)");
    cmd->add_option("--channel-config", opts->channel_config,
                    "YAML/JSON file with the channel's settings (keys of a channels.NAME entry), used instead of "
                    "relay.yaml's entry; written by the orchestrator for channels registered at run time");
    cmd->add_option("--stats-interval", opts->stats_interval, "Seconds between figure log lines (overrides stats_interval; 0 = off)");
    cmd->callback([opts] {
        init_logging("relay");
        if (!opts->positional.empty() && !opts->channel.empty() && opts->positional != opts->channel)
            fail("relay", "two channel names: '" + opts->positional + "' and --channel '" + opts->channel + "'", 2);
        if (opts->channel.empty()) opts->channel = opts->positional;
        if (opts->channel.empty()) fail("relay", "which channel? speeddata relay NAME (or --channel NAME)", 2);
        std::filesystem::path dir = opts->config_dir.empty() ? default_config_dir() : std::filesystem::path(opts->config_dir);
        auto cfg = config::load_relay_config(dir);
        if (!cfg) fail("relay", cfg.message(), 2);
        if (!opts->channel_config.empty()) {
            // A run-time registered channel: its settings come from the file, merged over
            // relay.yaml's defaults exactly like a channels: entry.
            if (auto st = config::check_channel_name(opts->channel); !st.ok()) fail("relay", st.message(), 2);
            auto text = read_file(opts->channel_config);
            if (!text) fail("relay", text.message(), 2);
            cfg->channels.erase(opts->channel);
            // The file's schema path is relative to the file's own directory.
            cfg->config_dir = std::filesystem::absolute(opts->channel_config).parent_path();
            auto ch = config::parse_channel(*cfg, opts->channel, *text, opts->channel_config);
            if (!ch) fail("relay", ch.message(), 2);
            cfg->channels[opts->channel] = *ch;
        }
        auto it = cfg->channels.find(opts->channel);
        if (it == cfg->channels.end()) {
            std::string known;
            for (const auto& [name, _] : cfg->channels) known += (known.empty() ? "" : ", ") + name;
            fail("relay", (dir / "relay.yaml").string() + ": no channel '" + opts->channel + "' (known: " + known + ")", 2);
        }
        log_config_notices(cfg->notices);
        auto overrides = config::apply_relay_environment(it->second, [](const char* n) { return std::getenv(n); });
        if (!overrides) fail("relay", overrides.message(), 2);
        for (const auto& line : *overrides) spdlog::info("override: {}", line);
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
