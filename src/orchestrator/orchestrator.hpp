// The orchestrator: one `speeddata relay` child per channel (relay.yaml's channels plus the
// ones registered at run time through the REST API and kept in a SQLite registry), restarted
// with back-off when they die, and the REST API + web console on top (docs/orchestrator.md).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/config/cluster.hpp"
#include "core/config/config.hpp"
#include "core/status.hpp"
#include "fleet/nats.hpp"
#include "http/server.hpp"
#include "orchestrator/registry.hpp"
#include "orchestrator/supervisor.hpp"

namespace speeddata::orchestrator {

// The orchestrator's settings: config/orchestrator.yaml (option table, docs/config.md) plus
// command-line overrides.
struct Settings {
    std::string bind = "127.0.0.1";          // http.bind
    uint16_t port = 8080;                    // http.port
    std::string token;                       // --token > $SPEEDDATA_TOKEN > http.token_file > auth.token_file ("" = none)
    bool protect_reads = true;               // auth.reads
    std::string auth_mode = "token";         // auth.mode ("none": no token needed on a network bind)
    std::chrono::milliseconds watchdog_timeout{15000};  // relays.watchdog_timeout (0 = off)
    int threads = 2;                         // http.threads: io threads
    size_t max_body_bytes = 1u << 20;        // http.max_body: larger request bodies get 413
    uint16_t port_range_start = 26100;       // ports.start: auto-assigned UDP ports...
    uint16_t port_range_end = 26999;         // ports.end: ...come from [start, end]
    BackoffOptions backoff;                  // restart.{initial_delay,max_delay,stable_after}
    std::chrono::milliseconds stop_timeout{5000};  // relays.stop_timeout: SIGKILL after this
    std::filesystem::path static_root;       // console files (found next to the executable)
};

// Reads <config_dir>/orchestrator.yaml (config::load_orchestrator_config) and the token file;
// a missing file gives the defaults. Errors name the file and key.
Result<Settings> load_settings(const std::filesystem::path& config_dir);

class Orchestrator {
public:
    // Loads relay.yaml (+global.yaml) and opens the registry under storage.state_path.
    static Result<std::unique_ptr<Orchestrator>> create(const std::filesystem::path& config_dir, Settings settings);
    ~Orchestrator();

    // Starts a relay for every channel of relay.yaml and of the registry.
    Status start();
    // Reaps and restarts relays; call every ~100 ms.
    void poll();
    // Stops the fleet link, then every relay (SIGTERM: they flush), waiting up to
    // settings.stop_timeout each.
    void stop();
    // The fleet (docs/fleet.md): with cluster.nats set, connects to NATS in a thread of its
    // own and keeps the registry, the hosts' figures and the live streams in step.
    void start_fleet();
    // The REST API routes (under /api/v1, plus /metrics).
    void add_routes(http::Router& router);

    const Settings& settings() const { return settings_; }
    const config::RelayConfig& relay_config() const { return relay_cfg_; }

private:
    struct Channel {
        config::ChannelConfig cfg;
        bool registered = false;        // true: from the API/registry; false: relay.yaml
        RegisteredChannel reg;          // when registered
        std::filesystem::path channel_file;  // --channel-config file (registered channels)
        std::filesystem::path schema_file;   // stored inline schema (registered, inline)
        std::string fingerprint;        // hex of the schema's CRC-64-AVRO fingerprint
    };

    Orchestrator(std::filesystem::path config_dir, Settings settings, config::RelayConfig relay_cfg,
                 config::ClusterConfig cluster, std::unique_ptr<Registry> registry);

    Status spawn_relay(const Channel& ch);
    void watchdog();
    // Imports the earlier version's registry (<storage.root>/registry.db) once, at the first
    // start that finds it (docs/upgrading.md); problems are logged, never fatal.
    void import_earlier_registry();
    // A schema file named by the API (schema_path, or a path string in `schema`), as a file
    // inside the config directory: relative to it, else (the earlier form,
    // "config/agents/x.avsc") relative to its parent. Error messages start with field.
    Result<std::filesystem::path> schema_file_for(const std::string& path, const std::string& field) const;
    // Builds a registered channel from its registry row (writes its schema and channel files).
    // Error messages name the request field (HTTP 400).
    // dir: where the channel and schema files go (default <work>/channels).
    Result<Channel> materialize(const RegisteredChannel& reg, const std::string& field_prefix,
                                const std::filesystem::path& dir = {});
    nlohmann::json channel_json(const Channel& ch) const;

