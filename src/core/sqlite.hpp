// One RAII wrapper over SQLite for the whole project (the orchestrator's channel registry, the
// pivot's tags): every prepare, bind and step is checked and a failure is a Status naming the
// database file and SQLite's message, so a broken database is an error, never an empty list.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace speeddata::sqlite {

class Statement {
public:
    Statement(Statement&&) noexcept = default;
    Statement& operator=(Statement&&) noexcept = default;
    ~Statement();

    // Parameters are 1-based, as in SQL. A bind failure is kept and returned by step().
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, int64_t value);
    // true: a row is ready (read it with text()/integer()); false: done. Error: io.
    Result<bool> step();
    // Steps a statement that returns no rows.
    Status run();
    std::string text(int column) const;  // 0-based, "" for NULL
    int64_t integer(int column) const;

private:
    friend class Database;
    Statement(sqlite3_stmt* s, sqlite3* db, std::string where) : stmt_(s), db_(db), where_(std::move(where)) {}
    struct Finalize {
        void operator()(sqlite3_stmt* s) const;
    };
    std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
    sqlite3* db_ = nullptr;
    std::string where_;  // "registry /x/orchestrator.sqlite"
    Status bind_error_;
};

class Database {
public:
    // Opens (creating) the file with WAL journaling and a busy timeout, so a CLI and a server
    // can share it. what names it in messages ("registry", "tags"). Error: io.
    static Result<Database> open(const std::filesystem::path& file, std::string_view what,
                                 int busy_timeout_ms = 5000);
    // Opens an existing file read-only, leaving it exactly as it is (no journal mode change,
    // nothing created): for databases another program owns, such as the earlier version's
    // registry. Error: io (also when the file does not exist).
    static Result<Database> open_readonly(const std::filesystem::path& file, std::string_view what,
                                          int busy_timeout_ms = 5000);
    Database(Database&&) noexcept = default;
    Database& operator=(Database&&) noexcept = default;
    ~Database();

    Status exec(std::string_view sql);
    Result<Statement> prepare(std::string_view sql);
    int64_t last_insert_rowid() const;
    const std::filesystem::path& file() const { return file_; }

private:
    Database(sqlite3* db, std::filesystem::path file, std::string where)
        : db_(db), file_(std::move(file)), where_(std::move(where)) {}
    struct Close {
        void operator()(sqlite3* db) const;
    };
    std::unique_ptr<sqlite3, Close> db_;
    std::filesystem::path file_;
    std::string where_;
};

}  // namespace speeddata::sqlite
