// The option table (see options.hpp) and the parsing/formatting of single values.
#include "core/config/options.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <type_traits>

#include "core/suggest.hpp"
#include "core/text.hpp"

namespace speeddata::config::detail {

namespace {

// Field <-> Value conversions used by the FIELD accessor below. Range checks happen in
// parse_value, so the narrowing casts here cannot lose information for table-checked values.
int64_t as_i64(const Value& v) {
    if (const auto* i = std::get_if<int64_t>(&v)) return *i;
    if (const auto* u = std::get_if<uint64_t>(&v)) return static_cast<int64_t>(*u);
    if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
    if (const auto* ms = std::get_if<std::chrono::milliseconds>(&v)) return ms->count();
    return 0;
}
uint64_t as_u64(const Value& v) {
    if (const auto* u = std::get_if<uint64_t>(&v)) return *u;
    return static_cast<uint64_t>(as_i64(v));
}
double as_double(const Value& v) {
    if (const auto* d = std::get_if<double>(&v)) return *d;
    return static_cast<double>(as_i64(v));
}
const std::string& as_string(const Value& v) {
    static const std::string empty;
    const auto* s = std::get_if<std::string>(&v);
    return s ? *s : empty;
}
std::chrono::milliseconds as_ms(const Value& v) {
    if (const auto* ms = std::get_if<std::chrono::milliseconds>(&v)) return *ms;
    return std::chrono::milliseconds(as_i64(v));
}

void assign(bool& f, const Value& v) { f = std::get<bool>(v); }
void assign(std::string& f, const Value& v) { f = as_string(v); }
void assign(std::filesystem::path& f, const Value& v) { f = as_string(v); }
void assign(double& f, const Value& v) { f = as_double(v); }
void assign(std::chrono::milliseconds& f, const Value& v) { f = as_ms(v); }
void assign(std::chrono::seconds& f, const Value& v) {
    f = std::chrono::duration_cast<std::chrono::seconds>(as_ms(v));
}
template <typename T>
    requires std::is_integral_v<T>
void assign(T& f, const Value& v) {
    if constexpr (std::is_signed_v<T>) f = static_cast<T>(as_i64(v));
    else f = static_cast<T>(as_u64(v));
}

Value to_value(bool f) { return f; }
Value to_value(const std::string& f) { return f; }
Value to_value(const std::filesystem::path& f) { return f.generic_string(); }
Value to_value(double f) { return f; }
Value to_value(std::chrono::milliseconds f) { return f; }
Value to_value(std::chrono::seconds f) { return std::chrono::milliseconds(f); }
template <typename T>
    requires std::is_integral_v<T>
Value to_value(T f) {
    if constexpr (std::is_signed_v<T>) return static_cast<int64_t>(f);
    else return static_cast<uint64_t>(f);
}

// Accessor of a plain struct field; `member` may be nested ("full.group").
#define SD_FIELD(T, member)                                                   \
    Access<T> {                                                               \
        [](T& t, const Value& v) { assign(t.member, v); },                    \
        [](const T& t) -> Value { return to_value(t.member); }                \
    }

constexpr int64_t kib = 1024, mib = kib * 1024, gib = mib * 1024, tib = gib * 1024;
constexpr int64_t ms_per_s = 1000, ms_per_min = 60 * ms_per_s, ms_per_h = 60 * ms_per_min,
                  ms_per_d = 24 * ms_per_h;
constexpr int64_t max_udp_payload = 65507;  // IPv4: 65535 - 20 (IP) - 8 (UDP)

std::vector<Option> make_table() {
    using S = Section;
    using M = MulticastConfig;
    using St = StorageConfig;
    using A = AuthConfig;
    using Cl = ClusterConfig;
    using C = ChannelConfig;
    using Sc = StripchartConfig;
    using P = PivotConfig;
    using O = OrchestratorConfig;
    std::vector<Option> t;

    // --- multicast (global.yaml; overridable in any service file and per channel)
    t.push_back({.section = S::multicast, .key = "enabled", .type = Type::boolean, .default_text = "true",
                 .doc = "Send the full-rate and decimated multicast streams; false turns both off "
                        "(the cache on disk is still written).",
                 .access = SD_FIELD(M, enabled)});
    t.push_back({.section = S::multicast, .key = "full.group", .type = Type::multicast_group,
                 .default_text = "239.1.1.1",
                 .doc = "Multicast group of the full-rate stream: every datum as received.",
                 .access = SD_FIELD(M, full.group)});
    t.push_back({.section = S::multicast, .key = "full.port", .type = Type::integer, .default_text = "6000",
                 .lo = 1, .hi = 65535, .doc = "UDP port of the full-rate stream.",
                 .access = SD_FIELD(M, full.port)});
    t.push_back({.section = S::multicast, .key = "full.format", .type = Type::choice, .default_text = "speeddata",
                 .choices = {"speeddata", "raw"},
                 .doc = "`speeddata`: every datagram starts with the SpeedData header (channel, schema fingerprint, "
                        "sequence number, record count) and packs datums. `raw`: each datum in a datagram of its own, "
                        "exactly as received, no header, as the earlier version sent: subscribers cannot count loss, "
                        "nothing is packed, and the datagrams do not say their channel, so the stream needs a "
                        "group:port no other channel's stream uses.",
                 .access = Access<M>{
                     [](M& m, const Value& v) { m.full.format = *parse_stream_format(as_string(v)); },
                     [](const M& m) -> Value { return std::string(stream_format_name(m.full.format)); }}});
    t.push_back({.section = S::multicast, .key = "decimated.group", .type = Type::multicast_group,
                 .default_text = "239.1.1.2",
                 .doc = "Multicast group of the decimated stream (what the stripchart shows).",
                 .access = SD_FIELD(M, decimated.group)});
    t.push_back({.section = S::multicast, .key = "decimated.port", .type = Type::integer,
                 .default_text = "6001", .lo = 1, .hi = 65535, .doc = "UDP port of the decimated stream.",
                 .access = SD_FIELD(M, decimated.port)});
    t.push_back({.section = S::multicast, .key = "decimated.format", .type = Type::choice,
                 .default_text = "speeddata", .choices = {"speeddata", "raw"},
                 .doc = "As `full.format`, for the decimated stream (`raw`: one record per datagram; minmax pairs "
                        "are not marked). The stripchart needs `speeddata`.",
                 .access = Access<M>{
                     [](M& m, const Value& v) { m.decimated.format = *parse_stream_format(as_string(v)); },
                     [](const M& m) -> Value { return std::string(stream_format_name(m.decimated.format)); }}});
    t.push_back({.section = S::multicast, .key = "ttl", .type = Type::integer, .default_text = "1",
                 .unit = "hops", .lo = 0, .hi = 255,
                 .doc = "IP_MULTICAST_TTL: 0 keeps datagrams on this host, 1 on the local network segment.",
                 .access = SD_FIELD(M, ttl)});
    t.push_back({.section = S::multicast, .key = "interface", .type = Type::ipv4, .default_text = "127.0.0.1",
                 .doc = "IPv4 address of the interface multicast leaves through (IP_MULTICAST_IF, always "
                        "set explicitly). The default, loopback, keeps multicast on this machine; the "
                        "address of a network interface opens it to that network.",
                 .access = SD_FIELD(M, interface)});
    t.push_back({.section = S::multicast, .key = "loop", .type = Type::boolean, .default_text = "true",
                 .doc = "IP_MULTICAST_LOOP: also deliver the streams to subscribers on this host "
                        "(the stripchart on the relay's host needs it).",
                 .access = SD_FIELD(M, loop)});
    t.push_back({.section = S::multicast, .key = "decimated_datagram_bytes", .type = Type::size,
                 .default_text = "1400", .unit = "bytes", .lo = 256, .hi = max_udp_payload,
                 .doc = "Largest decimated datagram (SpeedData header and records); decimated records "
                        "are packed up to this size. 1400 fits a 1500-byte Ethernet MTU.",
                 .access = SD_FIELD(M, decimated_datagram_bytes)});
    t.push_back({.section = S::multicast, .key = "full_datagram_bytes", .type = Type::size,
                 .default_text = "0", .unit = "bytes", .lo = 256, .hi = max_udp_payload, .zero_ok = true,
                 .doc = "Largest full-rate datagram into which the datums of consecutive source datagrams "
                        "are packed (zero-copy, never delaying them past the end of a receive batch). "
                        "0 = auto: the multicast interface's MTU minus 28 (65507 on loopback, 1472 on "
                        "Ethernet); a source datagram larger than this is forwarded alone.",
                 .access = SD_FIELD(M, full_datagram_bytes)});

    // --- storage (global.yaml; overridable in any service file)
    t.push_back({.section = S::storage, .key = "root", .type = Type::path, .default_text = "./data",
                 .doc = "Top directory of SpeedData's data. Relative storage paths are relative to the "
                        "parent of the config directory (the repository root for config/).",
                 .access = SD_FIELD(St, root)});
    t.push_back({.section = S::storage, .key = "avro_path", .type = Type::path, .default_text = "./data/avro",
                 .doc = "The Avro cache: each relay writes `<avro_path>/<channel>/*.avro`.",
                 .access = SD_FIELD(St, avro_path)});
    t.push_back({.section = S::storage, .key = "state_path", .type = Type::path,
                 .default_text = "./data/state",
                 .doc = "Run-time state: relay status files (`<state_path>/relays/<channel>.json`) and "
                        "the orchestrator's channel registry.",
                 .access = SD_FIELD(St, state_path)});
    t.push_back({.section = S::storage, .key = "tags_path", .type = Type::path, .default_text = "./data/tags",
                 .doc = "Tagged exports kept for analysis.", .access = SD_FIELD(St, tags_path)});

    // --- auth (global.yaml; overridable in any service file; docs/security.md)
    t.push_back({.section = S::auth, .key = "token_file", .type = Type::path, .default_text = "none",
                 .doc = "File holding the bearer token every server checks (`Authorization: Bearer <token>`) on "
                        "every request that changes something, and on reads when `auth.reads` is true. Relative: to "
                        "the config directory; `none` = no token. `$SPEEDDATA_TOKEN` overrides it.",
                 .access = SD_FIELD(A, token_file)});
    t.push_back({.section = S::auth, .key = "reads", .type = Type::boolean, .default_text = "true",
                 .doc = "With a token: reads (live data, the cache, exports, the registry) need it too. false lets "
                        "anyone who can reach a port read, while changes still need the token. Health checks and "
                        "the pages themselves never need it.",
                 .access = SD_FIELD(A, reads)});
    t.push_back({.section = S::auth, .key = "mode", .type = Type::choice, .default_text = "token",
                 .choices = {"token", "none"},
                 .doc = "`token`: a server bound to a non-loopback address refuses to start without a token. "
                        "`none`: run without authentication even then, on purpose (a closed network).",
                 .access = SD_FIELD(A, mode)});

    // --- cluster (global.yaml; overridable in any service file; docs/fleet.md)
    t.push_back({.section = S::cluster, .key = "nats", .type = Type::nats_url, .default_text = "none",
                 .doc = "The local NATS server (JetStream enabled) that joins this host to a fleet: channels registered "
                        "on any host are kept in a replicated key-value bucket, each host runs the relays assigned to "
                        "it, every host's API shows the whole fleet and live data is also published to NATS "
                        "(docs/fleet.md). `none`: a single host (SQLite, local files, no NATS).",
                 .access = SD_FIELD(Cl, nats)});
    t.push_back({.section = S::cluster, .key = "host", .type = Type::host_name, .default_text = "",
                 .doc = "This host's name in the fleet: a channel registered with `host: NAME` runs its relay on the "
                        "host of that name. Empty: the machine's hostname.",
                 .access = SD_FIELD(Cl, host)});
    t.push_back({.section = S::cluster, .key = "replicas", .type = Type::integer, .default_text = "0",
                 .unit = "copies", .lo = 1, .hi = 5, .zero_ok = true,
                 .doc = "Copies JetStream keeps of the fleet's registry, status and tags (set when the first host "
                        "creates them). 0 = min(3, the NATS cluster's servers when it first connects).",
                 .access = SD_FIELD(Cl, replicas)});
    t.push_back({.section = S::cluster, .key = "user", .type = Type::user_name, .default_text = "",
                 .doc = "The NATS user this host connects as (the server's `authorization` users); its password is "
                        "in `cluster.password_file`. Empty: no user.",
                 .access = SD_FIELD(Cl, user)});
    t.push_back({.section = S::cluster, .key = "password_file", .type = Type::path, .default_text = "none",
                 .doc = "File holding the NATS password of `cluster.user` (its first line). Relative: to the config "
                        "directory. Kept out of global.yaml so that the config can be shared and deployed.",
                 .access = SD_FIELD(Cl, password_file)});
    t.push_back({.section = S::cluster, .key = "token_file", .type = Type::path, .default_text = "none",
                 .doc = "File holding a NATS authorization token (its first line), for servers that use one "
                        "instead of users. Not with `cluster.user`.",
                 .access = SD_FIELD(Cl, token_file)});
    t.push_back({.section = S::cluster, .key = "tls.ca", .type = Type::path, .default_text = "none",
                 .doc = "PEM file of the CA certificates that sign the NATS servers' certificates. Set (or a "
                        "`tls://` URL): the connection is TLS and the server's certificate and name are verified.",
                 .access = SD_FIELD(Cl, tls_ca)});
    t.push_back({.section = S::cluster, .key = "tls.cert", .type = Type::path, .default_text = "none",
                 .doc = "PEM certificate chain this host presents to NATS (servers that verify clients, "
                        "`tls { verify: true }`). Needs `cluster.tls.key`.",
                 .access = SD_FIELD(Cl, tls_cert)});
    t.push_back({.section = S::cluster, .key = "tls.key", .type = Type::path, .default_text = "none",
                 .doc = "PEM private key of `cluster.tls.cert`.",
                 .access = SD_FIELD(Cl, tls_key)});

    // --- relay: per channel (channels.NAME.*), with defaults (defaults.*)
    t.push_back({.section = S::channel_only, .key = "port", .type = Type::integer, .lo = 1, .hi = 65535,
                 .doc = "UDP port the channel's sources send to; one channel per port. Required.",
                 .access = SD_FIELD(C, port)});
    t.push_back({.section = S::channel_only, .key = "schema", .type = Type::schema_path,
                 .doc = "Avro schema of the channel's datums (an .avsc file), relative to the config "
                        "directory and inside it, e.g. `agents/example.avsc`. Required.",
                 .access = SD_FIELD(C, schema)});
    t.push_back({.section = S::channel, .key = "bind", .type = Type::ipv4, .default_text = "127.0.0.1",
                 .doc = "Address the relay's UDP socket binds to; 0.0.0.0 accepts sources from the network.",
                 .access = SD_FIELD(C, bind)});
    t.push_back({.section = S::channel, .key = "receive_buffer", .type = Type::size, .default_text = "8MiB",
                 .unit = "bytes", .lo = 4 * kib, .hi = gib,
                 .doc = "Socket receive buffer requested (SO_RCVBUF); a bigger one absorbs longer bursts. "
                        "The kernel caps it at net.core.rmem_max.",
                 .access = SD_FIELD(C, receive_buffer_bytes)});
    t.push_back({.section = S::channel, .key = "batch", .type = Type::integer, .default_text = "64",
                 .unit = "datagrams", .lo = 1, .hi = 1024,
                 .doc = "Datagrams read per recvmmsg call.", .access = SD_FIELD(C, batch)});
    t.push_back({.section = S::channel, .key = "receive_threads", .type = Type::integer, .default_text = "1",
                 .unit = "threads", .lo = 1, .hi = 64,
                 .doc = "Receive threads for a channel faster than one core: each has its own socket on the port "
                        "(SO_REUSEPORT; the kernel spreads datagrams over them at random), burst buffer and file "
                        "stream (`_s<K>` in the file names); readers merge the streams by time. The multicast "
                        "streams stay one each (docs/relay.md).",
                 .access = SD_FIELD(C, receive_threads)});
    t.push_back({.section = S::channel, .key = "max_datagram", .type = Type::size, .default_text = "65507",
                 .unit = "bytes", .lo = 1, .hi = max_udp_payload,
                 .doc = "Largest datagram accepted; a larger one is counted as oversized and dropped.",
                 .access = SD_FIELD(C, max_datagram_bytes)});
    t.push_back({.section = S::channel, .key = "block_size", .type = Type::size, .default_text = "256KiB",
                 .unit = "bytes", .lo = kib, .hi = 64 * mib,
                 .doc = "An Avro container block is written when its datums reach this uncompressed size...",
                 .access = SD_FIELD(C, block_bytes)});
    t.push_back({.section = S::channel, .key = "flush_interval", .type = Type::duration, .default_text = "1s",
                 .lo = 1, .hi = ms_per_h,
                 .doc = "...or when its oldest datum is this old, whichever comes first: a crash loses at "
                        "most this much data.",
                 .access = SD_FIELD(C, flush_interval)});
    t.push_back({.section = S::channel, .key = "codec", .type = Type::choice, .default_text = "null",
                 .choices = {"null", "deflate", "snappy", "zstandard"},
                 .aliases = {{"none", "null"}, {"zstd", "zstandard"}},
                 .doc = "Compression codec of the container blocks (Avro names; `none` and `zstd` are "
                        "accepted too).",
                 .access = Access<C>{[](C& c, const Value& v) { c.codec = *parse_codec_name(as_string(v)); },
                                     [](const C& c) -> Value { return std::string(codec_config_name(c.codec)); }}});
    t.push_back({.section = S::channel, .key = "codec_level", .type = Type::integer, .default_text = "-1",
                 .lo = -1, .hi = 22,
                 .doc = "Compression level: -1 = the codec's default (deflate 6, zstandard 3); deflate "
                        "0..9, zstandard 1..22; ignored by null and snappy.",
                 .access = SD_FIELD(C, codec_level)});
    t.push_back({.section = S::channel, .key = "fsync", .type = Type::boolean, .default_text = "false",
                 .doc = "fdatasync after each block: survives power loss, at the cost of a disk flush per block.",
                 .access = SD_FIELD(C, fsync)});
    t.push_back({.section = S::channel, .key = "burst_buffer", .type = Type::size, .default_text = "64MiB",
                 .unit = "bytes", .lo = 0, .hi = 64 * gib,
                 .doc = "Memory between receiving and writing to disk: how long a stalled or slow disk is "
                        "bridged without losing a record (64 MiB is 0.5 s at 1 Gbit/s). Reserved, not used: "
                        "pages are touched only when a backlog needs them and returned once it has drained. "
                        "Size it as link rate x the longest disk stall to bridge; at least two blocks and a "
                        "datagram are always used.",
                 .access = SD_FIELD(C, burst_buffer_bytes)});
    t.push_back({.section = S::channel, .key = "rotation.interval", .type = Type::duration,
                 .default_text = "1h", .lo = ms_per_s, .hi = 365 * ms_per_d, .zero_ok = true,
                 .whole_seconds = true,
                 .doc = "Start a new file when the current one is this old (0 = never by age).",
                 .access = SD_FIELD(C, rotate_interval)});
    t.push_back({.section = S::channel, .key = "rotation.max_size", .type = Type::size,
                 .default_text = "256MiB", .unit = "bytes", .lo = kib, .hi = tib, .zero_ok = true,
                 .doc = "Start a new file when the current one reaches this size (0 = never by size).",
                 .access = SD_FIELD(C, rotate_bytes)});
    t.push_back({.section = S::channel, .key = "retention.ttl", .type = Type::duration, .default_text = "7d",
                 .lo = ms_per_s, .hi = 3650 * ms_per_d, .zero_ok = true, .whole_seconds = true,
                 .doc = "Delete files whose newest data is older than this (0 = no age limit).",
                 .access = SD_FIELD(C, retention_ttl)});
    t.push_back({.section = S::channel, .key = "retention.max_size", .type = Type::size, .default_text = "0",
                 .unit = "bytes", .lo = 0, .hi = 1024 * tib,
                 .doc = "Delete the channel's oldest files while its cache is bigger than this (0 = no quota).",
                 .access = SD_FIELD(C, retention_max_bytes)});
    t.push_back({.section = S::channel, .key = "retention.min_free", .type = Type::size,
                 .default_text = "256MiB", .unit = "bytes", .lo = 0, .hi = 1024 * tib,
                 .doc = "Delete the channel's oldest files while the filesystem has less free space than "
                        "this (0 = off).",
                 .access = SD_FIELD(C, retention_min_free_bytes)});
    t.push_back({.section = S::channel, .key = "decimation.factor", .type = Type::integer,
                 .default_text = "10", .unit = "records", .lo = 1, .hi = 1'000'000,
                 .doc = "Input records per decimation window (1 = the decimated stream carries every record).",
                 .access = SD_FIELD(C, decimation_factor)});
    t.push_back({.section = S::channel, .key = "decimation.algorithm", .type = Type::choice,
                 .default_text = "downsample", .choices = {"downsample", "average", "minmax", "rms"},
                 .aliases = {{"min-max", "minmax"}},
                 .doc = "How a window becomes output: `downsample` keeps one record, `average` and `rms` "
                        "the mean and root-mean-square of numeric fields, `minmax` two records holding each "
                        "numeric field's min and max in the order they occurred (the envelope); other fields "
                        "carry the window's last value.",
                 .access = Access<C>{
                     [](C& c, const Value& v) { c.decimation_algorithm = *parse_algorithm(as_string(v)); },
                     [](const C& c) -> Value { return std::string(algorithm_name(c.decimation_algorithm)); }}});
    t.push_back({.section = S::channel, .key = "time_field", .type = Type::string, .default_text = "time",
                 .doc = "The schema's time (abscissa) field; the schema must have it.",
                 .access = SD_FIELD(C, time_field)});
    t.push_back({.section = S::channel, .key = "time_unit", .type = Type::choice, .default_text = "auto",
                 .choices = {"auto", "ns", "us", "ms", "s"},
                 .doc = "Unit of the time field when the schema has no timestamp logicalType "
                        "(a logicalType wins); `auto` infers it from the values' magnitude.",
                 .access = Access<C>{
                     [](C& c, const Value& v) { c.time_unit = as_string(v) == "auto" ? "" : as_string(v); },
                     [](const C& c) -> Value { return c.time_unit.empty() ? std::string("auto") : c.time_unit; }}});
    t.push_back({.section = S::channel, .key = "stats_interval", .type = Type::duration,
                 .default_text = "10s", .lo = ms_per_s, .hi = ms_per_d, .zero_ok = true, .whole_seconds = true,
                 .doc = "Period of the relay's log line of figures: received, written, dropped (0 = off).",
                 .access = SD_FIELD(C, stats_interval)});

    // --- stripchart.yaml
    t.push_back({.section = S::stripchart, .key = "http.bind", .type = Type::ipv4, .default_text = "127.0.0.1",
                 .doc = "Address the stripchart's HTTP and WebSocket server listens on; 0.0.0.0 serves the network.",
                 .access = SD_FIELD(Sc, bind)});
    t.push_back({.section = S::stripchart, .key = "http.port", .type = Type::integer, .default_text = "8081",
                 .lo = 1, .hi = 65535, .doc = "TCP port of the stripchart pages and their WebSocket.",
                 .access = SD_FIELD(Sc, port)});
    t.push_back({.section = S::stripchart, .key = "frame_rate", .type = Type::number, .default_text = "30",
                 .unit = "Hz", .lo = 1, .hi = 240,
                 .doc = "Updates sent to each browser per second; data arriving in between goes out with "
                        "the next update.",
                 .access = SD_FIELD(Sc, frame_rate)});
    t.push_back({.section = S::stripchart, .key = "client_queue_limit", .type = Type::integer,
                 .default_text = "64", .unit = "messages", .lo = 1, .hi = 100'000,
                 .doc = "Updates queued for one browser; when full the oldest is dropped, so a slow client "
                        "skips frames instead of holding memory.",
                 .access = SD_FIELD(Sc, client_queue_limit)});
    t.push_back({.section = S::stripchart, .key = "orchestrator.address", .type = Type::ipv4,
                 .default_text = "127.0.0.1",
                 .doc = "Address of the orchestrator whose channel registry is polled for channels and "
                        "schemas registered at run time.",
                 .access = SD_FIELD(Sc, orchestrator_address)});
    t.push_back({.section = S::stripchart, .key = "orchestrator.port", .type = Type::integer,
                 .default_text = "8080", .lo = 1, .hi = 65535, .doc = "TCP port of the orchestrator's REST API.",
                 .access = SD_FIELD(Sc, orchestrator_port)});
    t.push_back({.section = S::stripchart, .key = "orchestrator.poll_interval", .type = Type::duration,
                 .default_text = "2s", .lo = 100, .hi = ms_per_h, .zero_ok = true,
                 .doc = "How often the registry is asked for new channels (0 = never: only relay.yaml's "
                        "channels are shown). An unreachable orchestrator is retried, not an error.",
                 .access = SD_FIELD(Sc, registry_poll_interval)});
    t.push_back({.section = S::stripchart, .key = "http.max_clients", .type = Type::integer, .default_text = "256",
                 .unit = "clients", .lo = 1, .hi = 100'000,
                 .doc = "WebSocket clients served at once, /ws and the earlier pages' / together; more are "
                        "answered 503 (each costs a descriptor and a queue of up to client_queue_limit frames).",
                 .access = SD_FIELD(Sc, max_clients)});

    // --- orchestrator.yaml (docs/orchestrator.md)
    t.push_back({.section = S::orchestrator, .key = "http.bind", .type = Type::ipv4, .default_text = "127.0.0.1",
                 .doc = "Address of the orchestrator's REST API and web console; 0.0.0.0 serves the network "
                        "(set a token then).",
                 .access = SD_FIELD(O, bind)});
    t.push_back({.section = S::orchestrator, .key = "http.port", .type = Type::integer, .default_text = "8080",
                 .lo = 1, .hi = 65535, .doc = "TCP port of the REST API (`/api/v1`) and the console (`/`).",
                 .access = SD_FIELD(O, port)});
    t.push_back({.section = S::orchestrator, .key = "http.token_file", .type = Type::path, .default_text = "none",
                 .doc = "File holding the bearer token required on every `/api/` path except `/api/v1/health` "
                        "(relative: to the config directory; `none` = no token). `--token` and "
                        "`$SPEEDDATA_TOKEN` override it.",
                 .access = SD_FIELD(O, token_file)});
    t.push_back({.section = S::orchestrator, .key = "http.threads", .type = Type::integer, .default_text = "2",
                 .unit = "threads", .lo = 1, .hi = 64, .doc = "HTTP io threads: requests handled at once.",
                 .access = SD_FIELD(O, threads)});
    t.push_back({.section = S::orchestrator, .key = "http.max_body", .type = Type::size, .default_text = "1MiB",
                 .unit = "bytes", .lo = 1024, .hi = gib, .doc = "Larger request bodies get 413 before they are read.",
                 .access = SD_FIELD(O, max_body_bytes)});
    t.push_back({.section = S::orchestrator, .key = "ports.start", .type = Type::integer, .default_text = "26100",
                 .lo = 1, .hi = 65535, .doc = "First UDP port assigned to a channel registered without a port.",
                 .access = SD_FIELD(O, port_range_start)});
    t.push_back({.section = S::orchestrator, .key = "ports.end", .type = Type::integer, .default_text = "26999",
                 .lo = 1, .hi = 65535, .doc = "Last UDP port of that range (at least ports.start).",
                 .access = SD_FIELD(O, port_range_end)});
    t.push_back({.section = S::orchestrator, .key = "restart.initial_delay", .type = Type::duration,
                 .default_text = "250ms", .lo = 10, .hi = ms_per_h,
                 .doc = "Delay before restarting a relay that died.", .access = SD_FIELD(O, restart_initial_delay)});
    t.push_back({.section = S::orchestrator, .key = "restart.max_delay", .type = Type::duration,
                 .default_text = "30s", .lo = 10, .hi = ms_per_d,
                 .doc = "The delay doubles with each crash in a row, up to this.",
                 .access = SD_FIELD(O, restart_max_delay)});
    t.push_back({.section = S::orchestrator, .key = "restart.stable_after", .type = Type::duration,
                 .default_text = "10s", .lo = 10, .hi = ms_per_d,
                 .doc = "A relay that ran this long counts as healthy: its next restart waits initial_delay again.",
                 .access = SD_FIELD(O, restart_stable_after)});
    t.push_back({.section = S::orchestrator, .key = "relays.stop_timeout", .type = Type::duration,
                 .default_text = "5s", .lo = 100, .hi = ms_per_h,
                 .doc = "How long a relay may take to flush and exit on stop or de-registration before SIGKILL.",
                 .access = SD_FIELD(O, stop_timeout)});
    t.push_back({.section = S::orchestrator, .key = "relays.watchdog_timeout", .type = Type::duration,
                 .default_text = "15s", .lo = 1000, .hi = ms_per_h, .zero_ok = true,
                 .doc = "A running relay whose status file has not been updated for this long (stopped, or stuck "
                        "in a system call) is killed and restarted, and the restart counted (0 = off). Relays "
                        "update it every second.",
                 .access = SD_FIELD(O, watchdog_timeout)});

    // --- pivot.yaml
    t.push_back({.section = S::pivot, .key = "http.bind", .type = Type::ipv4, .default_text = "127.0.0.1",
                 .doc = "Address the pivot REST API (`speeddata pivot serve`) listens on; 0.0.0.0 serves the network.",
                 .access = SD_FIELD(P, bind)});
    t.push_back({.section = S::pivot, .key = "http.port", .type = Type::integer, .default_text = "8000",
                 .lo = 1, .hi = 65535, .doc = "TCP port of the pivot REST API.", .access = SD_FIELD(P, port)});
    t.push_back({.section = S::pivot, .key = "limits.max_channels", .type = Type::integer,
                 .default_text = "20", .unit = "channels", .lo = 1, .hi = 10'000,
                 .doc = "Most channels one export request may name.", .access = SD_FIELD(P, max_channels)});
    t.push_back({.section = S::pivot, .key = "limits.max_duration", .type = Type::duration,
                 .default_text = "5m", .lo = ms_per_s, .hi = 30 * ms_per_d, .whole_seconds = true,
                 .doc = "Longest time range one export request may cover.", .access = SD_FIELD(P, max_duration)});
    t.push_back({.section = S::pivot, .key = "limits.concurrent_exports", .type = Type::integer,
                 .default_text = "2", .unit = "exports", .lo = 1, .hi = 256,
                 .doc = "REST exports (and tag creations) running at once, each on a worker thread; health, "
                        "channels and tags are answered at once regardless.",
                 .access = SD_FIELD(P, concurrent_exports)});
    t.push_back({.section = S::pivot, .key = "limits.queued_exports", .type = Type::integer,
                 .default_text = "8", .unit = "exports", .lo = 0, .hi = 10'000,
                 .doc = "Exports waiting for a worker; more get 503 with Retry-After.",
                 .access = SD_FIELD(P, queued_exports)});
    t.push_back({.section = S::pivot, .key = "limits.max_temp_space", .type = Type::size,
                 .default_text = "4GiB", .unit = "bytes", .lo = mib, .hi = 1024 * tib,
                 .doc = "Temporary space held by exports written but not yet downloaded; a new export gets 503 "
                        "while more is held.",
                 .access = SD_FIELD(P, max_temp_bytes)});
    t.push_back({.section = S::pivot, .key = "http.send_timeout", .type = Type::duration,
                 .default_text = "30s", .lo = 100, .hi = ms_per_h,
                 .doc = "A download that makes no progress for this long is cut and its temporary file removed "
                        "(a client that stopped reading cannot pin the disk).",
                 .access = SD_FIELD(P, send_timeout)});
    t.push_back({.section = S::pivot, .key = "compat.v06", .type = Type::boolean, .default_text = "false",
                 .doc = "Answer REST exports as the v0.6 pivot API did: a channel that is unknown or has no record "
                        "in the range is an empty group of a 200 answer (false: 404 naming the channel or the "
                        "range), and health says `\"status\": \"healthy\"` instead of `\"ok\"`. For earlier "
                        "scripts; docs/upgrading.md.",
                 .access = SD_FIELD(P, compat_v06)});
    t.push_back({.section = S::pivot, .key = "hdf5.compression", .type = Type::choice, .default_text = "gzip",
                 .choices = {"gzip", "none"}, .doc = "Compression filter of the HDF5 datasets.",
                 .access = SD_FIELD(P, compression)});
    t.push_back({.section = S::pivot, .key = "hdf5.compression_level", .type = Type::integer,
                 .default_text = "1", .lo = 0, .hi = 9,
                 .doc = "gzip level: 0 stores, 1 is the fastest compression, 9 the smallest files "
                        "(on the example data, 9 saves 2 % of the file and takes ten times as long).",
                 .access = SD_FIELD(P, compression_level)});
    t.push_back({.section = S::pivot, .key = "hdf5.shuffle", .type = Type::boolean, .default_text = "true",
                 .doc = "Byte-shuffle filter before compression (numeric data compresses better).",
                 .access = SD_FIELD(P, shuffle)});
    t.push_back({.section = S::pivot, .key = "hdf5.chunk_rows", .type = Type::integer,
                 .default_text = "65536", .unit = "rows", .lo = 1, .hi = 1 << 24,
                 .doc = "Rows per dataset chunk, the unit of compression and of partial reads.",
                 .access = SD_FIELD(P, chunk_rows)});
    t.push_back({.section = S::pivot, .key = "hdf5.threads", .type = Type::integer, .default_text = "0",
                 .unit = "threads", .lo = 0, .hi = 256,
                 .doc = "Threads that compress chunks, for each export (its own, started and joined with it); 0 = one per core.",
                 .access = SD_FIELD(P, threads)});
    return t;
}

#undef SD_FIELD

bool is_avro_name(std::string_view s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// "1..65535", "0 or 1s..365d": the range part of expected/allowed texts.
std::string range_text(const Option& o) {
    std::string lo, hi;
    switch (o.type) {
        case Type::duration:
            lo = format_duration(std::chrono::milliseconds(o.lo));
            hi = format_duration(std::chrono::milliseconds(o.hi));
            break;
        case Type::size:
            lo = format_size(static_cast<uint64_t>(o.lo));
            hi = format_size(static_cast<uint64_t>(o.hi));
            break;
        default:
            lo = std::to_string(o.lo);
            hi = std::to_string(o.hi);
    }
    return (o.zero_ok ? "0 or " : "") + lo + ".." + hi;
}

std::string join(const std::vector<std::string_view>& items, std::string_view sep,
                 std::string_view before = "", std::string_view after = "") {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += before;
        out += items[i];
        out += after;
    }
    return out;
}

bool parse_ipv4(const std::string& text, uint8_t (&octets)[4]) {
    in_addr a{};
    if (inet_pton(AF_INET, text.c_str(), &a) != 1) return false;
    std::memcpy(octets, &a.s_addr, 4);  // network order: octets[0] is the first
    return true;
}

}  // namespace

const std::vector<Option>& option_table() {
    static const std::vector<Option> table = make_table();
    return table;
}

std::string_view type_name(Type t) {
    switch (t) {
        case Type::boolean: return "boolean";
        case Type::integer: return "integer";
        case Type::number: return "number";
        case Type::string: return "string";
        case Type::choice: return "choice";
        case Type::duration: return "duration";
        case Type::size: return "size";
        case Type::ipv4: return "IPv4 address";
        case Type::multicast_group: return "IPv4 multicast group";
        case Type::path: return "path";
        case Type::schema_path: return "schema path";
        case Type::nats_url: return "NATS URL";
        case Type::host_name: return "host name";
        case Type::user_name: return "user name";
    }
    return "?";
}

std::string expected_text(const Option& o) {
    switch (o.type) {
        case Type::boolean: return "true or false";
        case Type::integer: return "an integer " + range_text(o);
        case Type::number: return "a number " + range_text(o);
        case Type::string: return "a field name (letters, digits, '_'; not starting with a digit)";
        case Type::choice: return "one of " + join(o.choices, ", ");
        case Type::duration:
            return std::string(o.whole_seconds ? "a duration in whole seconds, " : "a duration ") + range_text(o);
        case Type::size: return "a size " + range_text(o);
        case Type::ipv4: return "an IPv4 address like 127.0.0.1";
        case Type::multicast_group: return "an IPv4 multicast group (224.0.0.0 to 239.255.255.255)";
        case Type::path: return "a path";
        case Type::schema_path: return "a path relative to the config directory, inside it";
        case Type::nats_url: return "none or nats://HOST:PORT (several separated by commas)";
        case Type::host_name: return "a host name (letters, digits, '.', '_', '-')";
        case Type::user_name: return "a user name (letters, digits, '.', '_', '@', '-')";
    }
    return "?";
}

std::string allowed_text(const Option& o) {
    switch (o.type) {
        case Type::boolean: return "`true`, `false`";
        case Type::integer:
        case Type::number:
        case Type::size: return range_text(o);
        case Type::duration: return range_text(o) + (o.whole_seconds ? " (whole seconds)" : "");
        case Type::string: return "an Avro field name";
        case Type::choice: return join(o.choices, ", ", "`", "`");
        case Type::ipv4: return "dotted quad";
        case Type::multicast_group: return "224.0.0.0 to 239.255.255.255";
        case Type::path: return "relative or absolute";
        case Type::schema_path: return "relative, inside the config directory";
        case Type::nats_url: return "`none`, `nats://HOST:PORT[,nats://...]`";
        case Type::host_name: return "empty (the hostname) or 1..64 of `[A-Za-z0-9._-]`";
        case Type::user_name: return "empty (none) or 1..128 of `[A-Za-z0-9._@-]`";
    }
    return "";
}

std::string quote(std::string_view text) { return double_quoted(text, 60); }

Result<Value> parse_value(const Option& o, const Scalar& s) {
    const auto bad = [&](std::string_view why = "") {
        std::string got = s.null ? "nothing (an empty value)" : quote(s.text);
        if (s.quoted && !s.null &&
            (o.type == Type::boolean || o.type == Type::integer || o.type == Type::number)) {
            got += " (a quoted string)";
        }
        std::string msg = "expected " + expected_text(o) + ", got " + got;
        if (!why.empty()) msg += " (" + std::string(why) + ")";
        return Status::error(std::move(msg));
    };
    // YAML reads an unquoted `null` as the null value; for the codec it is the codec's name.
    if (s.null) {
        if (o.type == Type::choice && std::find(o.choices.begin(), o.choices.end(), "null") != o.choices.end()) {
            return Value(std::string("null"));
        }
        return bad();
    }
    const std::string& text = s.text;
    switch (o.type) {
        case Type::boolean: {
            // The YAML 1.1 booleans, as PyYAML reads them, so Python sees the same value.
            static const std::vector<std::string_view> yes{"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
            static const std::vector<std::string_view> no{"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
            if (s.quoted) return bad();
            if (std::find(yes.begin(), yes.end(), text) != yes.end()) return Value(true);
            if (std::find(no.begin(), no.end(), text) != no.end()) return Value(false);
            return bad();
        }
        case Type::integer: {
            if (s.quoted) return bad();
            int64_t v = 0;
            const char* begin = text.data() + (text.starts_with('+') ? 1 : 0);
            const auto [end, ec] = std::from_chars(begin, text.data() + text.size(), v);
            if (ec != std::errc() || end != text.data() + text.size() || begin == end) return bad();
            if (!(v >= o.lo && v <= o.hi) && !(o.zero_ok && v == 0)) return bad();
            return Value(v);
        }
        case Type::number: {
            if (s.quoted || text.empty()) return bad();
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (end != text.c_str() + text.size() || !std::isfinite(v)) return bad();
            if (!(v >= static_cast<double>(o.lo) && v <= static_cast<double>(o.hi)) && !(o.zero_ok && v == 0)) {
                return bad();
            }
            return Value(v);
        }
        case Type::string:
            if (!is_avro_name(text)) return bad();
            return Value(text);
        case Type::choice: {
            if (std::find(o.choices.begin(), o.choices.end(), text) != o.choices.end()) return Value(text);
            for (const auto& a : o.aliases) {
                if (a.alias == text) return Value(std::string(a.canonical));
            }
            std::vector<std::string> names(o.choices.begin(), o.choices.end());
            const std::string near = closest(text, names);
            return near.empty() ? bad() : bad("did you mean '" + near + "'?");
        }
        case Type::duration: {
            const auto d = parse_duration(text);
            if (!d) return bad();
            const int64_t ms = d->count();
            if (!(ms >= o.lo && ms <= o.hi) && !(o.zero_ok && ms == 0)) return bad();
            if (o.whole_seconds && ms % 1000 != 0) return bad();
            return Value(*d);
        }
        case Type::size: {
            const auto b = parse_size(text);
            if (!b) return bad();
            const uint64_t v = *b;
            const bool in_range = v >= static_cast<uint64_t>(o.lo) && v <= static_cast<uint64_t>(o.hi);
            if (!in_range && !(o.zero_ok && v == 0)) return bad();
            return Value(v);
        }
        case Type::ipv4:
        case Type::multicast_group: {
            uint8_t octets[4];
            if (!parse_ipv4(text, octets)) return bad();
            if (o.type == Type::multicast_group && (octets[0] < 224 || octets[0] > 239)) return bad();
            return Value(text);
        }
        case Type::path:
            if (text.empty()) return bad();
            return Value(text);
        case Type::nats_url: {
            if (text == "none") return Value(text);
            size_t start = 0;
            while (start <= text.size()) {
                const size_t end = std::min(text.find(',', start), text.size());
                const std::string_view url = std::string_view(text).substr(start, end - start);
                const bool scheme = url.rfind("nats://", 0) == 0 || url.rfind("tls://", 0) == 0;
                const size_t host_at = url.find("://") + 3;
                if (!scheme || url.size() <= host_at ||
                    std::any_of(url.begin(), url.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }))
                    return bad();
                start = end + 1;
            }
            return Value(text);
        }
        case Type::host_name: {
            if (text.size() > 64 || !std::all_of(text.begin(), text.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
                }))
                return bad();
            return Value(text);
        }
        case Type::user_name: {
            if (text.size() > 128 || !std::all_of(text.begin(), text.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '@' || c == '-';
                }))
                return bad();
            return Value(text);
        }
        case Type::schema_path: {
            if (text.empty()) return bad();
            const std::filesystem::path p(text);
            if (p.is_absolute()) return bad("absolute paths are not allowed");
            const std::filesystem::path n = p.lexically_normal();
            if (n.empty() || n == "." || *n.begin() == "..") return bad("it leads outside the config directory");
            return Value(n.generic_string());
        }
    }
    return bad();
}

