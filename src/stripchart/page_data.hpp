// What the stripchart pages read besides the live data: the pivot's tags (watched in
// tags.sqlite so that every open page learns of a new tag at once) and the saved dashboard
// layouts in config/dashboards/. No Beast here.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/status.hpp"

namespace speeddata::pivot {
class TagStore;
}

namespace speeddata::stripchart {

// Polls <tags_path>/tags.sqlite (through pivot::TagStore) on a thread of its own and keeps
// the list as a "tags" message; version() increases whenever the list changed. A database
// that does not exist yet is not created (the pivot makes it); it is looked for again.
class TagsWatch {
public:
    TagsWatch(std::filesystem::path tags_path, std::chrono::milliseconds interval);
    ~TagsWatch();
    TagsWatch(const TagsWatch&) = delete;
    TagsWatch& operator=(const TagsWatch&) = delete;
    void start();
    void stop();
    // One look at the database; true when the list changed.
    bool poll_once();
    uint64_t version() const { return version_.load(); }
    // {"type": "tags", "tags": [...], "version": N} (tags as the pivot's API gives them).
    std::shared_ptr<const std::string> message() const;

private:
    std::filesystem::path path_;
    std::chrono::milliseconds interval_;
    std::unique_ptr<pivot::TagStore> store_;  // opened once the database exists
    std::atomic<uint64_t> version_{0};
    mutable std::mutex mu_;
    std::string last_list_;
    std::shared_ptr<const std::string> message_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// A dashboard name: 1..64 of [A-Za-z0-9_-] (the file is <dir>/<name>.json).
bool valid_dashboard_name(const std::string& name);
// {"dashboards": [{"name", "title", "bytes"}]} of the valid *.json files in dir (none when
// dir does not exist).
nlohmann::json list_dashboards(const std::filesystem::path& dir);
// The layout <dir>/<name>.json. Errors: invalid_argument (bad name; a file that is not a
// JSON object, or over 256 KiB), not_found (no such dashboard).
Result<nlohmann::json> read_dashboard(const std::filesystem::path& dir, const std::string& name);

}  // namespace speeddata::stripchart
