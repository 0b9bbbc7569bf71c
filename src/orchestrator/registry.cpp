#include "orchestrator/registry.hpp"

#include <algorithm>

#include "core/time.hpp"

namespace speeddata::orchestrator {

Result<std::unique_ptr<Registry>> Registry::open(const std::filesystem::path& file) {
    auto db = sqlite::Database::open(file, "registry", 2000);
    if (!db) return db.status();
    std::unique_ptr<Registry> r(new Registry(std::move(*db)));
    if (auto st = r->db_.exec("CREATE TABLE IF NOT EXISTS channels ("
                              " name TEXT PRIMARY KEY, port INTEGER NOT NULL, schema_json TEXT NOT NULL,"
                              " schema_path TEXT NOT NULL DEFAULT '', config_json TEXT NOT NULL DEFAULT '{}',"
                              " created TEXT NOT NULL)");
        !st.ok())
        return st;
    if (auto st = r->db_.exec("CREATE TABLE IF NOT EXISTS imports ("
                              " source TEXT PRIMARY KEY, imported TEXT NOT NULL,"
                              " channels INTEGER NOT NULL, skipped INTEGER NOT NULL)");
        !st.ok())
        return st;
    return r;
}

Result<std::vector<RegisteredChannel>> Registry::list() {
    auto st = db_.prepare("SELECT name, port, schema_json, schema_path, config_json, created FROM channels ORDER BY name");
    if (!st) return st.status();
    std::vector<RegisteredChannel> out;
    for (;;) {
        auto row = st->step();
        if (!row) return row.status();
        if (!*row) break;
        RegisteredChannel c;
        c.name = st->text(0);
        c.port = static_cast<int>(st->integer(1));
        c.schema_json = st->text(2);
        c.schema_path = st->text(3);
        c.config_json = st->text(4);
        c.created = st->text(5);
        out.push_back(std::move(c));
    }
    return out;
}

Status Registry::put(const RegisteredChannel& c) {
    auto st = db_.prepare(
        "INSERT OR REPLACE INTO channels (name, port, schema_json, schema_path, config_json, created)"
        " VALUES (?, ?, ?, ?, ?, ?)");
    if (!st) return st.status();
    st->bind(1, c.name).bind(2, int64_t{c.port}).bind(3, c.schema_json).bind(4, c.schema_path);
    st->bind(5, c.config_json).bind(6, c.created);
    return st->run().with_context("put " + c.name);
}

Status Registry::remove(const std::string& name) {
    auto st = db_.prepare("DELETE FROM channels WHERE name = ?");
    if (!st) return st.status();
    st->bind(1, name);
    return st->run().with_context("remove " + name);
}

Result<bool> Registry::imported(const std::string& source) {
    auto st = db_.prepare("SELECT 1 FROM imports WHERE source = ?");
    if (!st) return st.status();
    st->bind(1, source);
    return st->step();
}

Result<Registry::ImportResult> Registry::import_once(const std::string& source,
                                                     const std::vector<RegisteredChannel>& channels, int skipped) {
    // IMMEDIATE: the write lock is taken before the check, so a second orchestrator waits
    // and then finds the import recorded.
    if (auto st = db_.exec("BEGIN IMMEDIATE"); !st.ok()) return st;
    auto result = [&]() -> Result<ImportResult> {
        ImportResult out;
        auto seen = imported(source);
        if (!seen) return seen.status();
        if (*seen) return out;
        auto existing = list();
        if (!existing) return existing.status();
        for (const auto& c : channels) {
            const bool taken = std::any_of(existing->begin(), existing->end(),
                                           [&](const RegisteredChannel& e) { return e.name == c.name; });
            if (taken) {
                out.kept.push_back(c.name);
                continue;
            }
            if (auto st = put(c); !st.ok()) return st;
            out.stored.push_back(c.name);
        }
        auto mark = db_.prepare("INSERT INTO imports (source, imported, channels, skipped) VALUES (?, ?, ?, ?)");
        if (!mark) return mark.status();
        const std::string stamp = format_iso8601_seconds(now_ns());
        mark->bind(1, source).bind(2, std::string_view(stamp)).bind(3, static_cast<int64_t>(out.stored.size()));
        mark->bind(4, int64_t{skipped});
        if (auto st = mark->run(); !st.ok()) return st;
        out.done_now = true;
        return out;
    }();
    if (!result) {
        (void)db_.exec("ROLLBACK");
        return result.status();
    }
    if (auto st = db_.exec("COMMIT"); !st.ok()) {
        (void)db_.exec("ROLLBACK");
        return st;
    }
    return result;
}

Result<std::vector<EarlierChannel>> read_earlier_registry(const std::filesystem::path& file) {
    auto db = sqlite::Database::open_readonly(file, "earlier registry");
    if (!db) return db.status();
    auto st = db->prepare("SELECT name, port, schema_path, config_json, created_at FROM channels ORDER BY name");
    if (!st) return st.status();
    std::vector<EarlierChannel> out;
    for (;;) {
        auto row = st->step();
        if (!row) return row.status();
        if (!*row) break;
        EarlierChannel c;
        c.name = st->text(0);
        c.port = st->integer(1);
        c.schema_path = st->text(2);
        c.config_json = st->text(3);
        c.created_at = st->text(4);
        out.push_back(std::move(c));
    }
    return out;
}

}  // namespace speeddata::orchestrator
