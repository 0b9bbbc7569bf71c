#include "relay/cache_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include <spdlog/spdlog.h>

#include "core/cache_layout.hpp"
#include "core/time.hpp"

namespace speeddata::relay {

namespace fs = std::filesystem;

int64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

CacheWriter::CacheWriter(const config::ChannelConfig& config, const avro::Schema& schema, Counters& counters,
                         std::string time_unit, size_t pool_blocks)
    : config_(config), schema_(schema), counters_(counters), time_unit_(std::move(time_unit)) {
    for (size_t i = 0; i < pool_blocks; ++i) {
        auto b = std::make_unique<Block>();
        b->data.reserve(config.block_bytes + config.max_datagram_bytes);
        free_.push_back(std::move(b));
    }
}

CacheWriter::~CacheWriter() { stop(); }

void CacheWriter::start() {
    std::error_code ec;
    fs::create_directories(config_.avro_dir, ec);
    for (const auto& f : cache::list_files(config_.avro_dir, config_.name)) {
        FileState s;
        s.path = f.path;
        s.start_ns = f.start_ns;
        s.size = fs::file_size(f.path, ec);
        auto idx = cache::read_index(cache::index_path(f.path));
        s.first_time_ns = idx.empty() ? f.start_ns : idx.front().min_ns;
        files_.push_back(s);
    }
    refresh_gauges();
    thread_ = std::thread([this] { run(); });
}

void CacheWriter::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::unique_ptr<Block> CacheWriter::acquire() {
    std::lock_guard lock(mu_);
    if (free_.empty()) return nullptr;
    auto b = std::move(free_.back());
    free_.pop_back();
    b->clear();
    return b;
}

void CacheWriter::submit(std::unique_ptr<Block> block) {
    {
        std::lock_guard lock(mu_);
        queue_.push_back(std::move(block));
    }
    cv_.notify_one();
}

void CacheWriter::run() {
    for (;;) {
        std::unique_ptr<Block> b;
        {
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !queue_.empty(); });
            if (!queue_.empty()) {
                b = std::move(queue_.front());
                queue_.pop_front();
            } else if (stopping_) {
                break;
            }
        }
        if (b) {
            write_block(*b);
            b->clear();
            std::lock_guard lock(mu_);
            free_.push_back(std::move(b));
        }
        // An idle file past its rotation time is closed so it does not stay open for days.
        if (file_open_ && config_.rotate_interval.count() > 0 && rotation_due()) close_file();
        int64_t now = monotonic_ns();
        if (now - last_retention_mono_ns_ > 10'000'000'000LL) {
            last_retention_mono_ns_ = now;
            apply_retention();
        }
    }
    close_file();
}

void CacheWriter::log_disk_error(const std::string& message) {
    counters_.disk_write_errors.fetch_add(1, std::memory_order_relaxed);
    counters_.disk_ok = false;
    int64_t now = monotonic_ns();
    if (now - last_error_log_mono_ns_ >= 1'000'000'000LL) {
        if (suppressed_errors_ > 0)
            spdlog::error("[{}] {} (and {} more disk errors in the last second; multicast continues)", config_.name,
                          message, suppressed_errors_);
        else
            spdlog::error("[{}] {} (multicast continues; records not written are counted)", config_.name, message);
        last_error_log_mono_ns_ = now;
        suppressed_errors_ = 0;
    } else {
        ++suppressed_errors_;
    }
}

bool CacheWriter::rotation_due() const {
    if (!file_open_) return false;
    const auto& f = files_.back();
    if (config_.rotate_bytes > 0 && f.size >= config_.rotate_bytes) return true;
    if (config_.rotate_interval.count() > 0 &&
        monotonic_ns() - file_opened_mono_ns_ >= std::chrono::nanoseconds(config_.rotate_interval).count())
        return true;
    return false;
}

