#include "core/sqlite.hpp"

#include <sqlite3.h>

namespace speeddata::sqlite {

void Statement::Finalize::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
void Database::Close::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

Statement::~Statement() = default;

Statement& Statement::bind(int index, std::string_view text) {
    const int rc = sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    if (rc != SQLITE_OK && bind_error_.ok())
        bind_error_ = Status::io_error(where_ + ": bind parameter " + std::to_string(index) + ": " + sqlite3_errstr(rc));
    return *this;
}

Statement& Statement::bind(int index, int64_t value) {
    const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
    if (rc != SQLITE_OK && bind_error_.ok())
        bind_error_ = Status::io_error(where_ + ": bind parameter " + std::to_string(index) + ": " + sqlite3_errstr(rc));
    return *this;
}

Result<bool> Statement::step() {
    if (!bind_error_.ok()) return bind_error_;
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Status::io_error(where_ + ": " + sqlite3_errmsg(db_));
}

Status Statement::run() {
    auto r = step();
    if (!r) return r.status();
    if (*r) return Status::io_error(where_ + ": statement returned rows where none were expected");
    return Status();
}

std::string Statement::text(int column) const {
    const unsigned char* p = sqlite3_column_text(stmt_.get(), column);
    if (!p) return {};
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_.get(), column); }

Result<Database> Database::open(const std::filesystem::path& file, std::string_view what, int busy_timeout_ms) {
    std::error_code ec;
    if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
    const std::string where = std::string(what) + " " + file.string();
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(file.c_str(), &raw,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    Database db(raw, file, where);
    if (rc != SQLITE_OK)
        return Status::io_error("open " + where + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_busy_timeout(raw, busy_timeout_ms);
    if (auto st = db.exec("PRAGMA journal_mode=WAL"); !st.ok()) return st;
    return db;
}

Result<Database> Database::open_readonly(const std::filesystem::path& file, std::string_view what,
                                         int busy_timeout_ms) {
    const std::string where = std::string(what) + " " + file.string();
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(file.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, nullptr);
    Database db(raw, file, where);
    if (rc != SQLITE_OK)
        return Status::io_error("open " + where + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_busy_timeout(raw, busy_timeout_ms);
    return db;
}

Database::~Database() = default;

Status Database::exec(std::string_view sql) {
    char* msg = nullptr;
    const std::string text(sql);
    if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &msg) != SQLITE_OK) {
        std::string m = msg ? msg : sqlite3_errmsg(db_.get());
        sqlite3_free(msg);
        return Status::io_error(where_ + ": " + m);
    }
    return Status();
}

Result<Statement> Database::prepare(std::string_view sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK) {
        sqlite3_finalize(s);
        return Status::io_error(where_ + ": " + sqlite3_errmsg(db_.get()));
    }
    return Statement(s, db_.get(), where_);
}

int64_t Database::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }

}  // namespace speeddata::sqlite
