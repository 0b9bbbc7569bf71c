// A relay's two multicast streams (full rate and decimated) and its decimator, shared by its
// receive threads.
//
// Subscribers count loss per stream from gaps in the sequence numbers (docs/wire-format.md),
// so each stream has one sequence, whichever thread received the datagrams. A receive thread
// hands its batch over under a mutex, and the batch is packed and sent before another
// thread's: the order on the wire is the order of the sequence numbers. The decimator is
// shared for the same reason, so its windows are consecutive records of the full-rate stream
// as sent (with one thread: as received), and the decimated stream keeps its meaning: one
// output per `factor` records of the channel, not of one thread. With one receive thread the
// mutex is never contended.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "core/avro/codec.hpp"
#include "core/config/config.hpp"
#include "core/decimate/decimator.hpp"
#include "core/net/socket.hpp"
#include "relay/datagram_check.hpp"
#include "relay/packers.hpp"
#include "relay/stats.hpp"

namespace speeddata::relay {

class MulticastOut {
public:
    // batch: most datagrams one send() gets (the receive batch). Errors name the key.
    static Result<std::unique_ptr<MulticastOut>> create(const config::ChannelConfig& config, const avro::Schema& schema,
                                                        int time_field, unsigned batch);
    MulticastOut(const MulticastOut&) = delete;
    MulticastOut& operator=(const MulticastOut&) = delete;

    // Sends one batch's valid datagrams on both streams. Thread-safe; returns after sending.
    void send(const CheckedBatch& batch, Counters& counters);

private:
    MulticastOut(const avro::Schema& schema, decimate::Decimator decimator);
    void decimate(const CheckedBatch& batch);

    std::mutex mu_;
    net::Fd fd_;
    avro::Validator splitter_;  // datum boundaries where the packers need them
    decimate::Decimator decimator_;
    // One packer per stream, of the stream's format.
    std::unique_ptr<FullPacker> full_;
    std::unique_ptr<RawPacker> full_raw_;
    std::unique_ptr<DecimatedPacker> dec_;
    std::unique_ptr<RawPacker> dec_raw_;
};

}  // namespace speeddata::relay
