#include "stripchart/page_data.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/fs.hpp"
#include "pivot/tags.hpp"

namespace speeddata::stripchart {

namespace fs = std::filesystem;

TagsWatch::TagsWatch(fs::path tags_path, std::chrono::milliseconds interval)
    : path_(std::move(tags_path)), interval_(interval) {}

TagsWatch::~TagsWatch() { stop(); }

bool TagsWatch::poll_once() {
    if (!store_) {
        std::error_code ec;
        if (!fs::exists(path_ / "tags.sqlite", ec)) return false;  // the pivot has made no tag yet
        auto store = pivot::TagStore::open(path_);
        if (!store) {
            spdlog::debug("tags: {}", store.message());
            return false;
        }
        store_ = std::move(*store);
    }
    auto tags = store_->list();
    if (!tags) {
        store_.reset();  // the database was removed or broke: open it again next time
        return false;
    }
    nlohmann::json list = nlohmann::json::array();
    for (const auto& t : *tags) {
        auto j = pivot::tag_to_json(t);
        // The page needs the range and where it belongs, not the file's details.
        list.push_back({{"id", j["id"]}, {"name", j["name"]}, {"note", j["note"]}, {"start", j["start"]},
                        {"end", j["end"]}, {"start_ns", j["start_ns"]}, {"end_ns", j["end_ns"]},
                        {"channels", j["channels"]}, {"signals", j["signals"]}, {"download", j["download"]}});
    }
    std::string text = list.dump();
    std::lock_guard lock(mu_);
    if (message_ && text == last_list_) return false;
    last_list_ = std::move(text);
    uint64_t v = version_.load() + 1;
    message_ = std::make_shared<const std::string>(
        nlohmann::json{{"type", "tags"}, {"tags", std::move(list)}, {"version", v}}.dump());
    version_.store(v);
    return true;
}

std::shared_ptr<const std::string> TagsWatch::message() const {
    std::lock_guard lock(mu_);
    return message_;
}

void TagsWatch::start() {
    thread_ = std::thread([this] {
        while (!stop_) {
            poll_once();
            for (auto waited = std::chrono::milliseconds(0); waited < interval_ && !stop_;
                 waited += std::chrono::milliseconds(20))
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
}

void TagsWatch::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

bool valid_dashboard_name(const std::string& name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return true;
}

namespace {

constexpr uintmax_t max_dashboard_bytes = 256 * 1024;

// The file of a valid name, inside dir's canonical path (a symlink pointing out is refused).
Result<fs::path> dashboard_file(const fs::path& dir, const std::string& name) {
    if (!valid_dashboard_name(name))
        return Status::invalid(fmt::format("name: '{}' is not a dashboard name (1..64 of A-Z a-z 0-9 _ -)",
                                           name.size() > 80 ? name.substr(0, 80) + "..." : name));
    std::error_code ec;
    fs::path root = fs::canonical(dir, ec);
    if (ec) return Status::not_found(fmt::format("name: no dashboard '{}'", name));
    fs::path file = fs::canonical(root / (name + ".json"), ec);
    if (ec || !fs::is_regular_file(file, ec)) return Status::not_found(fmt::format("name: no dashboard '{}'", name));
    if (!is_inside(root, file)) return Status::not_found(fmt::format("name: no dashboard '{}'", name));
    return file;
}

Result<nlohmann::json> read_json_object(const fs::path& file, const std::string& name) {
    std::error_code ec;
    auto size = fs::file_size(file, ec);
    if (ec) return Status::not_found(fmt::format("name: no dashboard '{}'", name));
    if (size > max_dashboard_bytes)
        return Status::invalid(fmt::format("dashboard '{}': the file is over 256 KiB", name));
    auto text = read_file(file, max_dashboard_bytes);
    if (!text) return Status::not_found(fmt::format("name: no dashboard '{}'", name));
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return Status::invalid(fmt::format("dashboard '{}': {}.json is not a JSON object", name, name));
    return j;
}

}  // namespace

nlohmann::json list_dashboards(const fs::path& dir) {
    nlohmann::json out = nlohmann::json::array();
    std::error_code ec;
    std::vector<std::string> names;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const fs::path& p = it->path();
        if (p.extension() != ".json") continue;
        std::string name = p.stem().string();
        if (valid_dashboard_name(name)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        auto file = dashboard_file(dir, name);
        if (!file) continue;
        auto j = read_json_object(*file, name);
        nlohmann::json e = {{"name", name}};
        if (j) {
            e["title"] = j->contains("title") && (*j)["title"].is_string() ? (*j)["title"] : nlohmann::json(name);
        } else {
            e["error"] = j.message();
        }
        out.push_back(std::move(e));
    }
    return {{"dashboards", std::move(out)}};
}

Result<nlohmann::json> read_dashboard(const fs::path& dir, const std::string& name) {
    auto file = dashboard_file(dir, name);
    if (!file) return file.status();
    return read_json_object(*file, name);
}

}  // namespace speeddata::stripchart
