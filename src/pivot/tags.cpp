#include "pivot/tags.hpp"

#include <atomic>
#include <system_error>
#include <unistd.h>

#include "core/time.hpp"

namespace speeddata::pivot {

namespace fs = std::filesystem;

namespace {

struct StmtFinalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

std::string join(const std::vector<std::string>& v) {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
    return out;
}


std::string text_col(sqlite3_stmt* s, int i) {
    auto p = sqlite3_column_text(s, i);
    return p ? reinterpret_cast<const char*>(p) : "";
}

Tag row_to_tag(sqlite3_stmt* s) {
    Tag t;
    t.id = sqlite3_column_int64(s, 0);
    t.name = text_col(s, 1);
    t.note = text_col(s, 2);
    t.start_ns = sqlite3_column_int64(s, 3);
    t.end_ns = sqlite3_column_int64(s, 4);
    t.channels = split_list(text_col(s, 5));
    t.signals = split_list(text_col(s, 6));
    t.file = text_col(s, 7);
    t.bytes = static_cast<uint64_t>(sqlite3_column_int64(s, 8));
    t.rows = static_cast<uint64_t>(sqlite3_column_int64(s, 9));
    t.created = text_col(s, 10);
    return t;
}

constexpr const char* select_cols =
    "SELECT id, name, note, start_ns, end_ns, channels, signals, file, bytes, rows, created FROM tags";

}  // namespace

nlohmann::json tag_to_json(const Tag& t) {
    return {{"id", t.id}, {"name", t.name}, {"note", t.note},
            {"start", format_iso8601(t.start_ns)}, {"end", format_iso8601(t.end_ns)},
            {"start_ns", t.start_ns}, {"end_ns", t.end_ns}, {"channels", t.channels}, {"signals", t.signals},
            {"file", t.file}, {"bytes", t.bytes}, {"rows", t.rows}, {"created", t.created},
            {"download", "/api/v1/tags/" + std::to_string(t.id) + "/download"}};
}

Status TagStore::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "unknown error";
        sqlite3_free(err);
        return Status::error("sqlite " + (dir_ / "tags.sqlite").string() + ": " + m);
    }
    return {};
}

