#include "pivot/tags.hpp"

#include <atomic>
#include <system_error>
#include <unistd.h>

#include "core/text.hpp"
#include "core/time.hpp"

namespace speeddata::pivot {

namespace fs = std::filesystem;

namespace {

Tag row_to_tag(const sqlite::Statement& s) {
    Tag t;
    t.id = s.integer(0);
    t.name = s.text(1);
    t.note = s.text(2);
    t.start_ns = s.integer(3);
    t.end_ns = s.integer(4);
    t.channels = split_list(s.text(5));
    t.signals = split_list(s.text(6));
    t.file = s.text(7);
    t.bytes = static_cast<uint64_t>(s.integer(8));
    t.rows = static_cast<uint64_t>(s.integer(9));
    t.created = s.text(10);
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

Result<std::unique_ptr<TagStore>> TagStore::open(const fs::path& tags_path) {
    std::error_code ec;
    fs::create_directories(tags_path, ec);
    if (ec) return Status::io_error("create " + tags_path.string() + ": " + ec.message());
    // The CLI and a server may share the database: WAL and a busy timeout (sqlite::Database).
    auto db = sqlite::Database::open(tags_path / "tags.sqlite", "tags", 5000);
    if (!db) return db.status();
    std::unique_ptr<TagStore> s(new TagStore(tags_path, std::move(*db)));
    Status st = s->db_.exec(
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
    {
        auto ins = db_.prepare(
            "INSERT INTO tags (name, note, start_ns, end_ns, channels, signals, file, bytes, rows, created)"
            " VALUES (?,?,?,?,?,?,'',?,?,?)");
        if (!ins) return fail(ins.message());
        ins->bind(1, name).bind(2, note).bind(3, t.start_ns).bind(4, t.end_ns);
        ins->bind(5, join(t.channels, ",")).bind(6, join(t.signals, ",")).bind(7, static_cast<int64_t>(t.bytes));
        ins->bind(8, static_cast<int64_t>(t.rows)).bind(9, t.created);
        if (auto st = ins->run(); !st.ok()) return fail(st.message());
    }
    t.id = db_.last_insert_rowid();
    // File name: tag_<id>_<name with anything but [A-Za-z0-9_-] replaced by '_'>.h5
    std::string safe;
    for (char c : name.substr(0, 60)) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
    t.file = "tag_" + std::to_string(t.id) + "_" + safe + ".h5";
    auto forget = [&] {
        if (auto del = db_.prepare("DELETE FROM tags WHERE id=?")) {
            del->bind(1, t.id);
            (void)del->run();
        }
    };
    fs::rename(tmp, dir_ / t.file, ec);
    if (ec) {
        std::string m = "rename " + tmp.string() + ": " + ec.message();
        forget();
        return fail(m);
    }
    auto upd = db_.prepare("UPDATE tags SET file=? WHERE id=?");
    Status st = upd ? upd->bind(1, t.file).bind(2, t.id).run() : upd.status();
    if (!st.ok()) {
        fs::remove(dir_ / t.file, ec);
        forget();
        return fail(st.message());
    }
    return out;
}

Result<std::vector<Tag>> TagStore::list() {
    std::lock_guard lock(mutex_);
    std::vector<Tag> out;
    auto st = db_.prepare(std::string(select_cols) + " ORDER BY id");
    if (!st) return st.status();
    for (;;) {
        auto row = st->step();
        if (!row) return row.status();
        if (!*row) break;
        out.push_back(row_to_tag(*st));
    }
    return out;
}

Result<std::optional<Tag>> TagStore::get(int64_t id) {
    std::lock_guard lock(mutex_);
    return get_locked(id);
}

Result<std::optional<Tag>> TagStore::get_locked(int64_t id) {
    auto st = db_.prepare(std::string(select_cols) + " WHERE id=?");
    if (!st) return st.status();
    st->bind(1, id);
    auto row = st->step();
    if (!row) return row.status();
    if (!*row) return std::optional<Tag>();
    return std::optional<Tag>(row_to_tag(*st));
}

Result<bool> TagStore::remove(int64_t id) {
    std::lock_guard lock(mutex_);
    auto t = get_locked(id);
    if (!t) return t.status();
    if (!*t) return false;
    auto st = db_.prepare("DELETE FROM tags WHERE id=?");
    if (!st) return st.status();
    if (auto r = st->bind(1, id).run(); !r.ok()) return r;
    std::error_code ec;
    if (!(*t)->file.empty()) fs::remove(dir_ / (*t)->file, ec);
    return true;
}

}  // namespace speeddata::pivot
