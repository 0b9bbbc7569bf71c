// One relay: UDP in, validated records to the rolling Avro cache, multicast out (full rate
// and decimated). One process per channel, so a bad channel cannot take another down.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/config/config.hpp"
#include "core/decimate/decimator.hpp"
#include "core/net/mcast_header.hpp"
#include "core/net/socket.hpp"
#include "core/time.hpp"
#include "relay/cache_writer.hpp"
#include "relay/stats.hpp"

namespace speeddata::relay {

class Relay {
public:
    // Loads the schema, checks the time field, binds the UDP port and opens the multicast
    // sockets. Errors are one line naming the problem ("bind 127.0.0.1:26000: Address
    // already in use", "schema ...: time field 'time' not found").
    static Result<std::unique_ptr<Relay>> create(const config::ChannelConfig& config);
    ~Relay();

    // Runs until stop becomes true; then flushes the current block, closes the file and
    // writes a final status. Returns the process exit code.
    int run(const std::atomic<bool>& stop);

    const Counters& counters() const { return counters_; }
    size_t effective_receive_buffer() const { return effective_rcvbuf_; }

private:
    explicit Relay(const config::ChannelConfig& config);
    void process_batch(unsigned n);
    bool check_datagram(const uint8_t* p, size_t len, uint64_t& records, int64_t& min_ns, int64_t& max_ns,
                        Malformed& why, size_t& where);
    int64_t datum_time_ns(const uint8_t* datum) const;
    void append_to_block(const uint8_t* p, size_t len, uint64_t records, int64_t min_ns, int64_t max_ns);
    void flush_block_if_due(bool force);
    void queue_full(const uint8_t* p, size_t len, uint16_t records);
    void close_full_message();
    void send_full();
    void decimate(const uint8_t* p, size_t len, bool spans_valid);
    void send_decimated();
    void send_decimated_prefix(size_t bytes);
    void report_malformed(Malformed why, size_t where, size_t len, const sockaddr_in& from);
    void monitor_loop(const std::atomic<bool>& stop);
    void publish_status(double interval_s, bool log_line);

    config::ChannelConfig config_;
    avro::Schema schema_;
    std::unique_ptr<avro::Validator> validator_;
    std::vector<avro::FieldSpan> spans_;
    int time_field_ = -1;
    enum class TimeKind : uint8_t { none, integer, f32, f64 } time_kind_ = TimeKind::none;
    TimeUnit time_unit_ = TimeUnit::unknown;

    net::Fd sock_;
    size_t effective_rcvbuf_ = 0;
    unsigned batch_ = 64;
    size_t slot_bytes_ = 0;
    std::unique_ptr<uint8_t[]> rx_buffers_;
    std::vector<mmsghdr> rx_msgs_;
    std::vector<iovec> rx_iov_;
    std::vector<sockaddr_in> rx_from_;
    std::vector<uint8_t> rx_control_;
    size_t control_bytes_ = 0;

    // Multicast, full rate: the datums of consecutive received datagrams are packed into
    // outgoing datagrams of up to full_pack_bytes_ as iovecs [header, payload, payload...]
    // pointing into the receive buffers (no copy); all are sent at the end of the batch.
    bool mcast_on_ = false;
    size_t full_pack_bytes_ = 1472;
    size_t tx_iov_used_ = 0;
    bool tx_open_ = false;        // a message is being filled
    size_t tx_open_bytes_ = 0;    // its size so far, header included
    uint32_t tx_open_records_ = 0;
    net::Fd mcast_fd_;
    sockaddr_in full_addr_{};
    sockaddr_in dec_addr_{};
    std::vector<mmsghdr> tx_msgs_;
    std::vector<iovec> tx_iov_;
    std::vector<uint8_t> tx_headers_;  // batch_ headers of mcast_max_header bytes
    unsigned tx_count_ = 0;
    net::McastHeader full_header_;
    uint64_t full_seq_ = 0;

    // Multicast, decimated: outputs packed up to decimated_datagram_bytes.
    std::unique_ptr<decimate::Decimator> decimator_;
    std::string dec_out_;
    uint16_t dec_records_ = 0;
    uint8_t dec_header_[net::mcast_max_header] = {};
    size_t dec_header_len_ = 0;
    uint64_t dec_seq_ = 0;

    std::unique_ptr<CacheWriter> writer_;
    std::unique_ptr<Block> block_;
    Counters counters_;
    uint32_t last_kernel_drops_ = 0;

    int64_t last_malformed_log_ns_ = 0;
    uint64_t malformed_suppressed_ = 0;
    int64_t started_ns_ = 0;
    nlohmann::json last_snapshot_;
};

}  // namespace speeddata::relay
