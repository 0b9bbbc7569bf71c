#include "relay/packers.hpp"

#include <cerrno>
#include <algorithm>

namespace speeddata::relay {

namespace {

std::vector<uint8_t> encode_header(const net::McastHeader& h, size_t& len) {
    std::vector<uint8_t> out(net::mcast_max_header);
    len = net::encode_mcast_header(h, out.data());
    out.resize(len);
    return out;
}

}  // namespace

// ---- FullPacker ----------------------------------------------------------------------------

FullPacker::FullPacker(const net::McastHeader& header, size_t max_datagram_bytes, unsigned max_sources,
                       const avro::Validator& splitter, const sockaddr_in& destination)
    : splitter_(splitter), dest_(destination) {
    header_template_ = encode_header(header, hlen_);
    max_bytes_ = std::min(std::max(max_datagram_bytes, hlen_ + 1), max_udp_payload);
    // A source datagram becomes at most 3 outgoing ones when split (greedy packing at datum
    // boundaries: two neighbours together exceed the limit), so this never runs out.
    const size_t max_msgs = 3 * static_cast<size_t>(std::max(1u, max_sources)) + 1;
    msgs_.resize(max_msgs);
    iov_.resize(3 * max_msgs + max_sources + 1);
    headers_.resize(max_msgs * hlen_);
    for (size_t i = 0; i < max_msgs; ++i) std::copy(header_template_.begin(), header_template_.end(), &headers_[i * hlen_]);
}

void FullPacker::open_message() {
    open_ = true;
    open_bytes_ = hlen_;
    open_records_ = 0;
    msghdr& m = msgs_[count_].msg_hdr;
    m = msghdr{};
    m.msg_name = &dest_;
    m.msg_namelen = sizeof dest_;
    m.msg_iov = &iov_[iov_used_];
    m.msg_iovlen = 1;
    iov_[iov_used_++] = {&headers_[count_ * hlen_], hlen_};
}

void FullPacker::close_message() {
    if (!open_) return;
    net::patch_mcast_header(&headers_[count_ * hlen_], seq_++, static_cast<uint16_t>(open_records_));
    msgs_[count_].msg_len = 0;
    ++count_;
    open_ = false;
}

void FullPacker::add(const uint8_t* p, size_t len, uint16_t records) {
    if (hlen_ + len > max_udp_payload) {
        add_split(p, len);
        return;
    }
    if (open_ && (open_bytes_ + len > max_bytes_ || open_records_ + records > UINT16_MAX)) close_message();
    if (!open_) open_message();
    iov_[iov_used_++] = {const_cast<uint8_t*>(p), len};
    msgs_[count_].msg_hdr.msg_iovlen++;
    open_bytes_ += len;
    open_records_ += records;
}

// Too big to go out with the header: its datums go out in several datagrams, in order, each
// as full as the largest UDP payload allows (never empty: a lone datum too big for any
// datagram is still tried and counted as a send error).
void FullPacker::add_split(const uint8_t* p, size_t len) {
    close_message();
    size_t off = 0;
    while (off < len) {
        size_t start = off;
        uint32_t n = 0;
        while (off < len) {
            auto r = splitter_.validate(p + off, len - off);
            if (r.consumed == 0) { off = len; break; }  // cannot happen for a checked datagram
            if (n > 0 && off + r.consumed - start + hlen_ > max_udp_payload) break;
            off += r.consumed;
            ++n;
        }
        open_message();
        iov_[iov_used_++] = {const_cast<uint8_t*>(p + start), off - start};
        msgs_[count_].msg_hdr.msg_iovlen++;
        open_records_ = n;
        close_message();
    }
}

std::span<mmsghdr> FullPacker::finish() {
    close_message();
    return {msgs_.data(), count_};
}

void FullPacker::clear() {
    close_message();
    count_ = 0;
    iov_used_ = 0;
}

// ---- DecimatedPacker -----------------------------------------------------------------------

DecimatedPacker::DecimatedPacker(const net::McastHeader& header, size_t max_datagram_bytes,
                                 const sockaddr_in& destination)
    : dest_(destination) {
    header_template_ = encode_header(header, hlen_);
    max_bytes_ = std::min(std::max(max_datagram_bytes, hlen_ + 1), max_udp_payload);
    out_.reserve(std::max<size_t>(max_bytes_, 2048) + 65536);
    cuts_.reserve(64);
}

void DecimatedPacker::appended(size_t before, int records) {
    if (records <= 0) return;
    // What was there goes out as one datagram; the new records (a minmax pair stays
    // together) start the next one.
    if (open_records_ > 0 && (hlen_ + out_.size() - open_begin_ > max_bytes_ ||
                              open_records_ + static_cast<uint32_t>(records) > UINT16_MAX)) {
        cuts_.push_back({open_begin_, before, static_cast<uint16_t>(open_records_)});
        open_begin_ = before;
        open_records_ = 0;
    }
    open_records_ += static_cast<uint32_t>(records);
}

uint64_t DecimatedPacker::pending_records() const {
    uint64_t n = open_records_;
    for (const auto& c : cuts_) n += c.records;
    return n;
}

std::span<mmsghdr> DecimatedPacker::finish() {
    if (open_records_ > 0) {
        cuts_.push_back({open_begin_, out_.size(), static_cast<uint16_t>(open_records_)});
        open_begin_ = out_.size();
        open_records_ = 0;
    }
    // Built only now: out_ may have moved while records were appended.
    const size_t n = cuts_.size();
    if (msgs_.size() < n) {
        msgs_.resize(n);
        iov_.resize(2 * n);
        headers_.resize(n * hlen_);
    }
    for (size_t i = 0; i < n; ++i) {
        uint8_t* h = &headers_[i * hlen_];
        std::copy(header_template_.begin(), header_template_.end(), h);
        net::patch_mcast_header(h, seq_++, cuts_[i].records);
        iov_[2 * i] = {h, hlen_};
        iov_[2 * i + 1] = {out_.data() + cuts_[i].begin, cuts_[i].end - cuts_[i].begin};
        msghdr& m = msgs_[i].msg_hdr;
        m = msghdr{};
        m.msg_name = &dest_;
        m.msg_namelen = sizeof dest_;
        m.msg_iov = &iov_[2 * i];
        m.msg_iovlen = 2;
        msgs_[i].msg_len = 0;
    }
    cuts_.clear();
    return {msgs_.data(), n};
}

void DecimatedPacker::clear() {
    // Records appended since finish() (none in the receive loop) stay for the next batch.
    if (open_begin_ > 0) out_.erase(0, open_begin_);
    open_begin_ = 0;
    cuts_.clear();
}

// ---- RawPacker -----------------------------------------------------------------------------

RawPacker::RawPacker(const avro::Validator& splitter, const sockaddr_in& destination)
    : splitter_(splitter), dest_(destination) {
    items_.reserve(256);
    out_.reserve(65536);
}

void RawPacker::add(const uint8_t* p, size_t len) { items_.push_back({p, 0, len}); }

void RawPacker::appended(size_t before, int records) {
    if (records <= 0) return;
    size_t off = before;
    for (int k = 0; k + 1 < records; ++k) {  // all but the last: find where each ends
        auto r = splitter_.validate(reinterpret_cast<const uint8_t*>(out_.data()) + off, out_.size() - off);
        if (!r.ok() || r.consumed == 0) break;  // cannot happen for the decimator's output
        items_.push_back({nullptr, off, r.consumed});
        off += r.consumed;
    }
    items_.push_back({nullptr, off, out_.size() - off});
}

std::span<mmsghdr> RawPacker::finish() {
    const size_t n = items_.size();
    if (msgs_.size() < n) {
        msgs_.resize(n);
        iov_.resize(n);
    }
    for (size_t i = 0; i < n; ++i) {
        const Item& it = items_[i];
        const uint8_t* p = it.p ? it.p : reinterpret_cast<const uint8_t*>(out_.data()) + it.off;
        iov_[i] = {const_cast<uint8_t*>(p), it.len};
        msghdr& m = msgs_[i].msg_hdr;
        m = msghdr{};
        m.msg_name = &dest_;
        m.msg_namelen = sizeof dest_;
        m.msg_iov = &iov_[i];
        m.msg_iovlen = 1;
        msgs_[i].msg_len = 0;
    }
    return {msgs_.data(), n};
}

void RawPacker::clear() {
    items_.clear();
    out_.clear();
}

unsigned send_messages(int fd, std::span<mmsghdr> messages, uint64_t& errors) {
    unsigned done = 0, sent = 0;
    const auto total = static_cast<unsigned>(messages.size());
    while (done < total) {
        int n = ::sendmmsg(fd, messages.data() + done, total - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            // One message the kernel refuses (EMSGSIZE) must not take the rest with it.
            ++errors;
            ++done;
            continue;
        }
        done += static_cast<unsigned>(n);
        sent += static_cast<unsigned>(n);
    }
    return sent;
}

}  // namespace speeddata::relay
