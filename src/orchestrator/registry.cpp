#include "orchestrator/registry.hpp"

#include <sqlite3.h>

namespace speeddata::orchestrator {

namespace {
// RAII for a prepared statement.
struct Stmt {
    sqlite3_stmt* s = nullptr;
    ~Stmt() { sqlite3_finalize(s); }
};
std::string err(sqlite3* db, const std::string& what) { return what + ": " + sqlite3_errmsg(db); }
}  // namespace

Result<std::unique_ptr<Registry>> Registry::open(const std::filesystem::path& file) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string m = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        return Status::error("open registry " + file.string() + ": " + m);
    }
    std::unique_ptr<Registry> r(new Registry(db, file));
    sqlite3_busy_timeout(db, 2000);
    if (auto st = r->exec("PRAGMA journal_mode=WAL"); !st.ok()) return st;
    if (auto st = r->exec("CREATE TABLE IF NOT EXISTS channels ("
                          " name TEXT PRIMARY KEY, port INTEGER NOT NULL, schema_json TEXT NOT NULL,"
                          " schema_path TEXT NOT NULL DEFAULT '', config_json TEXT NOT NULL DEFAULT '{}',"
                          " created TEXT NOT NULL)");
        !st.ok())
        return st;
    return r;
}

Registry::~Registry() { sqlite3_close(db_); }

Status Registry::exec(const std::string& sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string m = msg ? msg : "unknown error";
        sqlite3_free(msg);
        return Status::error("registry " + file_.string() + ": " + m);
    }
    return Status();
}

Result<std::vector<RegisteredChannel>> Registry::list() const {
    Stmt st;
    if (sqlite3_prepare_v2(db_, "SELECT name, port, schema_json, schema_path, config_json, created FROM channels ORDER BY name",
                           -1, &st.s, nullptr) != SQLITE_OK)
        return Status::error(err(db_, "registry list"));
    std::vector<RegisteredChannel> out;
    auto text = [&](int i) {
        auto p = sqlite3_column_text(st.s, i);
        return p ? std::string(reinterpret_cast<const char*>(p)) : std::string();
    };
    int rc;
    while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
        RegisteredChannel c;
        c.name = text(0);
        c.port = sqlite3_column_int(st.s, 1);
        c.schema_json = text(2);
        c.schema_path = text(3);
        c.config_json = text(4);
        c.created = text(5);
        out.push_back(std::move(c));
    }
    if (rc != SQLITE_DONE) return Status::error(err(db_, "registry list"));
    return out;
}

Status Registry::put(const RegisteredChannel& c) {
    Stmt st;
    if (sqlite3_prepare_v2(db_,
                           "INSERT OR REPLACE INTO channels (name, port, schema_json, schema_path, config_json, created)"
                           " VALUES (?, ?, ?, ?, ?, ?)",
                           -1, &st.s, nullptr) != SQLITE_OK)
        return Status::error(err(db_, "registry put"));
    sqlite3_bind_text(st.s, 1, c.name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st.s, 2, c.port);
    sqlite3_bind_text(st.s, 3, c.schema_json.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.s, 4, c.schema_path.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.s, 5, c.config_json.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st.s, 6, c.created.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st.s) != SQLITE_DONE) return Status::error(err(db_, "registry put " + c.name));
    return Status();
}

Status Registry::remove(const std::string& name) {
    Stmt st;
    if (sqlite3_prepare_v2(db_, "DELETE FROM channels WHERE name = ?", -1, &st.s, nullptr) != SQLITE_OK)
        return Status::error(err(db_, "registry remove"));
    sqlite3_bind_text(st.s, 1, name.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st.s) != SQLITE_DONE) return Status::error(err(db_, "registry remove " + name));
    return Status();
}

}  // namespace speeddata::orchestrator