bool CacheWriter::open_file() {
    std::error_code ec;
    fs::create_directories(config_.avro_dir, ec);
    int64_t start = now_ns();
    fs::path path;
    // Names carry ms; a second file in the same ms (fast rotation, restart) takes the next ms.
    for (int i = 0; i < 1000; ++i, start += 1000000) {
        path = config_.avro_dir / cache::file_name(config_.name, start);
        if (!fs::exists(path, ec)) break;
    }
    net::Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) {
        log_disk_error(net::errno_message("open " + path.string()));
        return false;
    }
    avro::BlockEncoderOptions opts;
    opts.codec = config_.codec;
    opts.level = config_.codec_level;
    opts.metadata = {
        {"speeddata.channel", config_.name},
        {"speeddata.time_field", config_.time_field},
        {"speeddata.time_unit", time_unit_},
        {"speeddata.fingerprint", fmt::format("{:016x}", schema_.fingerprint())},
        {"speeddata.created", format_iso8601(start)},
        {"speeddata.writer", "speeddata relay 0.6.0"},
    };
    avro::BlockEncoder enc(schema_, opts);
    std::string header = enc.header();
    if (int err = write_all(fd.get(), header.data(), header.size()); err != 0) {
        log_disk_error(net::errno_message("write header " + path.string(), err));
        fd.reset();
        ::unlink(path.c_str());
        return false;
    }
    encoder_.emplace(std::move(enc));
    fd_ = std::move(fd);
    auto ipath = cache::index_path(path);
    index_fd_.reset(::open(ipath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    index_ok_ = index_fd_.valid() && write_all(index_fd_.get(), cache::index_magic, sizeof cache::index_magic) == 0;
    FileState s;
    s.path = path;
    s.size = header.size() + (index_ok_ ? sizeof cache::index_magic : 0);
    s.start_ns = start;
    files_.push_back(s);
    file_open_ = true;
    file_opened_mono_ns_ = monotonic_ns();
    counters_.files_created.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("[{}] writing {}", config_.name, path.string());
    apply_retention();
    refresh_gauges();
    return true;
}

void CacheWriter::close_file() {
    if (!file_open_) return;
    if (config_.fsync) ::fdatasync(fd_.get());
    fd_.reset();
    index_fd_.reset();
    file_open_ = false;
    encoder_.reset();
}

void CacheWriter::write_block(Block& b) {
    if (b.count == 0) return;
    if (rotation_due()) close_file();
    if (!file_open_ && !open_file()) {
        counters_.records_not_written.fetch_add(b.count, std::memory_order_relaxed);
        return;
    }
    FileState& f = files_.back();
    auto data = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.data.data()), b.data.size());
    if (auto s = encoder_->encode_block(data, b.count, encoded_); !s) {
        log_disk_error("encode block: " + s.message());
        counters_.records_not_written.fetch_add(b.count, std::memory_order_relaxed);
        return;
    }
    // Blocks are appended: the file's end is where this one starts.
    off_t offset = ::lseek(fd_.get(), 0, SEEK_END);
    if (int err = write_all(fd_.get(), encoded_.data(), encoded_.size()); err != 0) {
        // Cut the partial block off so the file stays readable to its end.
        if (::ftruncate(fd_.get(), offset) != 0) {
            close_file();  // cannot repair: start a new file next time
        }
        log_disk_error(net::errno_message("write " + f.path.filename().string(), err));
        counters_.records_not_written.fetch_add(b.count, std::memory_order_relaxed);
        if (err == ENOSPC || err == EDQUOT) apply_retention();
        return;
    }
    if (config_.fsync) ::fdatasync(fd_.get());
    counters_.records_written.fetch_add(b.count, std::memory_order_relaxed);
    counters_.blocks_written.fetch_add(1, std::memory_order_relaxed);
    if (!counters_.disk_ok.exchange(true)) spdlog::info("[{}] disk writes succeed again", config_.name);
    f.size += encoded_.size();
    if (f.first_time_ns == 0) f.first_time_ns = b.min_ns;
    if (index_ok_) {
        uint8_t entry[cache::index_entry_bytes];
        cache::encode_index_entry({static_cast<uint64_t>(offset), b.count, b.min_ns, b.max_ns, encoded_.size()}, entry);
        if (write_all(index_fd_.get(), entry, sizeof entry) == 0) f.size += sizeof entry;
        else index_ok_ = false;  // readers scan past the last indexed block
    }
    counters_.newest_time_ns = b.max_ns;
    refresh_gauges();
}

void CacheWriter::remove_file(size_t i) {
    std::error_code ec;
    fs::remove(files_[i].path, ec);
    fs::remove(cache::index_path(files_[i].path), ec);
    spdlog::info("[{}] retention removed {}", config_.name, files_[i].path.filename().string());
    counters_.files_deleted.fetch_add(1, std::memory_order_relaxed);
    files_.erase(files_.begin() + static_cast<std::ptrdiff_t>(i));
}

// Removes the oldest closed files while any retention limit is exceeded: age (TTL, by last
// modification), the channel's quota, and the filesystem's minimum free space.
void CacheWriter::apply_retention() {
    const size_t closed = files_.size() - (file_open_ ? 1 : 0);
    size_t removable = closed;
    std::error_code ec;
    if (config_.retention_ttl.count() > 0) {
        auto limit = fs::file_time_type::clock::now() - config_.retention_ttl;
        for (size_t i = 0; i < removable;) {
            auto mtime = fs::last_write_time(files_[i].path, ec);
            if (!ec && mtime < limit) {
                remove_file(i);
                --removable;
            } else {
                ++i;
            }
        }
    }
    if (config_.retention_max_bytes > 0) {
        uint64_t total = 0;
        for (const auto& f : files_) total += f.size;
        while (removable > 0 && total > config_.retention_max_bytes) {
            total -= files_.front().size;
            remove_file(0);
            --removable;
        }
    }
    if (config_.retention_min_free_bytes > 0) {
        struct statvfs sv{};
        while (removable > 0 && ::statvfs(config_.avro_dir.c_str(), &sv) == 0 &&
               static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize < config_.retention_min_free_bytes) {
            remove_file(0);
            --removable;
        }
    }
    refresh_gauges();
}

void CacheWriter::refresh_gauges() {
    uint64_t total = 0;
    for (const auto& f : files_) total += f.size;
    counters_.files = files_.size();
    counters_.bytes_on_disk = total;
    counters_.oldest_time_ns = files_.empty() ? 0 : files_.front().first_time_ns;
}

}  // namespace speeddata::relay
