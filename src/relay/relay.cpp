#include "relay/relay.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <spdlog/spdlog.h>

namespace speeddata::relay {

namespace {

constexpr size_t max_udp_payload = 65507;

Malformed to_malformed(avro::DecodeError e) {
    switch (e) {
        case avro::DecodeError::truncated: return Malformed::truncated;
        case avro::DecodeError::bad_varint: return Malformed::bad_varint;
        case avro::DecodeError::negative_length: return Malformed::negative_length;
        case avro::DecodeError::bad_union_index: return Malformed::bad_union_index;
        case avro::DecodeError::bad_enum_index: return Malformed::bad_enum_index;
        case avro::DecodeError::bad_boolean: return Malformed::bad_boolean;
        case avro::DecodeError::too_deep: return Malformed::too_deep;
        case avro::DecodeError::too_large: return Malformed::too_large;
        case avro::DecodeError::bad_utf8: return Malformed::bad_utf8;
        case avro::DecodeError::none: break;
    }
    return Malformed::truncated;
}

}  // namespace

Relay::Relay(const config::ChannelConfig& config) : config_(config) {}
Relay::~Relay() = default;

Result<std::unique_ptr<Relay>> Relay::create(const config::ChannelConfig& config) {
    std::unique_ptr<Relay> r(new Relay(config));
    auto schema = avro::Schema::load(config.schema_path);
    if (!schema) return Status::error("schema " + schema.message());
    r->schema_ = std::move(*schema);
    const std::string where = "schema " + config.schema_path.string();
    if (r->schema_.root().type != avro::Type::record)
        return Status::error(where + ": a channel's schema must be a record");
    r->validator_ = std::make_unique<avro::Validator>(r->schema_);
    if (r->validator_->validate(nullptr, 0).ok())
        return Status::error(where + ": a datum of this schema can be zero bytes long; add a non-null field");
    r->spans_.resize(r->validator_->field_count());

    if (!config.time_field.empty()) {
        r->time_field_ = r->schema_.field_index(config.time_field);
        if (r->time_field_ < 0)
            return Status::error(where + ": time field '" + config.time_field +
                                 "' not found (set time_field for the channel in relay.yaml)");
        const auto& t = r->schema_.node(r->schema_.root().fields[static_cast<size_t>(r->time_field_)].type);
        switch (t.type) {
            case avro::Type::int_type: case avro::Type::long_type: r->time_kind_ = TimeKind::integer; break;
            case avro::Type::float_type: r->time_kind_ = TimeKind::f32; break;
            case avro::Type::double_type: r->time_kind_ = TimeKind::f64; break;
            default:
                return Status::error(where + ": time field '" + config.time_field + "' must be int, long, float or double");
        }
        r->time_unit_ = time_unit_of(t, config.time_unit);
    }

    net::UdpReceiveOptions ro;
    ro.receive_buffer_bytes = config.receive_buffer_bytes;
    auto sock = net::udp_bind(config.bind, config.port, ro, &r->effective_rcvbuf_);
    if (!sock) return sock.status();
    r->sock_ = std::move(*sock);

    r->batch_ = static_cast<unsigned>(std::clamp(config.batch, 1, 1024));
    // One byte more than the limit so that an oversized datagram is seen, not silently cut.
    r->slot_bytes_ = std::min(config.max_datagram_bytes, max_udp_payload) + 1;
    // Not zero-filled: only the bytes datagrams actually use become resident.
    r->rx_buffers_ = std::make_unique_for_overwrite<uint8_t[]>(r->slot_bytes_ * r->batch_);
    r->rx_msgs_.resize(r->batch_);
    r->rx_iov_.resize(r->batch_);
    r->rx_from_.resize(r->batch_);
    r->control_bytes_ = CMSG_SPACE(sizeof(uint32_t));
    r->rx_control_.resize(r->control_bytes_ * r->batch_);

    const auto& mc = config.multicast;
    r->mcast_on_ = mc.enabled;
    if (r->mcast_on_) {
        auto fd = net::multicast_sender(mc.interface, mc.ttl, mc.loop);
        if (!fd) return Status::error("multicast: " + fd.message());
        r->mcast_fd_ = std::move(*fd);
        auto full = net::ipv4_address(mc.full.group, mc.full.port);
        auto dec = net::ipv4_address(mc.decimated.group, mc.decimated.port);
        if (!full) return Status::error("multicast.full.group: " + full.message());
        if (!dec) return Status::error("multicast.decimated.group: " + dec.message());
        r->full_addr_ = *full;
        r->dec_addr_ = *dec;
        r->full_header_.fingerprint = r->schema_.fingerprint();
        r->full_header_.channel = r->config_.name;
        size_t pack = mc.full_datagram_bytes;
        if (pack == 0) {
            size_t mtu = net::interface_mtu(mc.interface);
            pack = mtu > 28 ? mtu - 28 : 1472;
        }
        r->full_pack_bytes_ = std::min(pack, max_udp_payload);
        r->tx_msgs_.resize(r->batch_);
        r->tx_iov_.resize(2 * r->batch_);
        r->tx_headers_.resize(net::mcast_max_header * r->batch_);
        for (unsigned i = 0; i < r->batch_; ++i)
            net::encode_mcast_header(r->full_header_, &r->tx_headers_[i * net::mcast_max_header]);
        net::McastHeader dh = r->full_header_;
        dh.flags = net::mcast_flag_decimated;
        auto dec_algo = config.decimation_factor > 1 ? config.decimation_algorithm : config::DecimationAlgorithm::downsample;
        if (dec_algo == config::DecimationAlgorithm::minmax) dh.flags |= net::mcast_flag_minmax;
        r->dec_header_len_ = net::encode_mcast_header(dh, r->dec_header_);
        auto d = decimate::Decimator::create(r->schema_, r->time_field_, config.decimation_algorithm,
                                             std::max(1, config.decimation_factor));
        if (!d) return Status::error("decimation: " + d.message());
        r->decimator_ = std::make_unique<decimate::Decimator>(std::move(*d));
        r->dec_out_.reserve(std::max<size_t>(config.multicast.decimated_datagram_bytes, 2048) + 65536);
    }
    r->writer_ = std::make_unique<CacheWriter>(r->config_, r->schema_, r->counters_,
                                               std::string(time_unit_name(r->time_unit_)));
    return r;
}

int64_t Relay::datum_time_ns(const uint8_t* datum) const {
    const auto& s = spans_[static_cast<size_t>(time_field_)];
    switch (time_kind_) {
        case TimeKind::integer: {
            int64_t v = 0;
            avro::read_long(datum + s.offset, datum + s.offset + s.length, v);
            return to_ns(v, time_unit_);
        }
        case TimeKind::f32: return to_ns(static_cast<double>(avro::read_float(datum + s.offset)), time_unit_);
        case TimeKind::f64: return to_ns(avro::read_double(datum + s.offset), time_unit_);
        case TimeKind::none: break;
    }
    return 0;
}

// Validates every datum of a datagram. Nothing is changed unless all of them are valid, so
// a bad datagram is dropped whole and the cache never holds a record a reader cannot decode.
bool Relay::check_datagram(const uint8_t* p, size_t len, uint64_t& records, int64_t& min_ns, int64_t& max_ns,
                           Malformed& why, size_t& where) {
    records = 0;
    size_t off = 0;
    while (off < len) {
        auto r = validator_->validate(p + off, len - off, spans_.data());
        if (!r.ok()) {
            why = to_malformed(r.error);
            where = off + r.error_offset;
            return false;
        }
        if (time_kind_ != TimeKind::none) {
            int64_t t = datum_time_ns(p + off);
            min_ns = std::min(min_ns, t);
            max_ns = std::max(max_ns, t);
        }
        off += r.consumed;
        ++records;
    }
    return true;
}

void Relay::append_to_block(const uint8_t* p, size_t len, uint64_t records, int64_t min_ns, int64_t max_ns) {
    if (!block_) block_ = writer_->acquire();
    if (!block_) {  // the writer is behind (slow or failing disk): the disk misses these
        counters_.records_not_written.fetch_add(records, std::memory_order_relaxed);
        return;
    }
    if (block_->count == 0) block_->opened_mono_ns = monotonic_ns();
    block_->data.append(reinterpret_cast<const char*>(p), len);
    block_->count += records;
    block_->min_ns = std::min(block_->min_ns, min_ns);
    block_->max_ns = std::max(block_->max_ns, max_ns);
    if (block_->data.size() >= config_.block_bytes) {
        writer_->submit(std::move(block_));
        block_ = writer_->acquire();
    }
}

void Relay::flush_block_if_due(bool force) {
    if (!block_ || block_->count == 0) return;
    if (force || monotonic_ns() - block_->opened_mono_ns >= std::chrono::nanoseconds(config_.flush_interval).count()) {
        writer_->submit(std::move(block_));
        block_ = writer_->acquire();
    }
}

void Relay::queue_full(const uint8_t* p, size_t len, uint16_t records) {
    const size_t hlen = net::mcast_fixed_header + config_.name.size();
    if (hlen + len > max_udp_payload) {
        // Too big with our header: resend its datums in several datagrams, in order.
        send_full();
        uint8_t header[net::mcast_max_header];
        net::encode_mcast_header(full_header_, header);
        size_t off = 0;
        while (off < len) {
            size_t start = off;
            uint16_t n = 0;
            while (off < len) {
                auto r = validator_->validate(p + off, len - off);
                if (off + r.consumed - start + hlen > max_udp_payload && n > 0) break;
                off += r.consumed;
                ++n;
            }
            net::patch_mcast_header(header, full_seq_++, n);
            iovec iov[2] = {{header, hlen}, {const_cast<uint8_t*>(p + start), off - start}};
            msghdr m{};
            m.msg_name = &full_addr_;
            m.msg_namelen = sizeof full_addr_;
            m.msg_iov = iov;
            m.msg_iovlen = 2;
            if (::sendmsg(mcast_fd_.get(), &m, 0) < 0) counters_.mcast_errors.fetch_add(1, std::memory_order_relaxed);
            else counters_.mcast_full_datagrams.fetch_add(1, std::memory_order_relaxed);
        }
        return;
    }
    if (tx_open_ && (tx_open_bytes_ + len > full_pack_bytes_ || tx_open_records_ + records > UINT16_MAX))
        close_full_message();
    if (!tx_open_) {
        tx_open_ = true;
        tx_open_bytes_ = hlen;
        tx_open_records_ = 0;
        msghdr& m = tx_msgs_[tx_count_].msg_hdr;
        m = msghdr{};
        m.msg_name = &full_addr_;
        m.msg_namelen = sizeof full_addr_;
        m.msg_iov = &tx_iov_[tx_iov_used_];
        m.msg_iovlen = 1;
        tx_iov_[tx_iov_used_++] = {&tx_headers_[tx_count_ * net::mcast_max_header], hlen};
    }
    tx_iov_[tx_iov_used_++] = {const_cast<uint8_t*>(p), len};
    tx_msgs_[tx_count_].msg_hdr.msg_iovlen++;
    tx_open_bytes_ += len;
    tx_open_records_ += records;
}

void Relay::close_full_message() {
    if (!tx_open_) return;
    net::patch_mcast_header(&tx_headers_[tx_count_ * net::mcast_max_header], full_seq_++,
                            static_cast<uint16_t>(tx_open_records_));
    ++tx_count_;
    tx_open_ = false;
}

void Relay::send_full() {
    close_full_message();
    unsigned done = 0;
    while (done < tx_count_) {
        int n = ::sendmmsg(mcast_fd_.get(), &tx_msgs_[done], tx_count_ - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            counters_.mcast_errors.fetch_add(tx_count_ - done, std::memory_order_relaxed);
            break;
        }
        done += static_cast<unsigned>(n);
        counters_.mcast_full_datagrams.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    }
    tx_count_ = 0;
    tx_iov_used_ = 0;
}

void Relay::decimate(const uint8_t* p, size_t len, bool spans_valid) {
    const size_t limit = std::max<size_t>(config_.multicast.decimated_datagram_bytes, dec_header_len_ + 1);
    size_t off = 0;
    while (off < len) {
        size_t consumed = len;
        if (!spans_valid) consumed = validator_->validate(p + off, len - off, spans_.data()).consumed;
        size_t before = dec_out_.size();
        int k = decimator_->push(p + off, consumed, spans_.data(), dec_out_);
        if (k > 0) {
            // Send what was there; the new outputs (a minmax pair stays together) start the next one.
            if (before > 0 && dec_header_len_ + dec_out_.size() > limit) send_decimated_prefix(before);
            dec_records_ = static_cast<uint16_t>(dec_records_ + k);
        }
        off += consumed;
    }
}

// Sends the first `bytes` of dec_out_ (holding dec_records_ records) as one decimated datagram.
void Relay::send_decimated_prefix(size_t bytes) {
    net::patch_mcast_header(dec_header_, dec_seq_++, dec_records_);
    iovec iov[2] = {{dec_header_, dec_header_len_}, {dec_out_.data(), bytes}};
    msghdr m{};
    m.msg_name = &dec_addr_;
    m.msg_namelen = sizeof dec_addr_;
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    if (::sendmsg(mcast_fd_.get(), &m, 0) < 0) counters_.mcast_errors.fetch_add(1, std::memory_order_relaxed);
    else counters_.mcast_decimated_datagrams.fetch_add(1, std::memory_order_relaxed);
    counters_.mcast_decimated_records.fetch_add(dec_records_, std::memory_order_relaxed);
    dec_out_.erase(0, bytes);
    dec_records_ = 0;
}

void Relay::send_decimated() {
    if (dec_records_ > 0) send_decimated_prefix(dec_out_.size());
}

void Relay::report_malformed(Malformed why, size_t where, size_t len, const sockaddr_in& from) {
    counters_.malformed.fetch_add(1, std::memory_order_relaxed);
    counters_.malformed_by_kind[static_cast<size_t>(why)].fetch_add(1, std::memory_order_relaxed);
    int64_t now = monotonic_ns();
    if (now - last_malformed_log_ns_ < 1'000'000'000LL) {
        ++malformed_suppressed_;
        return;
    }
    std::string detail = why == Malformed::oversized ? fmt::format("larger than max_datagram ({} bytes)", config_.max_datagram_bytes)
                         : why == Malformed::empty   ? std::string("empty datagram")
                                                     : fmt::format("{} at byte {}", malformed_name(why), where);
    spdlog::warn("[{}] dropped malformed datagram from {} ({} bytes): {}{}", config_.name, net::to_string(from), len,
                 detail,
                 malformed_suppressed_ ? fmt::format(" ({} more dropped since the last report)", malformed_suppressed_)
                                       : std::string());
    last_malformed_log_ns_ = now;
    malformed_suppressed_ = 0;
}

void Relay::process_batch(unsigned n) {
    uint64_t datagrams = 0, records = 0, bytes = 0;
    for (unsigned i = 0; i < n; ++i) {
        const mmsghdr& mm = rx_msgs_[i];
        const uint8_t* p = rx_buffers_.get() + i * slot_bytes_;
        const size_t len = mm.msg_len;
        for (cmsghdr* c = CMSG_FIRSTHDR(&mm.msg_hdr); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&mm.msg_hdr), c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
                uint32_t drops = 0;
                std::memcpy(&drops, CMSG_DATA(c), sizeof drops);
                if (drops > last_kernel_drops_) {
                    counters_.kernel_drops.fetch_add(drops - last_kernel_drops_, std::memory_order_relaxed);
                    last_kernel_drops_ = drops;
                }
            }
        }
        if ((mm.msg_hdr.msg_flags & MSG_TRUNC) || len > config_.max_datagram_bytes) {
            report_malformed(Malformed::oversized, 0, len, rx_from_[i]);
            continue;
        }
        if (len == 0) {
            report_malformed(Malformed::empty, 0, 0, rx_from_[i]);
            continue;
        }
        uint64_t nrec = 0;
        int64_t min_ns = INT64_MAX, max_ns = INT64_MIN;
        Malformed why{};
        size_t where = 0;
        if (!check_datagram(p, len, nrec, min_ns, max_ns, why, where)) {
            report_malformed(why, where, len, rx_from_[i]);
            continue;
        }
        if (time_kind_ == TimeKind::none) min_ns = max_ns = now_ns();
        ++datagrams;
        records += nrec;
        bytes += len;
        append_to_block(p, len, nrec, min_ns, max_ns);
        if (mcast_on_) {
            queue_full(p, len, static_cast<uint16_t>(nrec));
            decimate(p, len, nrec == 1);  // a lone datum's spans are still in spans_
        }
    }
    if (mcast_on_) {
        send_full();
        send_decimated();
    }
    counters_.datagrams.fetch_add(datagrams, std::memory_order_relaxed);
    counters_.records.fetch_add(records, std::memory_order_relaxed);
    counters_.bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void Relay::publish_status(double interval_s, bool log_line) {
    nlohmann::json snap = snapshot(counters_);
    nlohmann::json rates = nlohmann::json::object();
    if (!last_snapshot_.is_null() && interval_s > 0) {
        for (const char* k : {"datagrams", "records", "bytes", "malformed", "kernel_drops", "records_written",
                              "multicast_full_datagrams", "multicast_decimated_datagrams"}) {
            rates[k] = (snap[k].get<double>() - last_snapshot_[k].get<double>()) / interval_s;
        }
    }
    nlohmann::json status = {
        {"channel", config_.name},
        {"pid", ::getpid()},
        {"bind", config_.bind},
        {"port", config_.port},
        {"schema", config_.schema_path.string()},
        {"fingerprint", fmt::format("{:016x}", schema_.fingerprint())},
        {"started", format_iso8601(started_ns_)},
        {"updated", format_iso8601(now_ns())},
        {"updated_ns", now_ns()},
        {"uptime_s", static_cast<double>(now_ns() - started_ns_) / 1e9},
        {"receive_buffer_bytes", effective_rcvbuf_},
        {"avro_dir", config_.avro_dir.string()},
        {"multicast",
         {{"enabled", mcast_on_},
          {"full", fmt::format("{}:{}", config_.multicast.full.group, config_.multicast.full.port)},
          {"decimated", fmt::format("{}:{}", config_.multicast.decimated.group, config_.multicast.decimated.port)},
          {"interface", config_.multicast.interface}}},
        {"decimation",
         {{"factor", config_.decimation_factor},
          {"algorithm", std::string(config::algorithm_name(config_.decimation_algorithm))}}},
        {"counters", snap},
        {"rates", rates},
    };
    write_json_atomically(config_.status_file, status);
    if (log_line && !rates.empty()) {
        spdlog::info("[{}] {:.0f} dgram/s {:.0f} rec/s {}/s | malformed {} | kernel drops {} | {} files, {} on disk{} | "
                     "mcast {:.0f}+{:.0f} dgram/s",
                     config_.name, rates["datagrams"].get<double>(), rates["records"].get<double>(),
                     human_bytes(rates["bytes"].get<double>()), snap["malformed"].get<uint64_t>(),
                     snap["kernel_drops"].get<uint64_t>(), snap["files"].get<uint64_t>(),
                     human_bytes(snap["bytes_on_disk"].get<double>()),
                     snap["records_not_written"].get<uint64_t>() ? fmt::format(", {} records NOT written",
                                                                                snap["records_not_written"].get<uint64_t>())
                                                                  : std::string(),
                     rates["multicast_full_datagrams"].get<double>(), rates["multicast_decimated_datagrams"].get<double>());
    }
    last_snapshot_ = std::move(snap);
}

