// SpeedData configuration: config/global.yaml merged with each service's file.
//
// One description of every option (src/core/config/options.cpp, the option table) drives
// parsing, defaults, validation, `speeddata config show` and docs/config.md
// (`speeddata config docs`). Unknown keys, wrong types, out-of-range values and missing files
// are errors naming the file, the key and what was expected:
//   config/relay.yaml: channels.example.port: expected an integer 1..65535, got "abc"
//   config/relay.yaml: channels.example.decimaton: unknown key (did you mean 'decimation'?)
//
// Merge order (highest first) for a channel option K of channel NAME:
//   relay.yaml channels.NAME.K > relay.yaml defaults.K > built-in default (the table);
// for a multicast option K of channel NAME:
//   relay.yaml channels.NAME.multicast.K > <service>.yaml multicast.K > global.yaml
//   multicast.K > built-in; storage likewise (service file over global.yaml over built-in).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/avro/container.hpp"
#include "core/status.hpp"

namespace speeddata::config {

enum class DecimationAlgorithm : uint8_t { downsample, average, minmax, rms };
// "downsample", "average", "minmax" (also "min-max"), "rms".
Result<DecimationAlgorithm> parse_algorithm(std::string_view name);
std::string_view algorithm_name(DecimationAlgorithm a);

// The config layer's own codec-name parser (so that config does not need sd_avro's code at
// link time): "null" (also "none"), "deflate", "snappy", "zstandard" (also "zstd").
Result<avro::Codec> parse_codec_name(std::string_view name);
std::string_view codec_config_name(avro::Codec c);

// What a multicast stream's datagrams look like (multicast.full.format, .decimated.format).
enum class StreamFormat : uint8_t {
    speeddata,  // the SpeedData header, then datums packed (docs/wire-format.md)
    raw,        // one datum per datagram, no header, as the earlier version sent
};
Result<StreamFormat> parse_stream_format(std::string_view name);
std::string_view stream_format_name(StreamFormat f);

struct MulticastStream {
    std::string group;   // IPv4 multicast group
    uint16_t port = 0;
    StreamFormat format = StreamFormat::speeddata;
};

struct MulticastConfig {
    bool enabled = true;                                    // multicast.enabled
    MulticastStream full{"239.1.1.1", 6000};                // multicast.full.{group,port}
    MulticastStream decimated{"239.1.1.2", 6001};           // multicast.decimated.{group,port}
    int ttl = 1;                                            // multicast.ttl (hops)
    // IPv4 address of the interface multicast leaves through (IP_MULTICAST_IF); never left
    // to the routing table. Default loopback: open it to the network by setting this.
    std::string interface = "127.0.0.1";                    // multicast.interface
    bool loop = true;                                       // multicast.loop (IP_MULTICAST_LOOP)
    // Largest decimated multicast datagram payload (outputs are packed up to this size).
    size_t decimated_datagram_bytes = 1400;                 // multicast.decimated_datagram_bytes
    // Largest full-rate datagram that consecutive source datagrams are packed into;
    // 0 = auto (the interface's MTU - 28).
    size_t full_datagram_bytes = 0;                         // multicast.full_datagram_bytes
};

struct StorageConfig {
    std::filesystem::path root = "data";            // storage.root (relative: to the repo/config dir's parent)
    std::filesystem::path avro_path = "data/avro";  // storage.avro_path: <avro_path>/<channel>/*.avro
    std::filesystem::path state_path = "data/state";// storage.state_path: status files, registry
    std::filesystem::path tags_path = "data/tags";  // storage.tags_path
};

// Who may use the HTTP servers (docs/security.md): one bearer token for every server.
struct AuthConfig {
    std::filesystem::path token_file = "none";  // auth.token_file ("none" = no token; relative: to the config dir)
    bool reads = true;                          // auth.reads: with a token, reads need it too
    std::string mode = "token";                 // auth.mode: "token", or "none" = no authentication even
                                                // on a non-loopback bind (on purpose)
};

// The token every server checks: $SPEEDDATA_TOKEN, else auth.token_file's first line (trailing
// space trimmed); "" when neither is set. Errors name the file and key ("global.yaml:
// auth.token_file: cannot read ...").
Result<std::string> load_token(const AuthConfig& auth, const std::filesystem::path& config_dir,
                               const std::string& origin);

struct ChannelConfig {
    std::string name;                          // key under channels:
    std::string bind = "127.0.0.1";            // channels.NAME.bind / defaults.bind
    uint16_t port = 0;                         // channels.NAME.port (required)
    std::filesystem::path schema;              // channels.NAME.schema as written: relative to the config dir
    std::filesystem::path schema_path;         // the schema file to open: absolute, normalized config_dir/schema
    std::string time_field = "time";           // channels.NAME.time_field
    std::string time_unit;                     // "", "ns", "us", "ms", "s" ("" = from logicalType, else inferred;
                                               // written "auto" in the YAML)

