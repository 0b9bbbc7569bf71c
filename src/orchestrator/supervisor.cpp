#include "orchestrator/supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

namespace speeddata::orchestrator {

const char* name(ChildState s) {
    switch (s) {
        case ChildState::running: return "running";
        case ChildState::backoff: return "backoff";
        case ChildState::exited: return "exited";
        case ChildState::not_available: return "not available";
        case ChildState::stopping: return "stopping";
    }
    return "exited";
}

namespace fs = std::filesystem;
using namespace std::chrono;

fs::path self_exe() {
    std::error_code ec;
    auto p = fs::read_symlink("/proc/self/exe", ec);
    return ec ? fs::path("speeddata") : p;
}

Supervisor::Supervisor(BackoffOptions backoff) : backoff_(backoff) {}

Supervisor::~Supervisor() { stop_all(); }

// Forks and execs the child. In the child: default signal mask and dispositions (the parent
// blocks SIGINT/SIGTERM for sigwait), PDEATHSIG so a killed supervisor leaves no orphans.
Status Supervisor::spawn(Child& c) {
    std::vector<std::string> args = c.spec.argv;
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int log_fd = -1;
    if (!c.spec.log_file.empty()) {
        std::error_code ec;
        fs::create_directories(c.spec.log_file.parent_path(), ec);
        log_fd = ::open(c.spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd < 0) return Status::error("open " + c.spec.log_file.string() + ": " + std::strerror(errno));
    }
    const pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        if (log_fd >= 0) ::close(log_fd);
        return Status::error(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGTERM, SIG_DFL);
        ::signal(SIGPIPE, SIG_DFL);
        if (log_fd >= 0) {
            ::dup2(log_fd, 1);
            ::dup2(log_fd, 2);
        }
        // Nothing but stdin/stdout/stderr crosses into the child, whatever the parent holds
        // without O_CLOEXEC (asio's sockets, library files): a relay must never keep the
        // orchestrator's listening socket (its replacement could not bind) or its files.
        ::close_range(3, ~0U, 0);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
    c.info.pid = pid;
    c.info.state = ChildState::running;
    c.info.started = system_clock::now();
    c.started_steady = steady_clock::now();
    spdlog::info("started {} (pid {})", c.spec.name, pid);
    return Status();
}

Status Supervisor::add(ChildSpec spec) {
    std::lock_guard lock(mutex_);
    if (children_.count(spec.name)) return Status::error("child " + spec.name + " exists");
    Child c;
    c.spec = std::move(spec);
    c.info.name = c.spec.name;
    c.delay = backoff_.initial;
    if (auto st = spawn(c); !st.ok()) return st;
    children_.emplace(c.spec.name, std::move(c));
    return Status();
}

void Supervisor::reaped(Child& c, int wstatus) {
    c.info.pid = 0;
    c.info.last_exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    c.info.last_signal = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0;
    const auto ran = steady_clock::now() - c.started_steady;
    if (c.spec.zero_exit_is_final && c.info.last_exit_code == 0) {
        c.info.state = ChildState::not_available;
        spdlog::info("{} exited with code 0: not available, not restarted", c.spec.name);
        return;
    }
    if (stopped_) {
        c.info.state = ChildState::exited;
        return;
    }
    // A run that lasted long enough counts as healthy: start again from the initial delay.
    if (ran >= backoff_.stable) c.delay = backoff_.initial;
    c.info.state = ChildState::backoff;
    c.next_start = steady_clock::now() + c.delay;
    spdlog::warn("{} died ({}); restarting in {} ms", c.spec.name,
                 c.info.last_signal ? "signal " + std::to_string(c.info.last_signal)
                                    : "exit code " + std::to_string(c.info.last_exit_code),
                 c.delay.count());
    c.delay = std::min(backoff_.max, c.delay * 2);
}

void Supervisor::poll() {
    std::lock_guard lock(mutex_);
    const auto now = steady_clock::now();
    for (auto& [name, c] : children_) {
        if (c.info.pid > 0) {
            int ws = 0;
            pid_t r = ::waitpid(c.info.pid, &ws, WNOHANG);
            if (r == c.info.pid) reaped(c, ws);
        }
        if (c.info.state == ChildState::backoff) {
            if (stopped_) {
                c.info.state = ChildState::exited;
            } else if (now >= c.next_start) {
                ++c.info.restarts;
                if (auto st = spawn(c); !st.ok()) {
                    spdlog::error("restart {}: {}", name, st.message());
                    c.next_start = now + c.delay;
                }
            } else {
                c.info.restart_in_s = duration<double>(c.next_start - now).count();
            }
        }
    }
}

int wait_or_kill(pid_t pid, milliseconds grace) {
    const auto deadline = steady_clock::now() + grace;
    int ws = 0;
    for (;;) {
        pid_t r = ::waitpid(pid, &ws, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return ws;
        if (steady_clock::now() >= deadline) break;
        std::this_thread::sleep_for(milliseconds(10));
    }
    spdlog::warn("pid {} did not stop within {} ms: SIGKILL", pid, grace.count());
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &ws, 0);
    return ws;
}

bool Supervisor::kill_hung(const std::string& name, const std::string& reason) {
    std::lock_guard lock(mutex_);
    auto it = children_.find(name);
    if (it == children_.end() || it->second.info.pid <= 0 || stopped_) return false;
    Child& c = it->second;
    // SIGKILL also ends a stopped (SIGSTOP) process and one stuck in an interruptible call;
    // poll() reaps it and restarts it with the usual back-off.
    ::kill(c.info.pid, SIGKILL);
    ++c.info.watchdog_kills;
    spdlog::warn("{} (pid {}) {}: killed by the watchdog, restarting", name, c.info.pid, reason);
    return true;
}

bool Supervisor::remove(const std::string& name, milliseconds grace) {
    pid_t pid = 0;
    {
        std::lock_guard lock(mutex_);
        auto it = children_.find(name);
        if (it == children_.end()) return false;
        pid = it->second.info.pid;
        children_.erase(it);
    }
    if (pid > 0) {
        ::kill(pid, SIGTERM);
        wait_or_kill(pid, grace);
        spdlog::info("stopped {} (pid {})", name, pid);
    }
    return true;
}

std::vector<ChildInfo> Supervisor::list() const {
    std::lock_guard lock(mutex_);
    std::vector<ChildInfo> out;
    for (const auto& [_, c] : children_) out.push_back(c.info);
    return out;
}

std::optional<ChildInfo> Supervisor::get(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = children_.find(name);
    if (it == children_.end()) return std::nullopt;
    return it->second.info;
}

bool Supervisor::owns_pid(pid_t pid) const {
    std::lock_guard lock(mutex_);
    for (const auto& [_, c] : children_)
        if (c.info.pid == pid) return true;
    return false;
}

bool Supervisor::has(const std::string& name) const {
    std::lock_guard lock(mutex_);
    return children_.count(name) > 0;
}

void Supervisor::stop_all(milliseconds grace) {
    std::vector<std::pair<std::string, pid_t>> pids;
    {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        for (auto& [name, c] : children_) {
            if (c.info.pid > 0) {
                pids.emplace_back(name, c.info.pid);
                ::kill(c.info.pid, SIGTERM);
                c.info.state = ChildState::stopping;
            }
        }
    }
    // All were signalled at once; now wait for each (they flush in parallel).
    for (auto& [name, pid] : pids) {
        int ws = wait_or_kill(pid, grace);
        std::lock_guard lock(mutex_);
        auto it = children_.find(name);
        if (it != children_.end() && it->second.info.pid == pid) {
            it->second.info.pid = 0;
            it->second.info.state = ChildState::exited;
            it->second.info.last_exit_code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
        }
    }
}

}  // namespace speeddata::orchestrator
