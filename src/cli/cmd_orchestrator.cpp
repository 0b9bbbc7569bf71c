// speeddata orchestrator: supervises one relay per channel, REST API + web console.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/config/config.hpp"
#include "core/config/orchestrator_config.hpp"
#include "core/lock.hpp"
#include "http/api_docs.hpp"
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
        init_logging("orchestrator");
        fs::path dir = opts->config_dir.empty() ? default_config_dir() : fs::path(opts->config_dir);
        auto settings = orchestrator::load_settings(dir);
        if (!settings) fail("orchestrator", settings.message(), 2);
        {
            auto relay = config::load_relay_config(dir);
            auto own = config::load_orchestrator_config(dir);
            if (relay && own) log_config_notices(unique_notices({&relay->notices, &own->notices}));
        }
        // The earlier orchestrator gave each relay its port and cache directory from the config,
        // replacing these two of the earlier relay's variables; here the relays read the config
        // themselves, so a value exported for a single relay must not reach them all.
        for (const char* var : {"RELAY_RX_PORT", "RELAY_OUTPUT_DIR"}) {
            if (std::getenv(var)) {
                spdlog::info("${} is for a relay started alone; the orchestrator's relays take it from relay.yaml", var);
                ::unsetenv(var);
            }
        }
        if (!opts->bind.empty()) settings->bind = opts->bind;
        if (opts->port >= 0) {
            if (opts->port > 65535) fail("orchestrator", "--port: expected 0..65535", 2);
            settings->port = static_cast<uint16_t>(opts->port);
        }
        if (!opts->token.empty()) settings->token = opts->token;
        if (auto st = http::check_exposure(settings->bind, settings->token, settings->auth_mode,
                                           (dir / "orchestrator.yaml").string() + ": http");
            !st.ok())
            fail("orchestrator", st.message(), 2);
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
        // One orchestrator per state directory: two would each start the same relays.
        const std::string url = "http://" + settings->bind + ":" + std::to_string(settings->port) + "/";
        auto lock = LockFile::acquire((*orch)->relay_config().storage.state_path / "orchestrator.lock",
                                      "pid " + std::to_string(::getpid()) + ", " + url);
        if (!lock) fail("orchestrator", lock.code() == StatusCode::conflict ? "already running (" + lock.message() + ")" : lock.message(), 1);

        http::ServerOptions so;
        so.bind = settings->bind;
        so.port = settings->port;
        so.bearer_token = settings->token;
        so.protect_reads = settings->protect_reads;
        so.public_paths = {"/api/v1/health"};
        // Descriptors kept free for relays' log files, status files, the registry and fork/exec.
        so.fd_reserve = 128;
        so.static_root = settings->static_root;
        so.threads = settings->threads;
        so.max_body_bytes = settings->max_body_bytes;
        so.server_name = "speeddata-orchestrator";
        http::Router router;
        (*orch)->add_routes(router);
        // Last: the index lists the routes added before it. GET / stays the console page.
        http::add_api_docs(router, {"orchestrator", http::serves_index_page(so.static_root), !so.bearer_token.empty(),
                                    so.protect_reads});
        http::Server server(so, std::move(router));
        if (auto st = server.start(); !st.ok()) fail("orchestrator", st.message(), 1);
        if (auto st = (*orch)->start(); !st.ok()) {
            (*orch)->stop();
            fail("orchestrator", st.message(), 1);
        }
        (*orch)->start_fleet();
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
