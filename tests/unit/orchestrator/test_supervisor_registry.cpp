// The orchestrator's building blocks with real processes and a real SQLite file.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "orchestrator/registry.hpp"
#include "orchestrator/supervisor.hpp"

namespace fs = std::filesystem;
using namespace speeddata::orchestrator;
using namespace std::chrono_literals;

namespace {

bool alive(pid_t pid) { return pid > 0 && ::kill(pid, 0) == 0; }

// Polls the supervisor until pred holds or the timeout passes.
template <typename Pred>
bool poll_until(Supervisor& s, Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        s.poll();
        if (pred()) return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

// A child spec (named fields would warn about the ones left out under -Wextra).
ChildSpec spec(std::string name, std::vector<std::string> argv, bool zero_exit_is_final = false, fs::path log = {}) {
    ChildSpec c;
    c.name = std::move(name);
    c.argv = std::move(argv);
    c.zero_exit_is_final = zero_exit_is_final;
    c.log_file = std::move(log);
    return c;
}

fs::path temp_dir(const std::string& tag) {
    auto d = fs::temp_directory_path() / ("sd_orch_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

}  // namespace

TEST(Supervisor, RestartsAKilledChildWithBackoffAndCountsIt) {
    Supervisor s(BackoffOptions{.initial = 100ms, .max = 400ms, .stable = 10s});
    ASSERT_TRUE(s.add(spec("sleeper", {"/bin/sleep", "30"})).ok());
    auto first = s.get("sleeper");
    ASSERT_TRUE(first && first->pid > 0 && alive(first->pid));
    EXPECT_EQ(first->state, ChildState::running);
    ::kill(first->pid, SIGKILL);
    ASSERT_TRUE(poll_until(s, [&] { auto c = s.get("sleeper"); return c->pid > 0 && c->pid != first->pid; }, 2s));
    auto second = s.get("sleeper");
    EXPECT_EQ(second->restarts, 1);
    EXPECT_EQ(second->last_signal, SIGKILL);
    // A crash right after the restart waits twice as long (back-off doubles).
    ::kill(second->pid, SIGKILL);
    ASSERT_TRUE(poll_until(s, [&] { return s.get("sleeper")->state == ChildState::backoff; }, 1s));
    EXPECT_GT(s.get("sleeper")->restart_in_s, 0.1);
    ASSERT_TRUE(poll_until(s, [&] { return s.get("sleeper")->restarts == 2 && s.get("sleeper")->pid > 0; }, 2s));
    const pid_t last = s.get("sleeper")->pid;
    s.stop_all(2s);
    EXPECT_FALSE(alive(last));
    EXPECT_EQ(s.get("sleeper")->state, ChildState::exited);
    s.poll();  // no restart after stop_all
    EXPECT_EQ(s.get("sleeper")->pid, 0);
}

TEST(Supervisor, ZeroExitIsFinalOnlyWhenAsked) {
    Supervisor s(BackoffOptions{.initial = 50ms, .max = 100ms, .stable = 10s});
    ASSERT_TRUE(s.add(spec("placeholder", {"/bin/true"}, true)).ok());
    ASSERT_TRUE(s.add(spec("failing", {"/bin/false"}, true)).ok());
    ASSERT_TRUE(poll_until(s, [&] { return s.get("placeholder")->state == ChildState::not_available; }, 2s));
    ASSERT_TRUE(poll_until(s, [&] { return s.get("failing")->restarts >= 2; }, 2s));
    EXPECT_EQ(s.get("placeholder")->restarts, 0);
    EXPECT_EQ(s.get("failing")->last_exit_code, 1);
    EXPECT_FALSE(s.add(spec("failing", {"/bin/true"})).ok());  // name taken
}

TEST(Supervisor, RemoveStopsTheChildAndForgetsIt) {
    Supervisor s;
    auto log = temp_dir("log") / "child.log";
    ASSERT_TRUE(s.add(spec("c", {"/bin/sh", "-c", "echo hello; exec sleep 30"}, false, log)).ok());
    const pid_t pid = s.get("c")->pid;
    std::this_thread::sleep_for(200ms);
    EXPECT_TRUE(s.remove("c", 2s));
    EXPECT_FALSE(alive(pid));
    EXPECT_FALSE(s.has("c"));
    EXPECT_FALSE(s.remove("c"));
    std::ifstream in(log);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "hello");
    fs::remove_all(log.parent_path());
}

TEST(Supervisor, SigkillAfterGraceWhenSigtermIsIgnored) {
    Supervisor s;
    ASSERT_TRUE(s.add(spec("stubborn", {"/bin/sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"})).ok());
    const pid_t pid = s.get("stubborn")->pid;
    std::this_thread::sleep_for(200ms);
    const auto t0 = std::chrono::steady_clock::now();
    s.stop_all(300ms);
    EXPECT_FALSE(alive(pid));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(Registry, PersistsAcrossReopenAndReplacesByName) {
    auto dir = temp_dir("reg");
    const auto file = dir / "state" / "orchestrator.sqlite";
    {
        auto r = Registry::open(file);
        ASSERT_TRUE(r.ok()) << r.message();
        ASSERT_TRUE((*r)->put({"b", 26001, R"({"type":"record"})", "", "{}", "2026-11-24T08:00:00Z"}).ok());
        ASSERT_TRUE((*r)->put({"a", 26000, "{}", "agents/a.avsc", R"({"decimation":{"factor":2}})", "t"}).ok());
        ASSERT_TRUE((*r)->put({"b", 26005, "{}", "", "{}", "t2"}).ok());  // replace
    }
    ASSERT_TRUE(fs::exists(file));
    auto r = Registry::open(file);
    ASSERT_TRUE(r.ok());
    auto rows = (*r)->list();
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0].name, "a");
    EXPECT_EQ((*rows)[0].schema_path, "agents/a.avsc");
    EXPECT_EQ((*rows)[0].config_json, R"({"decimation":{"factor":2}})");
    EXPECT_EQ((*rows)[1].port, 26005);
    EXPECT_EQ((*rows)[1].created, "t2");
    ASSERT_TRUE((*r)->remove("a").ok());
    EXPECT_EQ((*r)->list()->size(), 1u);
    fs::remove_all(dir);
}

TEST(Registry, OpenErrorNamesTheFile) {
    auto r = Registry::open("/proc/nonexistent/x/orchestrator.sqlite");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("/proc/nonexistent/x/orchestrator.sqlite"), std::string::npos);
}

