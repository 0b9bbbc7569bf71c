#include "relay/multicast_out.hpp"

#include <algorithm>

namespace speeddata::relay {

MulticastOut::MulticastOut(const avro::Schema& schema, decimate::Decimator decimator)
    : splitter_(schema), decimator_(std::move(decimator)) {}

Result<std::unique_ptr<MulticastOut>> MulticastOut::create(const config::ChannelConfig& config,
                                                           const avro::Schema& schema, int time_field, unsigned batch) {
    const auto& mc = config.multicast;
    auto d = decimate::Decimator::create(schema, time_field, config.decimation_algorithm,
                                         std::max(1, config.decimation_factor));
    if (!d) return Status::error("decimation: " + d.message());
    std::unique_ptr<MulticastOut> m(new MulticastOut(schema, std::move(*d)));
    auto fd = net::multicast_sender(mc.interface, mc.ttl, mc.loop);
    if (!fd) return Status::error("multicast: " + fd.message());
    m->fd_ = std::move(*fd);
    auto full = net::ipv4_address(mc.full.group, mc.full.port);
    auto dec = net::ipv4_address(mc.decimated.group, mc.decimated.port);
    if (!full) return Status::error("multicast.full.group: " + full.message());
    if (!dec) return Status::error("multicast.decimated.group: " + dec.message());

    net::McastHeader fh;
    fh.fingerprint = schema.fingerprint();
    fh.channel = config.name;
    if (mc.full.format == config::StreamFormat::raw) {
        m->full_raw_ = std::make_unique<RawPacker>(m->splitter_, *full);
    } else {
        size_t pack = mc.full_datagram_bytes;
        if (pack == 0) {
            size_t mtu = net::interface_mtu(mc.interface);
            pack = mtu > 28 ? mtu - 28 : 1472;
        }
        m->full_ = std::make_unique<FullPacker>(fh, pack, batch, m->splitter_, *full);
    }
    if (mc.decimated.format == config::StreamFormat::raw) {
        m->dec_raw_ = std::make_unique<RawPacker>(m->splitter_, *dec);
    } else {
        net::McastHeader dh = fh;
        dh.flags = net::mcast_flag_decimated;
        auto algo = config.decimation_factor > 1 ? config.decimation_algorithm : config::DecimationAlgorithm::downsample;
        if (algo == config::DecimationAlgorithm::minmax) dh.flags |= net::mcast_flag_minmax;
        m->dec_ = std::make_unique<DecimatedPacker>(dh, mc.decimated_datagram_bytes, *dec);
    }
    return m;
}

void MulticastOut::decimate(const CheckedBatch& batch) {
    std::string& out = dec_ ? dec_->out() : dec_raw_->out();
    const size_t n = batch.datums.size();
    size_t datum = 0;
    for (const auto& d : batch.datagrams) {
        for (uint32_t k = 0; k < d.records && datum < n; ++k, ++datum) {
            const auto& ref = batch.datums[datum];
            const size_t before = out.size();
            const int emitted = decimator_.push(d.p + ref.offset, ref.size, batch.spans_of(datum), out);
            if (dec_) dec_->appended(before, emitted);
            else dec_raw_->appended(before, emitted);
        }
    }
}

void MulticastOut::send(const CheckedBatch& batch, Counters& counters) {
    if (batch.datagrams.empty()) return;
    std::lock_guard lock(mu_);
    for (const auto& d : batch.datagrams) {
        if (full_) {
            full_->add(d.p, d.len, static_cast<uint16_t>(std::min<uint32_t>(d.records, UINT16_MAX)));
        } else {
            for (uint32_t k = 0; k < d.records; ++k) {
                const auto& ref = batch.datums[d.first_datum + k];
                full_raw_->add(d.p + ref.offset, ref.size);
            }
        }
    }
    decimate(batch);

    uint64_t errors = 0;
    unsigned sent = send_messages(fd_.get(), full_ ? full_->finish() : full_raw_->finish(), errors);
    if (full_) full_->clear();
    else full_raw_->clear();
    counters.mcast_full_datagrams.fetch_add(sent, std::memory_order_relaxed);

    const uint64_t dec_records = dec_ ? dec_->pending_records() : dec_raw_->pending();
    sent = send_messages(fd_.get(), dec_ ? dec_->finish() : dec_raw_->finish(), errors);
    if (dec_) dec_->clear();
    else dec_raw_->clear();
    counters.mcast_decimated_datagrams.fetch_add(sent, std::memory_order_relaxed);
    counters.mcast_decimated_records.fetch_add(dec_records, std::memory_order_relaxed);
    if (errors) counters.mcast_errors.fetch_add(errors, std::memory_order_relaxed);
}

}  // namespace speeddata::relay