Result<std::unique_ptr<TagStore>> TagStore::open(const fs::path& tags_path) {
    std::error_code ec;
    fs::create_directories(tags_path, ec);
    if (ec) return Status::error("create " + tags_path.string() + ": " + ec.message());
    std::unique_ptr<TagStore> s(new TagStore());
    s->dir_ = tags_path;
    sqlite3* db = nullptr;
    auto path = (tags_path / "tags.sqlite").string();
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    s->db_.reset(db);
    if (rc != SQLITE_OK) return Status::error("sqlite open " + path + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_busy_timeout(db, 5000);  // the CLI and a server may share the database
    Status st = s->exec(
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE IF NOT EXISTS tags (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL,"
        " note TEXT NOT NULL DEFAULT '', start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,"
        " channels TEXT NOT NULL, signals TEXT NOT NULL DEFAULT '', file TEXT NOT NULL,"
        " bytes INTEGER NOT NULL, rows INTEGER NOT NULL, created TEXT NOT NULL);");
    if (!st.ok()) return st;
    return s;
}

TagCreateResult TagStore::create(const std::string& name, const std::string& note, const ExportRequest& req,
                                 const fs::path& avro_path, const Hdf5Options& options) {
    TagCreateResult out;
    if (name.empty() || name.size() > 200) {
        out.export_result.kind = ErrorKind::bad_request;
        out.export_result.status = Status::error("name: required, 1..200 characters");
        return out;
    }
    static std::atomic<uint64_t> seq{0};
    fs::path tmp = dir_ / (".tag-" + std::to_string(::getpid()) + "-" + std::to_string(seq++) + ".h5.part");
    out.export_result = export_range(avro_path, req, options, tmp);
    if (!out.export_result.ok()) return out;
    std::error_code ec;
    Tag& t = out.tag;
    t.name = name;
    t.note = note;
    t.start_ns = req.start_ns;
    t.end_ns = req.end_ns;
    t.channels = req.channels;
    t.signals = req.signals;
    t.bytes = fs::file_size(tmp, ec);
    t.rows = out.export_result.rows;
    t.created = format_iso8601(now_ns());
    auto fail = [&](const std::string& m) {
        fs::remove(tmp, ec);
        out.export_result.kind = ErrorKind::io;
        out.export_result.status = Status::error(m);
        return out;
    };
    std::lock_guard lock(mutex_);
    Stmt ins;
    {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(db_.get(),
                               "INSERT INTO tags (name, note, start_ns, end_ns, channels, signals, file, bytes, rows,"
                               " created) VALUES (?,?,?,?,?,?,'',?,?,?)",
                               -1, &s, nullptr) != SQLITE_OK)
            return fail(std::string("sqlite: ") + sqlite3_errmsg(db_.get()));
        ins.reset(s);
    }
    sqlite3_bind_text(ins.get(), 1, name.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins.get(), 2, note.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins.get(), 3, t.start_ns);
    sqlite3_bind_int64(ins.get(), 4, t.end_ns);
    std::string ch = join(t.channels), sg = join(t.signals);
    sqlite3_bind_text(ins.get(), 5, ch.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins.get(), 6, sg.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins.get(), 7, static_cast<int64_t>(t.bytes));
    sqlite3_bind_int64(ins.get(), 8, static_cast<int64_t>(t.rows));
    sqlite3_bind_text(ins.get(), 9, t.created.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(ins.get()) != SQLITE_DONE) return fail(std::string("sqlite: ") + sqlite3_errmsg(db_.get()));
    t.id = sqlite3_last_insert_rowid(db_.get());
    // File name: tag_<id>_<name with anything but [A-Za-z0-9_-] replaced by '_'>.h5
    std::string safe;
    for (char c : name.substr(0, 60)) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    t.file = "tag_" + std::to_string(t.id) + "_" + safe + ".h5";
    fs::rename(tmp, dir_ / t.file, ec);
    if (ec) {
        std::string m = "rename " + tmp.string() + ": " + ec.message();
        std::string del = "DELETE FROM tags WHERE id=" + std::to_string(t.id);
        (void)exec(del.c_str());
        return fail(m);
    }
    std::string upd = "UPDATE tags SET file=? WHERE id=?";
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_.get(), upd.c_str(), -1, &s, nullptr);
    Stmt us(s);
    sqlite3_bind_text(s, 1, t.file.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, t.id);
    if (sqlite3_step(s) != SQLITE_DONE) return fail(std::string("sqlite: ") + sqlite3_errmsg(db_.get()));
    return out;
}

std::vector<Tag> TagStore::list() {
    std::lock_guard lock(mutex_);
    std::vector<Tag> out;
    sqlite3_stmt* s = nullptr;
    std::string sql = std::string(select_cols) + " ORDER BY id";
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return out;
    Stmt st(s);
    while (sqlite3_step(s) == SQLITE_ROW) out.push_back(row_to_tag(s));
    return out;
}

std::optional<Tag> TagStore::get(int64_t id) {
    std::lock_guard lock(mutex_);
    sqlite3_stmt* s = nullptr;
    std::string sql = std::string(select_cols) + " WHERE id=?";
    if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &s, nullptr) != SQLITE_OK) return std::nullopt;
    Stmt st(s);
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_ROW) return std::nullopt;
    return row_to_tag(s);
}

Result<bool> TagStore::remove(int64_t id) {
    auto t = get(id);
    if (!t) return false;
    std::lock_guard lock(mutex_);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db_.get(), "DELETE FROM tags WHERE id=?", -1, &s, nullptr);
    Stmt st(s);
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) != SQLITE_DONE) return Status::error(std::string("sqlite: ") + sqlite3_errmsg(db_.get()));
    std::error_code ec;
    if (!t->file.empty()) fs::remove(dir_ / t->file, ec);
    return true;
}

}  // namespace speeddata::pivot
