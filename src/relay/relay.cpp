#include "relay/relay.hpp"

#include <unistd.h>

#include <algorithm>
#include <new>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/cache_layout.hpp"
#include "relay/status_publisher.hpp"

namespace speeddata::relay {

Relay::Relay(const config::ChannelConfig& config) : config_(config) {}
Relay::~Relay() = default;

Result<std::unique_ptr<Relay>> Relay::create(const config::ChannelConfig& config) {
    std::unique_ptr<Relay> r(new Relay(config));
    // First, so that a second relay of the channel fails before it touches anything: with
    // SO_REUSEPORT it could otherwise join the port and take datagrams from the first.
    auto lock = LockFile::acquire(config.status_file.parent_path() / (config.name + ".lock"),
                                  fmt::format("pid {}", ::getpid()));
    if (!lock) {
        if (lock.code() == StatusCode::conflict) return Status::error("already running (" + lock.message() + ")");
        return lock.status();
    }
    r->lock_ = std::move(*lock);

    auto schema = avro::Schema::load(config.schema_path);
    if (!schema) return Status::error("schema " + schema.message());
    r->schema_ = std::move(*schema);
    const std::string where = "schema " + config.schema_path.string();
    if (r->schema_.root().type != avro::Type::record)
        return Status::error(where + ": a channel's schema must be a record");
    {
        avro::Validator v(r->schema_);
        if (v.validate(nullptr, 0).ok())
            return Status::error(where + ": a datum of this schema can be zero bytes long; add a non-null field");
    }
    int time_field = -1;
    if (!config.time_field.empty()) {
        time_field = r->schema_.field_index(config.time_field);
        if (time_field < 0)
            return Status::error(where + ": time field '" + config.time_field +
                                 "' not found (set time_field for the channel in relay.yaml)");
        const auto& t = r->schema_.node(r->schema_.root().fields[static_cast<size_t>(time_field)].type);
        r->time_unit_ = time_unit_of(t, config.time_unit);
    }
    std::vector<DatagramChecker> checkers;  // one per thread: a checker keeps the spans of what it checks
    const unsigned threads = static_cast<unsigned>(std::clamp(config.receive_threads, 1, int(cache::max_streams)));
    for (unsigned k = 0; k < threads; ++k) {
        auto checker = DatagramChecker::create(r->schema_, time_field, r->time_unit_, config.max_datagram_bytes);
        if (!checker)
            return Status::error(where + ": time field '" + config.time_field + "' must be int, long, float or double");
        checkers.push_back(std::move(*checker));
    }

    std::vector<net::Fd> sockets;
    net::UdpReceiveOptions ro;
    ro.receive_buffer_bytes = config.receive_buffer_bytes;
    ro.reuse_port = threads > 1;
    for (unsigned k = 0; k < threads; ++k) {
        auto sock = net::udp_bind(config.bind, config.port, ro, k == 0 ? &r->effective_rcvbuf_ : nullptr);
        if (!sock) return sock.status();
        if (k == 0 && threads > 1) {
            if (auto st = net::spread_at_random(sock->get(), threads); !st) return st;
        }
        sockets.push_back(std::move(*sock));
    }

    if (config.multicast.enabled) {
        const unsigned batch = static_cast<unsigned>(std::clamp(config.batch, 1, 1024));
        auto m = MulticastOut::create(r->config_, r->schema_, time_field, batch);
        if (!m) return m.status();
        r->mcast_ = std::move(*m);
    }
    r->files_ = std::make_unique<CacheFiles>(r->config_, r->counters_, Clock::real());
    try {
        for (unsigned k = 0; k < threads; ++k) {
            CacheWriterOptions o;
            o.stream = k;
            o.files = r->files_.get();
            r->writers_.push_back(std::make_unique<CacheWriter>(r->config_, r->schema_, r->counters_,
                                                                std::string(time_unit_name(r->time_unit_)), o));
        }
    } catch (const std::bad_alloc&) {  // a burst buffer's address space could not be reserved
        return Status::error(fmt::format("burst_buffer: cannot reserve {} bytes of address space{}",
                                         burst_buffer_bytes(config),
                                         threads > 1 ? fmt::format(" (one per receive thread, {} threads)", threads)
                                                     : std::string()));
    }
    r->malformed_log_ = std::make_unique<MalformedLog>(r->config_.name, r->config_.max_datagram_bytes);
    for (unsigned k = 0; k < threads; ++k) {
        r->receivers_.push_back(std::make_unique<Receiver>(r->config_, std::move(checkers[k]), std::move(sockets[k]),
                                                           *r->writers_[k], r->mcast_.get(), r->counters_,
                                                           *r->malformed_log_));
    }
    return r;
}

int Relay::run(const std::atomic<bool>& stop) {
    files_->scan();
    for (auto& w : writers_) w->start();
    StatusInfo info;
    info.fingerprint = schema_.fingerprint();
    info.receive_buffer_bytes = effective_rcvbuf_;
    info.multicast_on = mcast_ != nullptr;
    info.burst_buffer_bytes = writers_.front()->buffer_bytes();
    info.receive_threads = static_cast<unsigned>(receivers_.size());
    StatusPublisher status(config_, counters_, info);
    const auto& mc = config_.multicast;
    auto stream_text = [](const config::MulticastStream& s) {
        return fmt::format("{}:{}{}", s.group, s.port, s.format == config::StreamFormat::raw ? " (raw)" : "");
    };
    spdlog::info("[{}] listening on udp {}:{} ({}receive buffer {}), schema {} fingerprint {:016x}; multicast {}",
                 config_.name, config_.bind, config_.port,
                 receivers_.size() > 1 ? fmt::format("{} receive threads, each: ", receivers_.size()) : std::string(),
                 human_bytes(static_cast<double>(effective_rcvbuf_)), config_.schema_path.string(),
                 schema_.fingerprint(),
                 mcast_ ? fmt::format("full {} decimated {} ({} x{}) via {}", stream_text(mc.full),
                                      stream_text(mc.decimated), config::algorithm_name(config_.decimation_algorithm),
                                      config_.decimation_factor, mc.interface)
                        : std::string("off"));
    status.start(stop);
    std::vector<std::thread> threads;
    for (size_t k = 1; k < receivers_.size(); ++k) threads.emplace_back([this, k, &stop] { receivers_[k]->run(stop); });
    receivers_.front()->run(stop);
    for (auto& t : threads) t.join();
    for (auto& w : writers_) w->stop();
    status.join();
    status.publish(0, false);
    spdlog::info("[{}] stopped: {} records received, {} written, {} not written, {} malformed", config_.name,
                 counters_.records.load(), counters_.records_written.load(), counters_.records_not_written.load(),
                 counters_.malformed.load());
    return 0;
}

}  // namespace speeddata::relay