void Relay::monitor_loop(const std::atomic<bool>& stop) {
    int64_t last = monotonic_ns();
    int64_t last_log = last;
    const int64_t log_every = std::chrono::nanoseconds(config_.stats_interval).count();
    publish_status(0, false);
    while (!stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        int64_t now = monotonic_ns();
        if (now - last < 1'000'000'000LL) continue;
        bool log = log_every > 0 && now - last_log >= log_every;
        if (log) last_log = now;
        publish_status(static_cast<double>(now - last) / 1e9, log);
        last = now;
    }
}

int Relay::run(const std::atomic<bool>& stop) {
    started_ns_ = now_ns();
    writer_->start();
    block_ = writer_->acquire();
    spdlog::info("[{}] listening on udp {}:{} (receive buffer {}), schema {} fingerprint {:016x}; multicast {}",
                 config_.name, config_.bind, config_.port, human_bytes(static_cast<double>(effective_rcvbuf_)),
                 config_.schema_path.string(), schema_.fingerprint(),
                 mcast_on_ ? fmt::format("full {}:{} decimated {}:{} ({} x{}) via {}", config_.multicast.full.group,
                                         config_.multicast.full.port, config_.multicast.decimated.group,
                                         config_.multicast.decimated.port,
                                         config::algorithm_name(config_.decimation_algorithm),
                                         config_.decimation_factor, config_.multicast.interface)
                           : std::string("off"));
    std::thread monitor([&] { monitor_loop(stop); });
    while (!stop.load(std::memory_order_relaxed)) {
        for (unsigned i = 0; i < batch_; ++i) {
            rx_iov_[i] = {rx_buffers_.get() + i * slot_bytes_, slot_bytes_};
            msghdr& m = rx_msgs_[i].msg_hdr;
            m.msg_name = &rx_from_[i];
            m.msg_namelen = sizeof(sockaddr_in);
            m.msg_iov = &rx_iov_[i];
            m.msg_iovlen = 1;
            m.msg_control = &rx_control_[i * control_bytes_];
            m.msg_controllen = control_bytes_;
            m.msg_flags = 0;
            rx_msgs_[i].msg_len = 0;
        }
        int n = ::recvmmsg(sock_.get(), rx_msgs_.data(), batch_, MSG_WAITFORONE, nullptr);
        if (n > 0) process_batch(static_cast<unsigned>(n));
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            spdlog::error("[{}] {}", config_.name, net::errno_message("recvmmsg"));
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        flush_block_if_due(false);
    }
    flush_block_if_due(true);
    writer_->stop();
    monitor.join();
    publish_status(0, false);
    spdlog::info("[{}] stopped: {} records received, {} written, {} not written, {} malformed", config_.name,
                 counters_.records.load(), counters_.records_written.load(), counters_.records_not_written.load(),
                 counters_.malformed.load());
    return 0;
}

}  // namespace speeddata::relay
