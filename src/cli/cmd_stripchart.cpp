// speeddata stripchart: live browser charts of the decimated multicast streams.
#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/config/config.hpp"
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
        std::string config_dir, bind, web_root;
        int port = -1;
    };
    auto opts = std::make_shared<Opts>();
    cmd->add_option("--config-dir", opts->config_dir, "Configuration directory (default $SPEEDDATA_CONFIG or ./config)");
    cmd->add_option("--bind", opts->bind, "Listen address (overrides http.bind)");
    cmd->add_option("--port", opts->port, "TCP port (overrides http.port; 0 = any free port, printed at start)");
    cmd->add_option("--web-root", opts->web_root, "Directory of the pages (default: web/stripchart found next to the executable)");
    cmd->callback([opts] {
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
        std::filesystem::path dir = opts->config_dir.empty() ? default_config_dir() : std::filesystem::path(opts->config_dir);
        auto cfg = config::load_stripchart_config(dir);
        if (!cfg) fail("stripchart", cfg.message(), 2);

        // Block the stop signals in every thread; one thread waits for them.
        sigset_t stop_set;
        sigemptyset(&stop_set);
        sigaddset(&stop_set, SIGINT);
        sigaddset(&stop_set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
        std::signal(SIGPIPE, SIG_IGN);

        stripchart::Hub hub;
        auto groups = stripchart::load_config_channels(hub, dir);
        stripchart::Group global{cfg->multicast.decimated.group, cfg->multicast.decimated.port};
        if (std::find(groups.begin(), groups.end(), global) == groups.end()) groups.insert(groups.begin(), global);
        stripchart::Receiver receiver(hub);
        for (const auto& g : groups) {
            auto st = receiver.join(g, cfg->multicast.interface);
            if (!st) fail("stripchart", st.message(), 1);
            spdlog::info("stripchart: joined {}:{} on {}", g.group, g.port, cfg->multicast.interface);
        }

        stripchart::ServerOptions so;
        so.bind = opts->bind.empty() ? cfg->bind : opts->bind;
        so.port = opts->port >= 0 ? static_cast<uint16_t>(opts->port) : cfg->port;
        so.frame_rate = cfg->frame_rate;
        so.client_queue_limit = cfg->client_queue_limit;
        so.web_root = find_web_root(opts->web_root, dir);
        if (so.web_root.empty()) spdlog::warn("stripchart: web/stripchart not found; only the API and WebSocket are served");
        stripchart::Server server(hub, so);
        if (auto st = server.start(); !st) fail("stripchart", st.message(), 1);

        std::string url;
        if (cfg->registry_poll_interval.count() > 0)
            url = "http://" + cfg->orchestrator_address + ":" + std::to_string(cfg->orchestrator_port);
        stripchart::RegistryPoller poller(hub, url, cfg->registry_poll_interval);
        poller.start();

        std::thread waiter([&server, stop_set] {
            int sig = 0;
            sigwait(&stop_set, &sig);
            spdlog::info("stripchart: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            server.stop();
        });
        spdlog::info("stripchart: serving http://{}:{}/ (pages from {}), frame rate {} Hz", so.bind, server.port(),
                     so.web_root.empty() ? "nowhere" : so.web_root.string(), so.frame_rate);
        server.run();
        poller.stop();
        receiver.stop();
        // The waiter returns once a signal came; if run() ended on its own, send ourselves one.
        pthread_kill(waiter.native_handle(), SIGTERM);
        waiter.join();
        spdlog::info("stripchart: stopped");
    });
}

}  // namespace speeddata::cli
