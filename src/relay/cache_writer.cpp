#include "relay/cache_writer.hpp"

#include "core/version.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <ctime>

#include <spdlog/spdlog.h>

#include "core/avro/codec.hpp"
#include "core/cache_layout.hpp"
#include "core/time.hpp"

namespace speeddata::relay {

namespace fs = std::filesystem;

int64_t Clock::monotonic_ns() const { return speeddata::monotonic_ns(); }
int64_t Clock::wall_ns() const { return now_ns(); }
const Clock& Clock::real() {
    static const Clock c;
    return c;
}

size_t burst_buffer_bytes(const config::ChannelConfig& config) {
    return std::max(config.burst_buffer_bytes, 2 * config.block_bytes + config.max_datagram_bytes);
}

namespace {

// Writes every byte of the iovecs, retrying EINTR and short writes; 0 or the errno.
int writev_all(int fd, iovec* iov, int n) {
    while (n > 0) {
        ssize_t w = ::writev(fd, iov, std::min(n, IOV_MAX));
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        auto left = static_cast<size_t>(w);
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            ++iov;
            --n;
        }
        if (n > 0) {
            iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

}  // namespace

CacheWriter::CacheWriter(const config::ChannelConfig& config, const avro::Schema& schema, Counters& counters,
                         std::string time_unit, CacheWriterOptions options)
    : config_(config),
      schema_(schema),
      counters_(counters),
      time_unit_(std::move(time_unit)),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : Clock::real()),
      ring_(burst_buffer_bytes(config)) {
    files_ = options_.files;
    if (!files_) {
        own_files_ = std::make_unique<CacheFiles>(config_, counters_, clock_);
        files_ = own_files_.get();
    }
}

CacheWriter::~CacheWriter() { stop(); }

void CacheWriter::append(const uint8_t* p, size_t len, uint64_t records, int64_t min_ns, int64_t max_ns) {
    if (!ring_.append(p, len, records, min_ns, max_ns, clock_.monotonic_ns())) {
        // No room: the writer is behind (slow, stalled or failing disk). The disk misses
        // exactly these records; multicast has them.
        counters_.records_not_written.fetch_add(records, std::memory_order_relaxed);
        return;
    }
    if (ring_.open_bytes() >= config_.block_bytes) ring_.publish();
}

void CacheWriter::flush_if_due(bool force) {
    const int64_t now = clock_.monotonic_ns();
    if (ring_.open_records() > 0 &&
        (force || now - ring_.open_since_mono_ns() >= std::chrono::nanoseconds(config_.flush_interval).count()))
        ring_.publish();
    // Once a second; the ring keeps what was written in the last second (BurstBuffer::trim).
    if (now - last_trim_mono_ns_ >= 1'000'000'000LL) {
        last_trim_mono_ns_ = now;
        ring_.trim();
    }
}

void CacheWriter::scan() {
    if (own_files_) own_files_->scan();
    last_retention_mono_ns_ = clock_.monotonic_ns();
    started_mono_ns_ = clock_.monotonic_ns();
}

void CacheWriter::start() {
    scan();
    if (const char* s = std::getenv("SPEEDDATA_TEST_WRITER_STALL"); s && options_.stall_after_ms < 0) {
        char* end = nullptr;
        options_.stall_after_ms = std::strtoll(s, &end, 10);
        if (end && *end == ':') options_.stall_ms = std::strtoll(end + 1, nullptr, 10);
        spdlog::warn("[{}] test hook: the writer stalls for {} ms, {} ms after start", config_.name,
                     options_.stall_ms, options_.stall_after_ms);
    }
    thread_ = std::thread([this] { run(); });
}

void CacheWriter::stop() {
    stopping_ = true;
    ring_.close();
    if (thread_.joinable()) thread_.join();
}

void CacheWriter::maybe_stall() {
    if (stalled_ || options_.stall_after_ms < 0) return;
    if (clock_.monotonic_ns() - started_mono_ns_ < options_.stall_after_ms * 1'000'000) return;
    stalled_ = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(options_.stall_ms));
}

void CacheWriter::run() {
    for (;;) {
        BlockRef b;
        maybe_stall();
        bool got = ring_.next(b, std::chrono::milliseconds(200));
        if (got) {
            write_block(b);
            ring_.release(b);
        } else if (stopping_ && ring_.queued_blocks() == 0) {
            break;
        }
        housekeeping();
    }
    close_file();
}

void CacheWriter::write_pending() {
    BlockRef b;
    while (ring_.queued_blocks() > 0 && ring_.next(b, std::chrono::milliseconds(0))) {
        write_block(b);
        ring_.release(b);
    }
    housekeeping();
}

void CacheWriter::housekeeping() {
    // An idle file past its rotation time is closed so it does not stay open for days.
    if (file_open_ && config_.rotate_interval.count() > 0 && rotation_due()) close_file();
    int64_t now = clock_.monotonic_ns();
    if (now - last_retention_mono_ns_ >= 10'000'000'000LL) {
        last_retention_mono_ns_ = now;
        files_->apply_retention();
    }
}

void CacheWriter::log_disk_error(const std::string& message) {
    counters_.disk_write_errors.fetch_add(1, std::memory_order_relaxed);
    counters_.disk_ok = false;
    int64_t now = clock_.monotonic_ns();
    if (last_error_log_mono_ns_ == 0 || now - last_error_log_mono_ns_ >= 1'000'000'000LL) {
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
    if (config_.rotate_bytes > 0 && open_size_ >= config_.rotate_bytes) return true;
    if (config_.rotate_interval.count() > 0 &&
        clock_.monotonic_ns() - file_opened_mono_ns_ >= std::chrono::nanoseconds(config_.rotate_interval).count())
        return true;
    return false;
}

bool CacheWriter::open_file() {
    std::error_code ec;
    fs::create_directories(config_.avro_dir, ec);
    int64_t start = clock_.wall_ns();
    fs::path path;
    // Names carry ms; a second file in the same ms (fast rotation, restart) takes the next ms.
    for (int i = 0; i < 1000; ++i, start += 1000000) {
        path = config_.avro_dir / cache::file_name(config_.name, start, options_.stream);
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
        {cache::meta::channel, config_.name},
        {cache::meta::time_field, config_.time_field},
        {cache::meta::time_unit, time_unit_},
        {cache::meta::fingerprint, fmt::format("{:016x}", schema_.fingerprint())},
        {cache::meta::created, format_iso8601(start)},
        {cache::meta::writer, std::string("speeddata relay ") + speeddata::version},
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
    file_end_ = header.size();
    auto ipath = cache::index_path(path);
    index_fd_.reset(::open(ipath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    index_ok_ = index_fd_.valid() && write_all(index_fd_.get(), cache::index_magic, sizeof cache::index_magic) == 0;
    open_path_ = path;
    open_size_ = header.size() + (index_ok_ ? sizeof cache::index_magic : 0);
    files_->opened(path, open_size_, start);
    file_open_ = true;
    file_opened_mono_ns_ = clock_.monotonic_ns();
    counters_.files_created.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("[{}] writing {}", config_.name, path.string());
    files_->apply_retention();
    return true;
}

void CacheWriter::close_file() {
    if (!file_open_) return;
    if (config_.fsync) ::fdatasync(fd_.get());
    fd_.reset();
    index_fd_.reset();
    file_open_ = false;
    encoder_.reset();
    files_->closed(open_path_);
}

void CacheWriter::write_block(const BlockRef& b) {
    if (b.count == 0) return;
    if (rotation_due()) close_file();
    if (!file_open_ && !open_file()) {
        counters_.records_not_written.fetch_add(b.count, std::memory_order_relaxed);
        return;
    }
    auto parts = ring_.data(b);
    iovec iov[4];
    int n = 0;
    uint8_t head[20];
    size_t block_bytes = 0;
    if (config_.codec == avro::Codec::null_codec) {
        // count, size, the datums straight from the ring, the sync marker.
        size_t h = avro::write_long(static_cast<int64_t>(b.count), head);
        h += avro::write_long(static_cast<int64_t>(b.bytes()), head + h);
        iov[n++] = {head, h};
        for (const auto& part : parts)
            if (!part.empty()) iov[n++] = {const_cast<uint8_t*>(part.data()), part.size()};
        const auto& sync = encoder_->sync();
        iov[n++] = {const_cast<uint8_t*>(sync.data()), sync.size()};
        block_bytes = h + b.bytes() + sync.size();
    } else {
        std::span<const uint8_t> data = parts[0];
        if (!parts[1].empty()) {  // compressors want one piece
            contiguous_.assign(reinterpret_cast<const char*>(parts[0].data()), parts[0].size());
            contiguous_.append(reinterpret_cast<const char*>(parts[1].data()), parts[1].size());
            data = {reinterpret_cast<const uint8_t*>(contiguous_.data()), contiguous_.size()};
        }
        if (auto s = encoder_->encode_block(data, b.count, encoded_); !s) {
            log_disk_error("encode block: " + s.message());
            counters_.records_not_written.fetch_add(b.count, std::memory_order_relaxed);
            return;
        }
        iov[n++] = {encoded_.data(), encoded_.size()};
        block_bytes = encoded_.size();
    }
    const uint64_t offset = file_end_;
    if (int err = writev_all(fd_.get(), iov, n); err != 0) {
        // Cut the partial block off so the file stays readable to its end.
        if (::ftruncate(fd_.get(), static_cast<off_t>(offset)) != 0 ||
            ::lseek(fd_.get(), static_cast<off_t>(offset), SEEK_SET) < 0) {
            close_file();  // cannot repair: start a new file next time
        }
        log_disk_error(net::errno_message("write " + open_path_.filename().string(), err));
        counters_.records_not_written.fetch_add(b.count, std::memory_order_relaxed);
        if (err == ENOSPC || err == EDQUOT) files_->apply_retention();
        return;
    }
    file_end_ += block_bytes;
    if (config_.fsync) ::fdatasync(fd_.get());
    counters_.records_written.fetch_add(b.count, std::memory_order_relaxed);
    counters_.blocks_written.fetch_add(1, std::memory_order_relaxed);
    if (!counters_.disk_ok.exchange(true)) spdlog::info("[{}] disk writes succeed again", config_.name);
    uint64_t grown = block_bytes;
    if (index_ok_) {
        uint8_t entry[cache::index_entry_bytes];
        cache::encode_index_entry({offset, b.count, b.min_ns, b.max_ns, block_bytes}, entry);
        if (write_all(index_fd_.get(), entry, sizeof entry) == 0) grown += sizeof entry;
        else index_ok_ = false;  // readers scan past the last indexed block
    }
    open_size_ += grown;
    files_->grew(options_.stream, open_path_, grown, clock_.wall_ns(), b.min_ns, b.max_ns);
}

}  // namespace speeddata::relay
