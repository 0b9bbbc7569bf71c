// The stripchart's data side, free of any network server code: schemas by fingerprint,
// decoding of decimated multicast datagrams into per-signal samples, latest values per
// channel, loss from sequence gaps, and the binary frames that go to browsers.
//
// Threads: the multicast receivers call ingest(), the registry poller calls add_channel(),
// the WebSocket server calls take_frame()/latest_json()/signals_json(). One mutex guards
// everything; the critical sections are short (no I/O inside).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/avro/codec.hpp"
#include "core/avro/schema.hpp"
#include "core/status.hpp"
#include "core/time.hpp"

namespace speeddata::stripchart {

// Binary data frame layout (little-endian, every array 8-byte aligned; docs/stripchart.md):
//   header 16 bytes: "SDF1", u32 frame sequence, u32 segment count, u32 frames dropped for
//   this client since its previous frame; then per segment: u32 signal id, u32 count,
//   f64 times[count] (ms since the Unix epoch), f64 values[count].
inline constexpr size_t frame_header_bytes = 16;
inline constexpr size_t segment_header_bytes = 8;

// One signal's samples of one frame, encoded once and shared by every client subscribed.
struct Segment {
    uint32_t signal_id = 0;
    std::shared_ptr<const std::string> bytes;  // segment header + arrays
};

// Everything that arrived during one frame period.
struct Frame {
    uint32_t sequence = 0;
    std::vector<Segment> segments;  // sorted by signal id
};

// Records for the v0.6 stripchart's WebSocket clients (docs/stripchart.md, "Earlier pages"):
// every record that arrived during one frame period, each as its flat JSON text, encoded
// once and shared by every such client.
struct LegacyBatch {
    std::string text;                   // the records' JSON texts, back to back
    std::vector<uint32_t> ends;         // per record: end offset of its text
    std::vector<uint16_t> channel;      // per record: index into channels
    std::vector<std::string> channels;  // channel names of this batch
    size_t size() const { return ends.size(); }
    std::string_view record(size_t i) const {
        const uint32_t from = i ? ends[i - 1] : 0;
        return std::string_view(text).substr(from, ends[i] - from);
    }
    const std::string& channel_of(size_t i) const { return channels[channel[i]]; }
};

struct SignalInfo {
    uint32_t id = 0;
    std::string name;     // "channel.field"
    std::string channel;
    std::string field;
    std::string type;     // "int", "long", "float", "double"
};

struct HubCounters {
    uint64_t datagrams = 0;            // datagrams received (all)
    uint64_t records = 0;              // records decoded
    uint64_t samples = 0;              // numeric samples extracted
    uint64_t malformed = 0;            // not a SpeedData header, or records that fail the schema
    uint64_t unknown_fingerprint = 0;  // valid header, schema not known (yet)
    uint64_t lost_datagrams = 0;       // sequence gaps, summed over channels
    uint64_t samples_dropped = 0;      // pending samples over the per-signal frame cap
    uint64_t legacy_records = 0;       // records encoded for earlier (v0.6) pages
    uint64_t legacy_dropped = 0;       // of those, dropped before a frame took them (cap)
};

struct HubOptions {
    // Most samples of one signal carried by one frame; more are dropped (oldest first) and
    // counted. Each signal has its own cap, so a fast signal cannot crowd out a slow one.
    size_t max_samples_per_signal_frame = 1u << 16;
    size_t loss_events_kept = 32;  // recent loss events per channel, for the clients' markers
    // Most records waiting for the next frame for earlier pages; more and the waiting ones
    // are dropped (counted): the frame timer takes them 30 times a second.
    size_t max_legacy_records = 1u << 16;
    // Samples of frames already sent, kept per signal so that a client subscribing later gets
    // the last moments at once (its backfill frame): at most this long and this many.
    double backfill_ms = 10000;
    size_t backfill_max_samples = 1u << 14;
};

class Hub {
public:
    explicit Hub(HubOptions options = {});
    ~Hub();
    Hub(const Hub&) = delete;
    Hub& operator=(const Hub&) = delete;

    // Registers a channel's schema; datagrams of this channel carrying this schema's
    // fingerprint are then decoded. A datagram of an unregistered channel whose fingerprint
    // another channel has is decoded with that schema (the channel is learned on the fly). time_unit "" = from the logicalType, else inferred.
    // Error when the schema is not a record or lacks the time field. Returns true in the
    // Result when the schema was new (the signal list changed).
    Result<bool> add_channel(const std::string& channel, const avro::Schema& schema,
                             const std::string& time_field, const std::string& time_unit);
    // True when this channel is registered with this schema.
    bool knows(const std::string& channel, uint64_t fingerprint) const;

    // Decodes one multicast datagram; counts what is wrong with it and otherwise ignores it.
    void ingest(const uint8_t* data, size_t size);

    // Moves the pending samples into a new frame (nullptr when there are none); they are
    // then also kept for backfill_frame().
    std::shared_ptr<const Frame> take_frame();
    // The kept samples of these signals (those of frames already taken, newest backfill_ms)
    // as one frame with sequence 0; nullptr when there are none. A client that subscribes
    // gets it before any later frame, so it has no gap and no duplicate at the join.
    std::shared_ptr<const Frame> backfill_frame(const std::vector<uint32_t>& signal_ids) const;

    // Forgets a channel (de-registered): its signals leave the signal list (their ids are
    // not reused; a channel registered again gets them back). False when unknown.
    bool remove_channel(const std::string& channel);

    // Earlier (v0.6) pages: while on, every valid record is also encoded as its flat JSON
    // text (legacy_json.hpp) for take_legacy(). Off (the default): nothing is encoded.
    void set_legacy(bool on);
    // Moves the records encoded since the last call into a batch (nullptr when none).
    std::shared_ptr<const LegacyBatch> take_legacy();

    // Signal list, channels and their fields: the "signals" control message.
    nlohmann::json signals_json() const;
    // The signals (not removed) in id order, for subscriptions.
    std::vector<SignalInfo> signals() const;
    // Latest record of every channel, loss events, counters: the "status" control message.
    nlohmann::json status_json() const;
    // Increases whenever the signal list changes (new channel or schema).
    uint64_t signals_version() const { return signals_version_.load(); }
    HubCounters counters() const;
    std::optional<uint32_t> signal_id(std::string_view name) const;

private:
    Result<bool> add_locked(const std::string& channel, const avro::Schema& schema,
                            const std::string& time_field, const std::string& time_unit);
    struct Impl;
    std::unique_ptr<Impl> impl_;
    std::atomic<uint64_t> signals_version_{0};
};

}  // namespace speeddata::stripchart