TEST(Registry, ImportOnceStoresNewNamesKeepsOursAndRecordsTheSource) {
    auto dir = temp_dir("import");
    auto r = Registry::open(dir / "orchestrator.sqlite");
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_TRUE((*r)->put({"mine", 26100, "{}", "", "{}", "t0"}).ok());
    const std::vector<RegisteredChannel> rows = {{"mine", 26001, "{}", "", R"({"decimation":5})", "t1"},
                                                 {"theirs", 26002, "{}", "", "{}", "t2"}};
    auto first = (*r)->import_once("/x/registry.db", rows, 1);
    ASSERT_TRUE(first.ok()) << first.message();
    EXPECT_TRUE(first->done_now);
    EXPECT_EQ(first->stored, std::vector<std::string>{"theirs"});
    EXPECT_EQ(first->kept, std::vector<std::string>{"mine"});
    auto list = (*r)->list();
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].port, 26100);  // ours, not replaced
    EXPECT_TRUE(*(*r)->imported("/x/registry.db"));
    EXPECT_FALSE(*(*r)->imported("/y/registry.db"));
    // Once: a second import of the same source stores nothing, even after a removal.
    ASSERT_TRUE((*r)->remove("theirs").ok());
    auto again = (*r)->import_once("/x/registry.db", rows, 0);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(again->done_now);
    EXPECT_TRUE(again->stored.empty());
    EXPECT_EQ((*r)->list()->size(), 1u);
    fs::remove_all(dir);
}

TEST(Registry, ReadsAnEarlierRegistryWithoutChangingIt) {
    auto dir = temp_dir("earlier");
    const auto file = dir / "registry.db";
    {
        auto db = speeddata::sqlite::Database::open(file, "test");
        ASSERT_TRUE(db.ok());
        ASSERT_TRUE(db->exec("PRAGMA journal_mode=DELETE").ok());
        ASSERT_TRUE(db->exec("CREATE TABLE channels (name TEXT PRIMARY KEY, port INTEGER UNIQUE NOT NULL,"
                             " schema_path TEXT NOT NULL, config_json TEXT, status TEXT DEFAULT 'registered',"
                             " created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, pid INTEGER, last_heartbeat TIMESTAMP)")
                        .ok());
        ASSERT_TRUE(db->exec("INSERT INTO channels (name, port, schema_path, config_json, created_at) VALUES"
                             " ('s1', 26001, 'config/agents/a.avsc', '{\"decimation\": 5}', '2025-12-24 10:00:00'),"
                             " ('s0', 26000, 'x.avsc', NULL, '2025-12-24 09:00:00')")
                        .ok());
    }
    const auto before = fs::last_write_time(file);
    const auto size = fs::file_size(file);
    auto rows = read_earlier_registry(file);
    ASSERT_TRUE(rows.ok()) << rows.message();
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0].name, "s0");
    EXPECT_EQ((*rows)[0].config_json, "");
    EXPECT_EQ((*rows)[1].port, 26001);
    EXPECT_EQ((*rows)[1].schema_path, "config/agents/a.avsc");
    EXPECT_EQ((*rows)[1].config_json, R"({"decimation": 5})");
    EXPECT_EQ((*rows)[1].created_at, "2025-12-24 10:00:00");
    EXPECT_EQ(fs::last_write_time(file), before);
    EXPECT_EQ(fs::file_size(file), size);
    EXPECT_FALSE(fs::exists(dir / "registry.db-wal"));

    auto missing = read_earlier_registry(dir / "none.db");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.message().find("none.db"), std::string::npos);
    EXPECT_FALSE(fs::exists(dir / "none.db"));  // read-only: nothing created
    fs::remove_all(dir);
}
