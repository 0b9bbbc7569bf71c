// The channel registry: channels registered at run time through the REST API, kept in a
// SQLite file (<storage.state_path>/orchestrator.sqlite) so that an orchestrator restart
// brings every one of them back.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.hpp"

struct sqlite3;

namespace speeddata::orchestrator {

struct RegisteredChannel {
    std::string name;
    int port = 0;
    std::string schema_json;   // the schema text as stored (inline or read from schema_path)
    std::string schema_path;   // as given, relative to the config dir; "" when sent inline
    std::string config_json;   // the "config" object of the registration ("{}" when none)
    std::string created;       // ISO 8601 UTC
};

class Registry {
public:
    // Opens (creating if needed) the registry file and its table.
    static Result<std::unique_ptr<Registry>> open(const std::filesystem::path& file);
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    Result<std::vector<RegisteredChannel>> list() const;
    // Inserts or replaces by name.
    Status put(const RegisteredChannel& ch);
    Status remove(const std::string& name);
    const std::filesystem::path& file() const { return file_; }

private:
    explicit Registry(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}
    Status exec(const std::string& sql);
    sqlite3* db_;  // owned; closed in the destructor
    std::filesystem::path file_;
};

}  // namespace speeddata::orchestrator