std::string format_value(const Option& o, const Value& v) {
    switch (o.type) {
        case Type::boolean: return std::get<bool>(v) ? "true" : "false";
        case Type::integer: return std::to_string(as_i64(v));
        case Type::number: {
            char buf[64];
            const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, as_double(v));
            return ec == std::errc() ? std::string(buf, end) : "?";
        }
        case Type::duration: return format_duration(as_ms(v));
        case Type::size: return format_size(as_u64(v));
        default: return as_string(v);
    }
}

nlohmann::ordered_json value_to_json(const Option& o, const Value& v) {
    switch (o.type) {
        case Type::boolean: return std::get<bool>(v);
        case Type::integer: return as_i64(v);
        case Type::number: return as_double(v);
        default: return format_value(o, v);
    }
}

Value default_value(const Option& o) {
    // The defaults are config-file text too, so they go through the same parser; a bad
    // default is a bug the unit tests catch (OptionTable.DefaultsParse).
    const bool is_plain = o.type == Type::boolean || o.type == Type::integer || o.type == Type::number;
    auto r = parse_value(o, Scalar{std::string(o.default_text), !is_plain, false});
    return r ? *r : Value(std::string(o.default_text));
}

std::string closest(std::string_view key, const std::vector<std::string>& candidates) {
    return speeddata::closest_name(key, candidates);
}

}  // namespace speeddata::config::detail
