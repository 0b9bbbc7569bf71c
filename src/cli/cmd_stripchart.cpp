// speeddata stripchart: live browser charts of the decimated multicast streams.
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/config/cluster.hpp"
#include "core/config/config.hpp"
#include "core/lock.hpp"
#include "history/routes.hpp"
#include "http/server.hpp"
#include "stripchart/hub.hpp"
#include "stripchart/server.hpp"
#include "stripchart/sources.hpp"

namespace speeddata::cli {

namespace {

// The pages: --web-root, $SPEEDDATA_WEB_ROOT, next to the executable (build tree or
// install prefix), next to the config dir, then ./web/stripchart.
std::filesystem::path find_web_root(const std::string& given, const std::filesystem::path& config_dir) {
    namespace fs = std::filesystem;
    if (!given.empty()) return given;
    if (const char* env = std::getenv("SPEEDDATA_WEB_ROOT"); env && *env) return env;
    std::vector<fs::path> candidates;
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        candidates.push_back(exe.parent_path().parent_path() / "web" / "stripchart");
        candidates.push_back(exe.parent_path().parent_path() / "share" / "speeddata" / "web" / "stripchart");
    }
    candidates.push_back(fs::absolute(config_dir).parent_path() / "web" / "stripchart");
    candidates.push_back(fs::current_path() / "web" / "stripchart");
    for (const auto& c : candidates)
        if (fs::exists(c / "stripchart.js", ec)) return c;
    return {};
}

}  // namespace

void add_stripchart_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("stripchart", "Live browser charts of the decimated multicast streams (HTTP + WebSocket, port 8081)");
    struct Opts {
        std::string config_dir, bind, web_root, token;
        int port = -1;
    };
    auto opts = std::make_shared<Opts>();
    cmd->add_option("--config-dir", opts->config_dir, "Configuration directory (default $SPEEDDATA_CONFIG or ./config)");
    cmd->add_option("--bind", opts->bind, "Listen address (overrides http.bind)");
    cmd->add_option("--port", opts->port, "TCP port (overrides http.port; 0 = any free port, printed at start)");
    cmd->add_option("--web-root", opts->web_root, "Directory of the pages (default: web/stripchart found next to the executable)");
    cmd->add_option("--token", opts->token, "Bearer token (overrides auth.token_file and $SPEEDDATA_TOKEN)");
    cmd->callback([opts] {
        init_logging("stripchart");
        std::filesystem::path dir = opts->config_dir.empty() ? default_config_dir() : std::filesystem::path(opts->config_dir);
        auto cfg = config::load_stripchart_config(dir);
        if (!cfg) fail("stripchart", cfg.message(), 2);
        if (auto relay = config::load_relay_config(dir); relay)
            log_config_notices(unique_notices({&cfg->notices, &relay->notices}));
        else
            log_config_notices(cfg->notices);

        // Block the stop signals in every thread; one thread waits for them.
        sigset_t stop_set;
        sigemptyset(&stop_set);
        sigaddset(&stop_set, SIGINT);
        sigaddset(&stop_set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
        std::signal(SIGPIPE, SIG_IGN);

        std::string token = opts->token;
        if (token.empty()) {
            auto t = config::load_token(cfg->auth, dir, (dir / "global.yaml").string() + ": auth.token_file");
            if (!t) fail("stripchart", t.message(), 2);
            token = *t;
        }
        const std::string bind = opts->bind.empty() ? cfg->bind : opts->bind;
        if (auto st = http::check_exposure(bind, token, cfg->auth.mode, (dir / "stripchart.yaml").string() + ": http");
            !st.ok())
            fail("stripchart", st.message(), 2);

        auto lock = LockFile::acquire(cfg->storage.state_path / "stripchart.lock",
                                      "pid " + std::to_string(::getpid()) + ", http://" + bind + ":" +
                                          std::to_string(opts->port >= 0 ? opts->port : cfg->port) + "/");
        if (!lock) fail("stripchart", lock.code() == StatusCode::conflict ? "already running (" + lock.message() + ")" : lock.message(), 1);

        stripchart::Hub hub;
        auto groups = stripchart::load_config_channels(hub, dir);
        stripchart::Group global{cfg->multicast.decimated.group, cfg->multicast.decimated.port};
        if (std::find(groups.begin(), groups.end(), global) == groups.end()) groups.insert(groups.begin(), global);
        stripchart::Receiver receiver(hub);
        for (const auto& g : groups) {
            auto st = receiver.join(g, cfg->multicast.interface);
            if (!st) fail("stripchart", st.message(), 1);
            spdlog::info("joined {}:{} on {}", g.group, g.port, cfg->multicast.interface);
        }

        stripchart::ServerOptions so;
        so.bind = bind;
        so.token = token;
        so.protect_reads = cfg->auth.reads;
        so.max_clients = cfg->max_clients;
        so.port = opts->port >= 0 ? static_cast<uint16_t>(opts->port) : cfg->port;
        so.frame_rate = cfg->frame_rate;
        so.client_queue_limit = cfg->client_queue_limit;
        so.web_root = find_web_root(opts->web_root, dir);
        // Tags (the pivot's database), saved layouts, and where the page finds the pivot: on
        // the host the page came from, at pivot.yaml's port (docs/stripchart.md).
        so.tags = std::make_shared<stripchart::TagsWatch>(cfg->storage.tags_path, std::chrono::milliseconds(500));
        so.tags->start();
        so.dashboards_dir = dir / "dashboards";
        uint16_t pivot_port = 8000;
        if (auto pc = config::load_pivot_config(dir); pc) pivot_port = pc->port;
        so.page_config = {{"pivot", {{"port", pivot_port}}}};
        so.extra_routes.push_back([storage = cfg->storage](http::Router& r) {
            history::add_history_routes(r, history::history_options(storage));
        });
        if (so.web_root.empty()) spdlog::warn("web/stripchart not found; only the API and WebSocket are served");
        stripchart::Server server(hub, so);
        if (auto st = server.start(); !st) fail("stripchart", st.message(), 1);

        std::string url;
        if (cfg->registry_poll_interval.count() > 0)
            url = "http://" + cfg->orchestrator_address + ":" + std::to_string(cfg->orchestrator_port);
        stripchart::RegistryPoller poller(hub, url, cfg->registry_poll_interval, token);
        poller.set_receiver(&receiver, cfg->multicast.interface);
        // A fleet (cluster.nats): other hosts' channels over NATS (docs/fleet.md).
        std::unique_ptr<stripchart::NatsFeed> feed;
        auto cluster = config::load_cluster_config(dir);
        if (!cluster) fail("stripchart", cluster.message(), 2);
        if (cluster->enabled()) {
            feed = std::make_unique<stripchart::NatsFeed>(hub, *cluster);
            poller.set_nats_feed(feed.get());
        }
        poller.start();

        std::thread waiter([&server, stop_set] {
            int sig = 0;
            sigwait(&stop_set, &sig);
            spdlog::info("{} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            server.stop();
        });
        spdlog::info("serving http://{}:{}/ (pages from {}), frame rate {} Hz", so.bind, server.port(),
                     so.web_root.empty() ? "nowhere" : so.web_root.string(), so.frame_rate);
        server.run();
        poller.stop();
        receiver.stop();
        so.tags->stop();
        // The waiter returns once a signal came; if run() ended on its own, send ourselves one.
        pthread_kill(waiter.native_handle(), SIGTERM);
        waiter.join();
        spdlog::info("stopped");
    });
}

}  // namespace speeddata::cli
