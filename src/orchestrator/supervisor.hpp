// A small process supervisor: starts children (fork/exec), restarts the ones that die with an
// exponential back-off, and stops them with SIGTERM (then SIGKILL after a grace period).
// Used by the orchestrator (one relay per channel) and by `speeddata up` (the servers).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/status.hpp"

namespace speeddata::orchestrator {

struct BackoffOptions {
    std::chrono::milliseconds initial{250};   // first restart delay after a crash
    std::chrono::milliseconds max{30000};     // delay cap; doubles on each crash in a row
    std::chrono::milliseconds stable{10000};  // running this long resets the delay to initial
};

struct ChildSpec {
    std::string name;
    std::vector<std::string> argv;           // argv[0] is the executable path
    std::filesystem::path log_file;          // stdout+stderr appended here; empty = inherit
    // `speeddata up`: a child that exits 0 at once is a placeholder ("not available") and is
    // not restarted. Otherwise any exit of a child not being stopped is a crash.
    bool zero_exit_is_final = false;
};

// Where a child is in its life. name() gives the word the API and logs use.
enum class ChildState {
    running,        // started, not yet seen to end
    backoff,        // ended on its own; restarted after restart_in_s
    exited,         // ended and not restarted (a final zero exit, or stopped)
    not_available,  // exited at once with code 0: nothing to supervise (e.g. no such device)
    stopping,       // SIGTERM sent, waiting for it to end
};
const char* name(ChildState s);

struct ChildInfo {
    std::string name;
    pid_t pid = 0;                // 0 when not running
    ChildState state = ChildState::exited;
    int restarts = 0;             // restarts after crashes since the supervisor started it
    int watchdog_kills = 0;       // of those, runs ended by the watchdog (hung: no status updates)
    int last_exit_code = -1;      // exit code of the last exit, -1 if none or a signal
    int last_signal = 0;          // signal that ended the last run, 0 if none
    std::chrono::system_clock::time_point started;  // of the current/last run
    double restart_in_s = 0;      // seconds until the next restart (state "backoff")
};

class Supervisor {
public:
    explicit Supervisor(BackoffOptions backoff = {});
    ~Supervisor();  // stops every child
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Starts a child now. Error when the name is taken or fork fails.
    Status add(ChildSpec spec);
    // SIGKILLs a running child that stopped answering (the watchdog); poll() then restarts it
    // with back-off and counts it. False when unknown or not running.
    bool kill_hung(const std::string& name, const std::string& reason);
    // Stops and forgets a child: SIGTERM, SIGKILL after grace. Returns false when unknown.
    bool remove(const std::string& name, std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
    // Reaps exited children and starts the ones whose back-off delay has passed. Call often.
    void poll();
    std::vector<ChildInfo> list() const;
    std::optional<ChildInfo> get(const std::string& name) const;
    bool has(const std::string& name) const;
    // True when pid is one of this supervisor's running children.
    bool owns_pid(pid_t pid) const;
    // Stops all children in parallel (SIGTERM, SIGKILL after grace); no restarts afterwards.
    void stop_all(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

private:
    struct Child {
        ChildSpec spec;
        ChildInfo info;
        std::chrono::steady_clock::time_point started_steady;
        std::chrono::steady_clock::time_point next_start;
        std::chrono::milliseconds delay{0};
    };
    Status spawn(Child& c);
    void reaped(Child& c, int wstatus);

    BackoffOptions backoff_;
    mutable std::mutex mutex_;
    std::map<std::string, Child> children_;
    bool stopped_ = false;
};

// Waits for pid to exit (already signalled), up to grace, then SIGKILLs it. Returns wait status.
int wait_or_kill(pid_t pid, std::chrono::milliseconds grace);

// The running executable (/proc/self/exe), to start sibling subcommands.
std::filesystem::path self_exe();

}  // namespace speeddata::orchestrator
