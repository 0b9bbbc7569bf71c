// Tags: named time ranges worth keeping. Each tag's HDF5 export lives in storage.tags_path
// (which retention never touches) and is recorded in <tags_path>/tags.sqlite, so tags
// outlive both the cache they were cut from and server restarts.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/sqlite.hpp"
#include "core/status.hpp"
#include "pivot/pivot.hpp"

namespace speeddata::pivot {

struct Tag {
    int64_t id = 0;
    std::string name, note;
    int64_t start_ns = 0, end_ns = 0;
    std::vector<std::string> channels, signals;
    std::string file;        // file name inside tags_path
    uint64_t bytes = 0;
    uint64_t rows = 0;
    std::string created;     // ISO 8601
};
nlohmann::json tag_to_json(const Tag& t);

struct TagCreateResult {
    ExportResult export_result;  // kind/status tell why creation failed
    Tag tag;
};

// A SQLite database of tags plus their files. Thread-safe (one connection behind a mutex;
// exports run outside the lock).
class TagStore {
public:
    // Creates tags_path and the database if needed. Error names the path and SQLite's message.
    static Result<std::unique_ptr<TagStore>> open(const std::filesystem::path& tags_path);

    // Exports request from avro_path into a new tag file and records it. name must be
    // 1..200 characters.
    TagCreateResult create(const std::string& name, const std::string& note, const ExportRequest& request,
                           const std::filesystem::path& avro_path, const Hdf5Options& options);
    // Database errors are errors (io), never an empty list or "no such tag".
    Result<std::vector<Tag>> list();
    Result<std::optional<Tag>> get(int64_t id);
    // Removes the row and the file; false when no such tag.
    Result<bool> remove(int64_t id);
    std::filesystem::path path_of(const Tag& t) const { return dir_ / t.file; }

private:
    TagStore(std::filesystem::path dir, sqlite::Database db) : dir_(std::move(dir)), db_(std::move(db)) {}
    Result<std::optional<Tag>> get_locked(int64_t id);
    std::filesystem::path dir_;
    sqlite::Database db_;
    std::mutex mutex_;
};

}  // namespace speeddata::pivot
