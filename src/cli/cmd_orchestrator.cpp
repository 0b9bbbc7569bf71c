// speeddata orchestrator: supervises one relay per channel, REST API + web console.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "orchestrator/orchestrator.hpp"

namespace speeddata::cli {

namespace fs = std::filesystem;

namespace {
// The console's files: $SPEEDDATA_WEB/console, else web/console next to the config dir's
// parent (the repo), next to the executable (build dir in the repo), or an installed share dir.
fs::path find_console(const fs::path& config_dir) {
    std::vector<fs::path> candidates;
    if (const char* w = std::getenv("SPEEDDATA_WEB")) candidates.push_back(fs::path(w) / "console");
    auto exe = orchestrator::self_exe();
    candidates.push_back(fs::absolute(config_dir).parent_path() / "web" / "console");
    candidates.push_back(exe.parent_path().parent_path() / "web" / "console");
    candidates.push_back(exe.parent_path() / "web" / "console");
    candidates.push_back(exe.parent_path().parent_path() / "share" / "speeddata" / "web" / "console");
    candidates.push_back(fs::current_path() / "web" / "console");
    for (const auto& c : candidates) {
        std::error_code ec;
        if (fs::is_regular_file(c / "index.html", ec)) return c;
    }
    return {};
}
}  // namespace

void add_orchestrator_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("orchestrator",
                                   "Supervise one relay per channel; channel registry, REST API and web console");
    struct Opts {
        std::string config_dir, bind, token, web;
        int port = -1;
    };
    auto opts = std::make_shared<Opts>();
    cmd->add_option("--config-dir", opts->config_dir, "Configuration directory (default $SPEEDDATA_CONFIG or ./config)");
    cmd->add_option("--bind", opts->bind, "HTTP bind address (overrides http.bind of orchestrator.yaml)");
    cmd->add_option("--port", opts->port, "HTTP port (overrides http.port; 0 = any free port)");
    cmd->add_option("--token", opts->token, "Bearer token for /api/ (overrides http.token)");
    cmd->add_option("--web", opts->web, "Directory of the console's files (default: web/console found nearby)");
    cmd->callback([opts] {
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ orchestrator: %v");
        fs::path dir = opts->config_dir.empty() ? default_config_dir() : fs::path(opts->config_dir);
        auto settings = orchestrator::load_settings(dir);
        if (!settings) fail("orchestrator", settings.message(), 2);
        if (!opts->bind.empty()) settings->bind = opts->bind;
        if (opts->port >= 0) {
            if (opts->port > 65535) fail("orchestrator", "--port: expected 0..65535", 2);
            settings->port = static_cast<uint16_t>(opts->port);
        }
        if (!opts->token.empty()) settings->token = opts->token;
        if (const char* t = std::getenv("SPEEDDATA_TOKEN"); t && settings->token.empty()) settings->token = t;
        settings->static_root = opts->web.empty() ? find_console(dir) : fs::path(opts->web);

        // Block the stop signals in every thread; one thread waits for them (sigwait).
        sigset_t stop_set;
        sigemptyset(&stop_set);
        sigaddset(&stop_set, SIGINT);
        sigaddset(&stop_set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
        signal(SIGPIPE, SIG_IGN);

        auto orch = orchestrator::Orchestrator::create(dir, *settings);
        if (!orch) fail("orchestrator", orch.message(), 2);

        http::ServerOptions so;
        so.bind = settings->bind;
        so.port = settings->port;
        so.bearer_token = settings->token;
        so.public_paths = {"/api/v1/health"};
        so.static_root = settings->static_root;
        so.threads = settings->threads;
        so.max_body_bytes = settings->max_body_bytes;
        so.server_name = "speeddata-orchestrator";
        http::Router router;
        (*orch)->add_routes(router);
        http::Server server(so, std::move(router));
        if (auto st = server.start(); !st.ok()) fail("orchestrator", st.message(), 1);
        if (auto st = (*orch)->start(); !st.ok()) {
            (*orch)->stop();
            fail("orchestrator", st.message(), 1);
        }
        spdlog::info("listening on http://{}:{} (API /api/v1, console {})", settings->bind, server.port(),
                     settings->static_root.empty() ? std::string("not found") : settings->static_root.string());

        std::atomic<bool> done{false};
        std::thread poller([&] {
            while (!done) {
                (*orch)->poll();
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        });
        std::thread waiter([&] {
            int sig = 0;
            sigwait(&stop_set, &sig);
            if (!done) spdlog::info("signal {}: stopping", sig);
            done = true;
            server.stop();
        });
        server.run();
        if (!done) {
            done = true;
            pthread_kill(waiter.native_handle(), SIGTERM);
        }
        waiter.join();
        poller.join();
        (*orch)->stop();
        spdlog::info("stopped");
    });
}

}  // namespace speeddata::cli