    size_t receive_buffer_bytes = 8u << 20;    // SO_RCVBUF request (per receive thread)
    int batch = 64;                            // datagrams per recvmmsg
    int receive_threads = 1;                   // SO_REUSEPORT sockets, one thread and file stream each
    size_t max_datagram_bytes = 65507;         // larger datagrams are counted malformed (oversized)

    size_t block_bytes = 256u << 10;           // container block flushed at this uncompressed size...
    std::chrono::milliseconds flush_interval{1000};  // ...or this age, whichever first
    avro::Codec codec = avro::Codec::null_codec;
    int codec_level = -1;
    bool fsync = false;                        // fdatasync after each block
    size_t burst_buffer_bytes = 64u << 20;     // bytes between receiving and writing (relay's burst buffer)

    std::chrono::seconds rotate_interval{3600};   // rotation.interval (0 = off)
    size_t rotate_bytes = 256u << 20;             // rotation.max_size (0 = off)
    std::chrono::seconds retention_ttl{7 * 86400};// retention.ttl (0 = keep forever)
    uint64_t retention_max_bytes = 0;             // retention.max_size per channel (0 = no quota)
    uint64_t retention_min_free_bytes = 256u << 20; // retention.min_free on the filesystem

    int decimation_factor = 10;                // decimation.factor (1 = no decimation)
    DecimationAlgorithm decimation_algorithm = DecimationAlgorithm::downsample;