    // ---- the fleet (fleet.cpp; all of it idle unless cluster_.enabled())
    void fleet_loop();
    bool fleet_connect();     // connection and buckets; false: try again later
    std::string nats_error_text() const;
    void fleet_sync();        // one round: registry both ways, figures out and in
    void fleet_forward_loop();  // decimated multicast of this host's channels -> NATS subjects
    static nlohmann::json entry_of(const RegisteredChannel& reg, const std::string& host, const std::string& source);
    static RegisteredChannel reg_of(const nlohmann::json& entry);
    // Remote channels for the API, marked unreachable when their host has not reported for
    // a while (mutex_ held).
    std::vector<nlohmann::json> remote_channels_json() const;
    std::optional<nlohmann::json> remote_entry(const std::string& name) const;  // mutex_ held
    http::Response h_fleet(const http::Request& req);
    std::string port_owner(int port) const;  // channel using the port, "" if none (mutex_ held)

    http::Response h_health(const http::Request& req);
    http::Response h_list(const http::Request& req);
    http::Response h_get(const http::Request& req);
    http::Response h_register(const http::Request& req);
    http::Response register_channel(const http::Request& req);
    http::Response h_deregister(const http::Request& req);
    http::Response h_schema(const http::Request& req);
    http::Response h_validate(const http::Request& req);
    http::Response h_ports_available(const http::Request& req);
    http::Response h_port_status(const http::Request& req);
    http::Response h_metrics(const http::Request& req);

    std::filesystem::path config_dir_;
    Settings settings_;
    config::RelayConfig relay_cfg_;
    std::unique_ptr<Registry> registry_;
    Supervisor supervisor_;
    std::filesystem::path exe_;
    std::filesystem::path work_dir_;  // <state_path>/orchestrator: channel files, schemas, logs
    mutable std::mutex mutex_;        // guards channels_ (and registration as a whole)
    std::map<std::string, Channel> channels_;
    struct StatusCache {
        std::filesystem::file_time_type mtime;
        nlohmann::json status;  // parsed relay status file (null if unreadable)
    };
    mutable std::map<std::string, StatusCache> status_cache_;  // by channel, guarded by mutex_
    std::chrono::system_clock::time_point started_ = std::chrono::system_clock::now();
    std::string started_iso_;  // started_ in ISO 8601: created_at of relay.yaml channels
    std::chrono::steady_clock::time_point next_watchdog_{};

    config::ClusterConfig cluster_;
    std::string host_;  // this host's name in the fleet (cluster.host or the hostname)
    std::unique_ptr<fleet::Nats> nats_;             // fleet thread only (and its handlers)
    std::unique_ptr<fleet::Bucket> kv_channels_;    // speeddata_channels: name -> entry
    std::unique_ptr<fleet::Bucket> kv_hosts_;       // speeddata_hosts: host -> its channels' figures
    std::thread fleet_thread_, forward_thread_;
    std::atomic<bool> fleet_stop_{false};
    std::atomic<bool> nats_connected_{false};
    mutable std::mutex nats_error_mutex_;
    std::string nats_error_;  // why NATS is not connected ("" when it is): /api/v1/fleet
    bool fleet_synced_ = false;                      // one full sync done since start (fleet thread)
    std::chrono::steady_clock::time_point next_status_{};
    // Guarded by mutex_:
    // What the API changed, for the fleet thread to write to the bucket (HTTP threads never
    // wait on NATS): entries to put, names to delete.
    std::map<std::string, nlohmann::json> outbox_put_;
    std::set<std::string> outbox_del_;
    std::map<std::string, nlohmann::json> fleet_entries_;  // the bucket's entries at the last sync
    struct HostSeen {
        nlohmann::json status;                       // its last speeddata_hosts value
        int64_t updated_ns = 0;
        std::chrono::steady_clock::time_point changed;  // when we last saw updated_ns change
    };
    std::map<std::string, HostSeen> hosts_;
    std::chrono::steady_clock::time_point hosts_read_{};  // the last successful read of speeddata_hosts
    bool host_fresh(const HostSeen& seen, std::chrono::steady_clock::time_point now) const;  // mutex_ held
    std::atomic<uint64_t> forwarded_{0}, forward_errors_{0};
};

// True when a UDP port can be bound on any address (nobody holds it).
bool udp_port_free(int port);

}  // namespace speeddata::orchestrator
