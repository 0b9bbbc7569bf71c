// SpeedData configuration: config/global.yaml merged with each service's file.
//
// One description of every option (config/options.cpp, the option table) drives parsing,
// defaults, validation and docs/config.md (`speeddata config docs`). Unknown keys, wrong
// types and missing files are errors naming the file, the key and what was expected:
//   "config/relay.yaml: channels.example.port: expected an integer 1..65535, got 'abc'".
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/avro/container.hpp"
#include "core/status.hpp"

namespace speeddata::config {

enum class DecimationAlgorithm : uint8_t { downsample, average, minmax, rms };
Result<DecimationAlgorithm> parse_algorithm(std::string_view name);
std::string_view algorithm_name(DecimationAlgorithm a);

struct MulticastStream {
    std::string group;   // IPv4 multicast group
    uint16_t port = 0;
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
};

struct StorageConfig {
    std::filesystem::path root = "data";            // storage.root (relative: to the repo/config dir's parent)
    std::filesystem::path avro_path = "data/avro";  // storage.avro_path: <avro_path>/<channel>/*.avro
    std::filesystem::path state_path = "data/state";// storage.state_path: status files, registry
    std::filesystem::path tags_path = "data/tags";  // storage.tags_path
};

struct ChannelConfig {
    std::string name;                          // key under channels:
    std::string bind = "127.0.0.1";            // channels.NAME.bind / defaults.bind
    uint16_t port = 0;                         // channels.NAME.port (required)
    std::filesystem::path schema_path;         // channels.NAME.schema, relative to config dir
    std::string time_field = "time";           // channels.NAME.time_field
    std::string time_unit;                     // "", "ns", "us", "ms", "s" ("" = from logicalType, else inferred)

    size_t receive_buffer_bytes = 8u << 20;    // SO_RCVBUF request
    int batch = 64;                            // datagrams per recvmmsg
    size_t max_datagram_bytes = 65507;         // larger datagrams are counted malformed (oversized)

    size_t block_bytes = 256u << 10;           // container block flushed at this uncompressed size...
    std::chrono::milliseconds flush_interval{1000};  // ...or this age, whichever first
    avro::Codec codec = avro::Codec::null_codec;
    int codec_level = -1;
    bool fsync = false;                        // fdatasync after each block

    std::chrono::seconds rotate_interval{3600};   // rotation.interval (0 = off)
    size_t rotate_bytes = 256u << 20;             // rotation.max_bytes (0 = off)
    std::chrono::seconds retention_ttl{7 * 86400};// retention.ttl (0 = keep forever)
    uint64_t retention_max_bytes = 0;             // retention.max_bytes per channel (0 = no quota)
    uint64_t retention_min_free_bytes = 256u << 20; // retention.min_free_bytes on the filesystem

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
    MulticastConfig multicast;
    std::map<std::string, ChannelConfig> channels;
};

// Loads <config_dir>/global.yaml and <config_dir>/relay.yaml. Relative storage paths are
// resolved against the parent of config_dir (the repo root for config/).
Result<RelayConfig> load_relay_config(const std::filesystem::path& config_dir);

// Parses a duration: "250ms", "30s", "5m", "1h", "7d", or a plain number of seconds.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);
// Parses a size: "512", "64KiB", "1MiB", "2GiB", "1.5GB", "10k" ...
Result<uint64_t> parse_size(std::string_view text);

// Markdown reference of every option (the body of docs/config.md).
std::string options_markdown();

}  // namespace speeddata::config
