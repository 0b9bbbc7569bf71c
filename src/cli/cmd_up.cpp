// speeddata up [--demo]: the whole stack under one supervisor (orchestrator, stripchart,
// pivot serve; --demo adds the example source). Ctrl-C/SIGTERM stops everything.
#include <dirent.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/config/config.hpp"
#include "orchestrator/orchestrator.hpp"
#include "orchestrator/supervisor.hpp"

namespace speeddata::cli {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

// Pids of our live children (direct, and orphans re-parented to us as subreaper).
std::vector<pid_t> own_children() {
    std::vector<pid_t> out;
    const pid_t me = ::getpid();
    DIR* d = ::opendir("/proc");
    if (!d) return out;
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
        std::string line;
        std::getline(f, line);
        auto close = line.rfind(')');
        if (close == std::string::npos) continue;
        char state = 0;
        long ppid = 0;
        if (std::sscanf(line.c_str() + close + 1, " %c %ld", &state, &ppid) != 2) continue;
        if (ppid == me && state != 'Z') out.push_back(static_cast<pid_t>(pid));
        else if (ppid == me) ::waitpid(static_cast<pid_t>(pid), nullptr, WNOHANG);
    }
    ::closedir(d);
    return out;
}

// Ends every descendant still around (we are their subreaper): SIGTERM, then SIGKILL.
void sweep_descendants() {
    for (int round = 0; round < 2; ++round) {
        auto kids = own_children();
        if (kids.empty()) return;
        for (pid_t p : kids) ::kill(p, round == 0 ? SIGTERM : SIGKILL);
        const auto deadline = steady_clock::now() + seconds(round == 0 ? 5 : 1);
        while (steady_clock::now() < deadline) {
            while (::waitpid(-1, nullptr, WNOHANG) > 0) {
            }
            if (own_children().empty()) return;
            std::this_thread::sleep_for(milliseconds(20));
        }
    }
}

}  // namespace

void add_up_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("up", "Run the whole stack: orchestrator (relays, API, console), stripchart, pivot server");
    struct Opts {
        std::string config_dir;
        bool demo = false;
        int orchestrator_port = -1;
        double demo_rate = 100;
    };
    auto opts = std::make_shared<Opts>();
    cmd->add_flag("--demo", opts->demo, "Also run the example source (speeddata send --channel example)");
    cmd->add_option("--demo-rate", opts->demo_rate, "Records/s of the demo source (default 100)");
    cmd->add_option("--config-dir", opts->config_dir, "Configuration directory (default $SPEEDDATA_CONFIG or ./config)");
    cmd->add_option("--orchestrator-port", opts->orchestrator_port, "Orchestrator HTTP port (overrides http.port)");
    cmd->callback([opts] {
        spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ up: %v");
        fs::path dir = fs::absolute(opts->config_dir.empty() ? default_config_dir() : fs::path(opts->config_dir));
        auto relay = config::load_relay_config(dir);
        if (!relay) fail("up", relay.message(), 2);
        auto orch = orchestrator::load_settings(dir);
        if (!orch) fail("up", orch.message(), 2);
        // The servers' own files only give their URLs here; a server whose file is missing or
        // wrong says so itself (and is restarted with back-off), the rest of the stack runs.
        config::StripchartConfig strip;
        if (auto s = config::load_stripchart_config(dir); s) strip = *s;
        else spdlog::warn("{}", s.message());
        config::PivotConfig pivot;
        if (auto p = config::load_pivot_config(dir); p) pivot = *p;
        else spdlog::warn("{}", p.message());
        if (opts->demo && !relay->channels.count("example"))
            fail("up", (dir / "relay.yaml").string() + ": --demo needs a channel 'example'", 2);

        sigset_t stop_set;
        sigemptyset(&stop_set);
        sigaddset(&stop_set, SIGINT);
        sigaddset(&stop_set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
        // Orphaned grandchildren (a relay whose orchestrator died) re-parent to us, so that
        // nothing outlives `up`.
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        setenv("SPEEDDATA_CONFIG", dir.c_str(), 1);

        const std::string exe = orchestrator::self_exe().string();
        const uint16_t orch_port = opts->orchestrator_port >= 0 ? static_cast<uint16_t>(opts->orchestrator_port) : orch->port;
        orchestrator::Supervisor sup(orch->backoff);
        auto add = [&](const std::string& name, std::vector<std::string> argv) {
            orchestrator::ChildSpec spec;
            spec.name = name;
            spec.argv = std::move(argv);
            spec.zero_exit_is_final = true;
            if (auto st = sup.add(std::move(spec)); !st.ok()) spdlog::error("start {}: {}", name, st.message());
        };
        add("orchestrator", {exe, "orchestrator", "--config-dir", dir.string(), "--port", std::to_string(orch_port)});
        add("stripchart", {exe, "stripchart", "--config-dir", dir.string()});
        add("pivot", {exe, "pivot", "serve"});
        if (opts->demo) {
            // Give the example relay a moment to bind so the first samples are not refused.
            std::this_thread::sleep_for(milliseconds(500));
            char rate[32];
            std::snprintf(rate, sizeof rate, "%g", opts->demo_rate);
            add("demo-source", {exe, "send", "--channel", "example", "--config-dir", dir.string(), "--rate", rate});
        }
        auto host = [](const std::string& bind) { return bind == "0.0.0.0" ? std::string("localhost") : bind; };
        std::cout << "SpeedData is up (Ctrl-C stops everything)\n"
                  << "  console + API   http://" << host(orch->bind) << ":" << orch_port << "/  (API /api/v1)\n"
                  << "  stripchart      http://" << host(strip.bind) << ":" << strip.port << "/\n"
                  << "  pivot API       http://" << host(pivot.bind) << ":" << pivot.port << "/api/v1\n";
        if (opts->demo) std::cout << "  demo source     speeddata send --channel example (" << opts->demo_rate << " records/s)\n";
        std::cout << "  cache           " << relay->storage.avro_path.string() << "\n" << std::flush;

        std::atomic<bool> done{false};
        std::thread waiter([&] {
            int sig = 0;
            sigwait(&stop_set, &sig);
            if (!done) spdlog::info("signal {}: stopping everything", sig);
            done = true;
        });
        std::map<std::string, std::string> reported;
        while (!done) {
            sup.poll();
            for (const auto& c : sup.list()) {
                if (c.state == "not available" && reported[c.name] != c.state)
                    std::cout << "  " << c.name << ": not available (exited at once with code 0)\n" << std::flush;
                reported[c.name] = c.state;
            }
            std::this_thread::sleep_for(milliseconds(100));
        }
        waiter.join();
        sup.stop_all(seconds(8));
        sweep_descendants();
        spdlog::info("stopped");
    });
}

}  // namespace speeddata::cli
