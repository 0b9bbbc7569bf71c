// speeddata up [--demo]: the whole stack under one supervisor (orchestrator, stripchart,
// pivot serve; --demo adds a demo source for every channel whose schema a built-in source
// sends). Ctrl-C/SIGTERM stops everything.
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

#include "cli/cmd_send.hpp"
#include "cli/commands.hpp"
#include "core/config/config.hpp"
#include "core/lock.hpp"
#include "core/config/orchestrator_config.hpp"
#include "orchestrator/orchestrator.hpp"
#include "orchestrator/supervisor.hpp"
#include "stripchart/sources.hpp"

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

// Orphans re-parented to us (we are a subreaper: a relay whose orchestrator died) would stay
// <defunct> when they exit: reap every exited child the supervisor does not own (it reaps its
// own in poll(), which needs their exit status).
void reap_orphans(const orchestrator::Supervisor& sup) {
    for (;;) {
        siginfo_t si{};
        if (::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) return;
        if (sup.owns_pid(si.si_pid)) return;
        ::waitpid(si.si_pid, nullptr, WNOHANG);
    }
}

}  // namespace

void add_up_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("up", "Run the whole stack: orchestrator (relays, API, console), stripchart, pivot server");
    struct Opts {
        std::string config_dir;
        bool demo = false;
        int orchestrator_port = -1;
        // 10/s: the demo sine's period is 20 samples (as the earlier sender.py), so 2 s; the
        // dashboard's 30 s window then shows 15 periods of ~70 px. At 100/s they would be 150
        // periods of 0.2 s: a solid band, however truthfully drawn (docs/stripchart.md).
        double demo_rate = 10;
    };
    auto opts = std::make_shared<Opts>();
    cmd->add_flag("--demo", opts->demo,
                  "Also run a demo source for every channel whose schema a built-in source sends "
                  "(speeddata send --channel NAME: example, temperature, sensor)");
    cmd->add_option("--demo-rate", opts->demo_rate,
                    "Records/s of the example source (default 10: a 2 s sine period; the temperature and sensor sources send 1)");
    cmd->add_option("--config-dir", opts->config_dir, "Configuration directory (default $SPEEDDATA_CONFIG or ./config)");
    cmd->add_option("--orchestrator-port", opts->orchestrator_port, "Orchestrator HTTP port (overrides http.port)");
    cmd->callback([opts] {
        init_logging("up");
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
        // One demo source per channel a built-in source fits: the earlier version ran its
        // example and temperature senders side by side.
        std::vector<std::pair<std::string, std::string>> demo_sources;  // channel, source
        std::vector<std::string> no_source;
        if (opts->demo) {
            for (const auto& [name, ch] : relay->channels) {
                const std::string source = send::source_for_schema(ch.schema_path);
                if (source.empty()) no_source.push_back(name);
                else demo_sources.emplace_back(name, source);
            }
            if (demo_sources.empty())
                fail("up", (dir / "relay.yaml").string() + ": --demo needs a channel whose schema is that of a built-in "
                           "source (agents/example.avsc, temperature.avsc or sensor.avsc)", 2);
        }
        {
            auto own = config::load_orchestrator_config(dir);
            const std::vector<std::string> none;
            log_config_notices(unique_notices({&relay->notices, &strip.notices, &pivot.notices,
                                               own ? &own->notices : &none}));
        }

        const std::string exe = orchestrator::self_exe().string();
        const uint16_t orch_port = opts->orchestrator_port >= 0 ? static_cast<uint16_t>(opts->orchestrator_port) : orch->port;
        auto host = [](const std::string& bind) { return bind == "0.0.0.0" ? std::string("localhost") : bind; };
        const std::string console_url = "http://" + host(orch->bind) + ":" + std::to_string(orch_port) + "/";
        // One stack per state directory: a second `up` on the same data would run its relays and
        // demo source beside the first one's and interleave their records.
        auto lock = LockFile::acquire(relay->storage.state_path / "up.lock",
                                      "pid " + std::to_string(::getpid()) + ", " + console_url);
        if (!lock) {
            if (lock.code() == StatusCode::conflict) fail("up", "already running (" + lock.message() + ")", 1);
            fail("up", lock.status());
        }

        sigset_t stop_set;
        sigemptyset(&stop_set);
        sigaddset(&stop_set, SIGINT);
        sigaddset(&stop_set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
        // Orphaned grandchildren (a relay whose orchestrator died) re-parent to us, so that
        // nothing outlives `up`.
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        setenv("SPEEDDATA_CONFIG", dir.c_str(), 1);

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

        // "Up" only once every server answers its health check: a server that cannot bind
        // (the port is taken) or exits is reported, and everything is stopped.
        struct Probe {
            std::string name, url;
            bool ok = false;
        };
        auto probe_host = [](const std::string& bind) { return bind == "0.0.0.0" ? std::string("127.0.0.1") : bind; };
        std::vector<Probe> probes = {
            {"orchestrator", "http://" + probe_host(orch->bind) + ":" + std::to_string(orch_port) + "/api/v1/health"},
            {"stripchart", "http://" + probe_host(strip.bind) + ":" + std::to_string(strip.port) + "/api/v1/health"},
            {"pivot", "http://" + probe_host(pivot.bind) + ":" + std::to_string(pivot.port) + "/api/v1/health"},
        };
        std::string failed;
        const auto ready_deadline = steady_clock::now() + seconds(60);
        while (failed.empty()) {
            sup.poll();
            bool all = true;
            for (auto& p : probes) {
                if (!p.ok) p.ok = stripchart::http_get(p.url).ok();
                all = all && p.ok;
                auto info = sup.get(p.name);
                // A server that exits on its own before answering (bad config, port taken)
                // fails the start; one killed by a signal is restarted by the supervisor like
                // any crash, unless it keeps dying.
                if (!p.ok && info && info->pid == 0 && info->state != orchestrator::ChildState::running &&
                    (info->last_exit_code >= 0 || info->restarts >= 3))
                    failed = p.name + " is not listening (it exited" +
                             (info->last_exit_code >= 0 ? " with code " + std::to_string(info->last_exit_code) : std::string()) +
                             "; its message is above)";
            }
            if (all) break;
            if (steady_clock::now() > ready_deadline) {
                for (const auto& p : probes)
                    if (!p.ok) failed = p.name + " is not answering " + p.url + " after 60 s";
                break;
            }
            sigset_t pending;
            if (sigpending(&pending) == 0 && (sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM))) break;
            std::this_thread::sleep_for(milliseconds(100));
        }
        if (!failed.empty()) {
            std::cerr << "speeddata up: " << failed << "; stopping everything" << std::endl;
            sup.stop_all(seconds(8));
            sweep_descendants();
            throw CLI::RuntimeError(1);
        }
        if (opts->demo) {
            // The orchestrator answers before its relays have bound their ports.
            std::this_thread::sleep_for(milliseconds(500));
            for (const auto& [channel, source] : demo_sources) {
                char rate[32];
                std::snprintf(rate, sizeof rate, "%g", source == "example" ? opts->demo_rate : send::default_rate(source));
                // --json: the summary as before and no progress line, which would overwrite
                // the servers' log lines on the terminal.
                add("demo-" + channel, {exe, "send", "--channel", channel, "--source", source, "--config-dir",
                                        dir.string(), "--rate", rate, "--json"});
            }
        }
        std::cout << "SpeedData is up (Ctrl-C stops everything)\n"
                  << "  console + API   " << console_url << "  (API /api/v1)\n"
                  << "  stripchart      http://" << host(strip.bind) << ":" << strip.port << "/\n"
                  << "  pivot API       http://" << host(pivot.bind) << ":" << pivot.port << "/api/v1\n";
        for (const auto& [channel, source] : demo_sources) {
            const double r = source == "example" ? opts->demo_rate : send::default_rate(source);
            std::cout << "  demo source     speeddata send --channel " << channel << " (" << source << ", " << r
                      << " records/s)\n";
        }
        for (const auto& channel : no_source)
            std::cout << "  no demo source  for channel " << channel << " (its schema is none of the built-in sources')\n";
        std::cout << "  cache           " << relay->storage.avro_path.string() << "\n" << std::flush;

        std::atomic<bool> done{false};
        std::thread waiter([&] {
            int sig = 0;
            sigwait(&stop_set, &sig);
            if (!done) spdlog::info("signal {}: stopping everything", sig);
            done = true;
        });
        std::map<std::string, orchestrator::ChildState> reported;
        while (!done) {
            sup.poll();
            reap_orphans(sup);
            for (const auto& c : sup.list()) {
                if (c.state == orchestrator::ChildState::not_available && reported[c.name] != c.state)
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