    MulticastConfig multicast;                 // global multicast merged with channels.NAME.multicast
    std::filesystem::path avro_dir;            // storage.avro_path / name
    std::filesystem::path status_file;         // storage.state_path / relays / name.json
    std::chrono::seconds stats_interval{10};   // periodic log line of figures (0 = off)
};

struct RelayConfig {
    std::filesystem::path config_dir;
    StorageConfig storage;
    AuthConfig auth;
    MulticastConfig multicast;                     // global.yaml multicast merged with relay.yaml's
    ChannelConfig defaults;                        // relay.yaml defaults: over the built-ins (no name,
                                                   // port or schema); what parse_channel starts from
    std::map<std::string, ChannelConfig> channels;
    // One line per key the files spell in the earlier version's form (accepted, mapped onto
    // the new option): "config/global.yaml: multicast.full_rate.address: earlier spelling of
    // multicast.full.group". Services log them at start; `config migrate` removes them.
    std::vector<std::string> notices;
};

// Loads <config_dir>/global.yaml and <config_dir>/relay.yaml. Relative storage paths are
// resolved against the parent of config_dir (the repo root for config/), giving absolute
// paths. Every channel's schema file must be readable, a JSON Avro record schema, and hold
// the channel's time_field; ports must be distinct.
Result<RelayConfig> load_relay_config(const std::filesystem::path& config_dir);

// Builds one channel from a YAML (or JSON) mapping with the keys of a `channels.NAME` entry
// (port and schema required), starting from base.defaults and base.multicast; used by the
// orchestrator to register channels at run time. Errors read "<source_name>: <key>: ...",
// keys relative to the entry (e.g. "port"). The port must not be used by another channel of
// base.channels (a channel of the same name is being replaced, so it does not count).
Result<ChannelConfig> parse_channel(const RelayConfig& base, const std::string& name,
                                    std::string_view yaml_text, const std::string& source_name);

// The earlier (v0.6) relay's environment variables, applied over a loaded channel as
// overrides: RELAY_RX_PORT (port), RELAY_OUTPUT_DIR (the cache goes to DIR/<channel>; relative
// to the working directory), RELAY_DECIMATION_FACTOR (decimation.factor) and
// RELAY_DECIMATION_ENABLED (accepted; the decimated stream is always sent). Returns one line per
// variable set, saying what it overrides; a bad value is an error naming the variable and the
// range of the key it overrides.
using EnvLookup = std::function<const char*(const char*)>;
Result<std::vector<std::string>> apply_relay_environment(ChannelConfig& channel, const EnvLookup& getenv);

// A channel name: used in file names, multicast headers, HDF5 groups and Python attribute
// access, so 1..64 of [A-Za-z0-9_-], starting with a letter or '_'.
Status check_channel_name(std::string_view name);

// config/stripchart.yaml (merged over global.yaml): the live-chart web server.
struct StripchartConfig {
    std::filesystem::path config_dir;
    StorageConfig storage;
    AuthConfig auth;
    MulticastConfig multicast;             // the streams it subscribes to (decimated by default)
    std::string bind = "127.0.0.1";        // http.bind
    uint16_t port = 8081;                  // http.port (HTTP and WebSocket)
    double frame_rate = 30;                // frame_rate: updates per second sent to each browser (Hz)
    size_t client_queue_limit = 64;        // client_queue_limit: messages queued per client; when
                                           // full the oldest is dropped (a slow browser skips frames)
    // The orchestrator whose channel registry is polled for schemas (poll_interval 0 = off).
    std::string orchestrator_address = "127.0.0.1";              // orchestrator.address
    uint16_t orchestrator_port = 8080;                           // orchestrator.port
    std::chrono::milliseconds registry_poll_interval{2000};      // orchestrator.poll_interval
    int max_clients = 256;                 // http.max_clients: WebSocket clients at once (more get 503)
    std::vector<std::string> notices;                            // as RelayConfig::notices
};
Result<StripchartConfig> load_stripchart_config(const std::filesystem::path& config_dir);

// config/pivot.yaml (merged over global.yaml): HDF5 export, CLI and REST.
struct PivotConfig {
    std::filesystem::path config_dir;
    StorageConfig storage;
    AuthConfig auth;
    MulticastConfig multicast;
    std::string bind = "127.0.0.1";                 // http.bind
    uint16_t port = 8000;                           // http.port
    int max_channels = 20;                          // limits.max_channels per request
    std::chrono::seconds max_duration{300};         // limits.max_duration per request
    std::string compression = "gzip";               // hdf5.compression: "gzip" or "none"
    int compression_level = 1;                      // hdf5.compression_level (gzip 0..9)
    bool shuffle = true;                            // hdf5.shuffle (byte shuffle filter)
    uint64_t chunk_rows = 65536;                    // hdf5.chunk_rows (rows per dataset chunk)
    int threads = 0;                                // hdf5.threads (chunk encoders; 0 = one per core)
    int concurrent_exports = 2;                     // limits.concurrent_exports: exports running at once
    int queued_exports = 8;                         // limits.queued_exports: waiting; more get 503
    uint64_t max_temp_bytes = 4ull << 30;           // limits.max_temp_space: exports not yet sent
    std::chrono::milliseconds send_timeout{30000};  // http.send_timeout: a download making no progress is cut
    std::vector<std::string> notices;               // as RelayConfig::notices
    bool compat_v06 = false;                        // compat.v06: answer as the v0.6 pivot API did
};
Result<PivotConfig> load_pivot_config(const std::filesystem::path& config_dir);

// Effective configuration with the config files' key names (durations and sizes in their
// text form, e.g. "1s", "256KiB"), for `speeddata config show`. channel_to_json's output is
// accepted by parse_channel and gives the same channel back.
nlohmann::ordered_json channel_to_json(const ChannelConfig& channel);
nlohmann::ordered_json relay_to_json(const RelayConfig& relay);
nlohmann::ordered_json stripchart_to_json(const StripchartConfig& stripchart);
nlohmann::ordered_json pivot_to_json(const PivotConfig& pivot);

// `speeddata config migrate`: a config file of the directory that spells keys in the earlier
// version's form, with its text in the new form. Comments are kept beside or above the keys
// they belonged to; those that described keys with no counterpart are listed in
// dropped_comments. Files already in the new form are not listed.
struct MigratedFile {
    std::filesystem::path path;
    std::string original_text;
    std::string new_text;
    std::vector<std::string> notices;           // what changed, as the services report it
    std::vector<std::string> dropped_comments;  // "line 14: # Options: time, size"
};
// Every config file of config_dir (global, relay, stripchart, pivot, orchestrator .yaml) with
// earlier spellings, rewritten. The new text is checked to parse without a notice. Errors are
// those a service would report for the same files.
Result<std::vector<MigratedFile>> migrate_config(const std::filesystem::path& config_dir);

// Parses a duration: "250ms", "30s", "5m", "1h", "7d", or a plain number of seconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// Parses a size: "512", "64KiB", "1MiB", "2GiB", "1.5GB", "10k" ...
Result<uint64_t> parse_size(std::string_view text);

// Formats a duration/size in the shortest exact form parse_duration/parse_size accept:
// 1000ms -> "1s", 3600s -> "1h", 262144 -> "256KiB", 1500 -> "1500".
std::string format_duration(std::chrono::milliseconds d);
std::string format_size(uint64_t bytes);

// Markdown reference of every option: one table per file section (part of docs/config.md).
std::string options_markdown();
// The whole of docs/config.md: how files merge, duration/size syntax, an example, and
// options_markdown(). A unit test keeps the committed file equal to this.
std::string docs_markdown();

}  // namespace speeddata::config
