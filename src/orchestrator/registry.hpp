// The channel registry: channels registered at run time through the REST API, kept in a
// SQLite file (<storage.state_path>/orchestrator.sqlite) so that an orchestrator restart
// brings every one of them back.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/sqlite.hpp"
#include "core/status.hpp"

namespace speeddata::orchestrator {

struct RegisteredChannel {
    std::string name;
    int port = 0;
    std::string schema_json;   // the schema text as stored (inline or read from schema_path)
    std::string schema_path;   // as given, relative to the config dir; "" when sent inline
    std::string config_json;   // the "config" object of the registration ("{}" when none)
    std::string created;       // ISO 8601 UTC
};

// One row of the earlier version's registry (v0.6 relay/registry_db.py: data/registry.db,
// table channels(name, port, schema_path, config_json, status, created_at, pid,
// last_heartbeat)), as stored there.
struct EarlierChannel {
    std::string name;
    int64_t port = 0;
    std::string schema_path;  // as the earlier API was given it (relative to its working directory)
    std::string config_json;  // the registration's config object, or the relay.yaml entry; "" = none
    std::string created_at;   // SQLite CURRENT_TIMESTAMP: "2025-12-24 10:00:00" (UTC)
};

// Reads an earlier registry without changing it (opened read-only). Error: io, naming the
// file (also when it is not an earlier registry: no channels table with those columns).
Result<std::vector<EarlierChannel>> read_earlier_registry(const std::filesystem::path& file);

class Registry {
public:
    // Opens (creating if needed) the registry file and its table.
    static Result<std::unique_ptr<Registry>> open(const std::filesystem::path& file);

    // Every registered channel, by name. A database error is an error, never an empty list.
    Result<std::vector<RegisteredChannel>> list();
    // Inserts or replaces by name.
    Status put(const RegisteredChannel& ch);
    Status remove(const std::string& name);
    const std::filesystem::path& file() const { return db_.file(); }

    // The import of an earlier registry (docs/upgrading.md): in one transaction, stores each
    // channel whose name is not registered yet and records that `source` was imported, unless
    // it already was (then nothing is stored). So an import happens once, also when two
    // orchestrators start at the same moment, and a channel de-registered after the import
    // does not come back. Returns the names stored, and whether this call did the import.
    struct ImportResult {
        bool done_now = false;            // false: source was imported before
        std::vector<std::string> stored;  // names stored now
        std::vector<std::string> kept;    // names already registered (ours kept)
    };
    Result<ImportResult> import_once(const std::string& source, const std::vector<RegisteredChannel>& channels,
                                     int skipped);
    // True when source was imported before (a quick check before reading it).
    Result<bool> imported(const std::string& source);

private:
    explicit Registry(sqlite::Database db) : db_(std::move(db)) {}
    sqlite::Database db_;
};

}  // namespace speeddata::orchestrator
