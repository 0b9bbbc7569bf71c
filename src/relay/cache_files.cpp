#include "relay/cache_files.hpp"

#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <climits>

#include <spdlog/spdlog.h>

#include "core/cache_layout.hpp"
#include "relay/cache_writer.hpp"

namespace speeddata::relay {

namespace fs = std::filesystem;

namespace {

int64_t file_time_ns(const fs::path& p) {
    std::error_code ec;
    auto t = fs::last_write_time(p, ec);
    if (ec) return 0;
    auto sys = std::chrono::file_clock::to_sys(t);
    return std::chrono::duration_cast<std::chrono::nanoseconds>(sys.time_since_epoch()).count();
}

}  // namespace

CacheFiles::CacheFiles(const config::ChannelConfig& config, Counters& counters, const Clock& clock)
    : config_(config), counters_(counters), clock_(clock) {}

void CacheFiles::scan() {
    std::lock_guard lock(mu_);
    std::error_code ec;
    fs::create_directories(config_.avro_dir, ec);
    files_.clear();
    for (const auto& f : cache::list_files(config_.avro_dir, config_.name)) {
        FileState s;
        s.path = f.path;
        s.start_ns = f.start_ns;
        s.size = fs::file_size(f.path, ec);
        auto ipath = cache::index_path(f.path);
        if (fs::exists(ipath, ec)) s.size += fs::file_size(ipath, ec);
        auto idx = cache::read_index(ipath);
        s.first_time_ns = idx.empty() ? f.start_ns : idx.front().min_ns;
        s.last_write_ns = file_time_ns(f.path);
        files_.push_back(s);
    }
    refresh_gauges();
}

CacheFiles::FileState* CacheFiles::find(const fs::path& path) {
    for (auto it = files_.rbegin(); it != files_.rend(); ++it)  // open files are near the end
        if (it->path == path) return &*it;
    return nullptr;
}

void CacheFiles::opened(const fs::path& path, uint64_t bytes, int64_t start_ns) {
    std::lock_guard lock(mu_);
    FileState s;
    s.path = path;
    s.size = bytes;
    s.start_ns = start_ns;
    s.last_write_ns = start_ns;
    s.open = true;
    files_.push_back(s);
    refresh_gauges();
}

void CacheFiles::grew(unsigned stream, const fs::path& path, uint64_t bytes, int64_t wall_ns, int64_t min_ns,
                      int64_t max_ns) {
    std::lock_guard lock(mu_);
    if (FileState* f = find(path)) {
        f->size += bytes;
        f->last_write_ns = wall_ns;
        if (f->first_time_ns == 0) f->first_time_ns = min_ns;
    }
    // newest_time: the last block written, of whichever stream is ahead.
    if (newest_.size() <= stream) newest_.resize(stream + 1, INT64_MIN);
    newest_[stream] = max_ns;
    counters_.newest_time_ns = *std::max_element(newest_.begin(), newest_.end());
    refresh_gauges();
}

void CacheFiles::closed(const fs::path& path) {
    std::lock_guard lock(mu_);
    if (FileState* f = find(path)) f->open = false;
}

void CacheFiles::remove_file(size_t i) {
    std::error_code ec;
    fs::remove(files_[i].path, ec);
    fs::remove(cache::index_path(files_[i].path), ec);
    spdlog::info("[{}] retention removed {}", config_.name, files_[i].path.filename().string());
    counters_.files_deleted.fetch_add(1, std::memory_order_relaxed);
    files_.erase(files_.begin() + static_cast<std::ptrdiff_t>(i));
}

void CacheFiles::apply_retention() {
    std::lock_guard lock(mu_);
    std::error_code ec;
    // Files deleted or shrunk by someone else (an operator, a cleanup script) leave the list:
    // files and bytes_on_disk stay what is really on disk.
    for (size_t i = 0; i < files_.size();) {
        if (files_[i].open) {
            ++i;
            continue;
        }
        auto size = fs::file_size(files_[i].path, ec);
        if (ec) {
            spdlog::warn("[{}] {} disappeared (removed by someone else?)", config_.name, files_[i].path.filename().string());
            files_.erase(files_.begin() + static_cast<std::ptrdiff_t>(i));
            continue;
        }
        // size counts the file and its index, as everywhere in the writer.
        std::error_code iec;
        auto isize = fs::file_size(cache::index_path(files_[i].path), iec);
        files_[i].size = size + (iec ? 0 : isize);
        ++i;
    }
    // The oldest file no writer holds open, or files_.size().
    auto oldest_closed = [&] {
        size_t i = 0;
        while (i < files_.size() && files_[i].open) ++i;
        return i;
    };
    if (config_.retention_ttl.count() > 0) {
        const int64_t limit = clock_.wall_ns() - std::chrono::nanoseconds(config_.retention_ttl).count();
        for (size_t i = 0; i < files_.size();) {
            if (!files_[i].open && files_[i].last_write_ns < limit) remove_file(i);
            else ++i;
        }
    }
    if (config_.retention_max_bytes > 0) {
        uint64_t total = 0;
        for (const auto& f : files_) total += f.size;
        for (size_t i = oldest_closed(); i < files_.size() && total > config_.retention_max_bytes; i = oldest_closed()) {
            total -= files_[i].size;
            remove_file(i);
        }
    }
    if (config_.retention_min_free_bytes > 0) {
        struct statvfs sv{};
        for (size_t i = oldest_closed(); i < files_.size() && ::statvfs(config_.avro_dir.c_str(), &sv) == 0 &&
                                         static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize < config_.retention_min_free_bytes;
             i = oldest_closed())
            remove_file(i);
    }
    refresh_gauges();
}

void CacheFiles::refresh_gauges() {
    uint64_t total = 0;
    for (const auto& f : files_) total += f.size;
    counters_.files = files_.size();
    counters_.bytes_on_disk = total;
    counters_.oldest_time_ns = files_.empty() ? 0 : files_.front().first_time_ns;
}

}  // namespace speeddata::relay
