// The multicast packers. Each turns what the receive loop hands it into ready-to-send
// messages (mmsghdr + iovecs) without sending anything, so all are pure functions over
// iovecs and unit-tested alone.
//
//   FullPacker       full-rate stream: consecutive valid source datagrams are packed into
//                    one outgoing datagram of up to max_datagram_bytes, header first; the
//                    payload iovecs point at the caller's receive buffers (no copy). Owns
//                    the stream's header and sequence numbers.
//   DecimatedPacker  decimated stream: the decimator's output records, packed into
//                    datagrams of up to max_datagram_bytes; a minmax pair is never split.
//   RawPacker        a stream of `format: raw`: each datum in a datagram of its own, no
//                    header, as the earlier version sent (so no sequence numbers, no
//                    packing, no channel id). Takes datums like FullPacker (add) or records
//                    like DecimatedPacker (out/appended).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/net/mcast_header.hpp"

namespace speeddata::relay {

inline constexpr size_t max_udp_payload = 65507;

class FullPacker {
public:
    // max_sources: most add() calls between two clear()s (the receive batch). splitter finds
    // datum boundaries in a source datagram too big to go out with the header (such a
    // datagram is split at datum boundaries into several outgoing ones).
    FullPacker(const net::McastHeader& header, size_t max_datagram_bytes, unsigned max_sources,
               const avro::Validator& splitter, const sockaddr_in& destination);
    FullPacker(const FullPacker&) = delete;
    FullPacker& operator=(const FullPacker&) = delete;

    // Queues one valid source datagram of `records` datums. p must stay valid until clear().
    void add(const uint8_t* p, size_t len, uint16_t records);
    // Closes the datagram being filled; the messages to send (possibly none).
    std::span<mmsghdr> finish();
    // After sending: starts the next batch.
    void clear();

    uint64_t next_sequence() const { return seq_; }
    size_t header_bytes() const { return hlen_; }

private:
    void open_message();
    void close_message();
    void add_split(const uint8_t* p, size_t len);

    std::vector<uint8_t> header_template_;
    size_t hlen_ = 0;
    size_t max_bytes_ = 1472;
    const avro::Validator& splitter_;
    sockaddr_in dest_{};
    uint64_t seq_ = 0;

    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
    std::vector<uint8_t> headers_;  // one header per message of the batch
    unsigned count_ = 0;            // closed messages
    size_t iov_used_ = 0;
    bool open_ = false;
    size_t open_bytes_ = 0;
    uint32_t open_records_ = 0;
};

class DecimatedPacker {
public:
    DecimatedPacker(const net::McastHeader& header, size_t max_datagram_bytes, const sockaddr_in& destination);
    DecimatedPacker(const DecimatedPacker&) = delete;
    DecimatedPacker& operator=(const DecimatedPacker&) = delete;

    // The decimator appends its output records here...
    std::string& out() { return out_; }
    // ...and then says so: `records` records were appended, starting at byte `before`. They
    // go into the current datagram, or start the next one when they would not fit.
    void appended(size_t before, int records);
    // All records appended since clear(), as messages (possibly none).
    std::span<mmsghdr> finish();
    void clear();

    uint64_t next_sequence() const { return seq_; }
    uint64_t pending_records() const;

private:
    struct Cut {
        size_t begin, end;
        uint16_t records;
    };
    std::vector<uint8_t> header_template_;
    size_t hlen_ = 0;
    size_t max_bytes_ = 1400;
    sockaddr_in dest_{};
    uint64_t seq_ = 0;

    std::string out_;
    std::vector<Cut> cuts_;
    size_t open_begin_ = 0;
    uint32_t open_records_ = 0;
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
    std::vector<uint8_t> headers_;
};

class RawPacker {
public:
    // splitter finds the record boundaries of several records appended at once (a minmax pair).
    RawPacker(const avro::Validator& splitter, const sockaddr_in& destination);
    RawPacker(const RawPacker&) = delete;
    RawPacker& operator=(const RawPacker&) = delete;

    // Queues one datum; p must stay valid until clear().
    void add(const uint8_t* p, size_t len);
    // The decimator appends its output records here, then reports them (as DecimatedPacker).
    std::string& out() { return out_; }
    void appended(size_t before, int records);
    // One message per datum or record queued since clear().
    std::span<mmsghdr> finish();
    void clear();
    uint64_t pending() const { return items_.size(); }

private:
    struct Item {
        const uint8_t* p;  // nullptr: at offset `off` of out_ (which may move until finish)
        size_t off, len;
    };
    const avro::Validator& splitter_;
    sockaddr_in dest_{};
    std::string out_;
    std::vector<Item> items_;
    std::vector<mmsghdr> msgs_;
    std::vector<iovec> iov_;
};

// Sends every message (retrying EINTR); returns how many the kernel took. The others count
// as errors: multicast is best effort, the receive loop never waits on it.
unsigned send_messages(int fd, std::span<mmsghdr> messages, uint64_t& errors);

}  // namespace speeddata::relay
