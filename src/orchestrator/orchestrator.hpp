// The orchestrator: one `speeddata relay` child per channel (relay.yaml's channels plus the
// ones registered at run time through the REST API and kept in a SQLite registry), restarted
// with back-off when they die, and the REST API + web console on top (docs/orchestrator.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/status.hpp"
#include "http/server.hpp"
#include "orchestrator/registry.hpp"
#include "orchestrator/supervisor.hpp"

namespace speeddata::orchestrator {

// The orchestrator's settings: config/orchestrator.yaml (option table, docs/config.md) plus
// command-line overrides.
struct Settings {
    std::string bind = "127.0.0.1";          // http.bind
    uint16_t port = 8080;                    // http.port
    std::string token;                       // from http.token_file / --token / $SPEEDDATA_TOKEN ("" = none)
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
    // Stops every relay (SIGTERM: they flush), waiting up to settings.stop_timeout each.
    void stop();
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
                 std::unique_ptr<Registry> registry);

    Status spawn_relay(const Channel& ch);
    // Builds a registered channel from its registry row (writes its schema and channel files).
    // Error messages name the request field (HTTP 400).
    Result<Channel> materialize(const RegisteredChannel& reg, const std::string& field_prefix);
    nlohmann::json channel_json(const Channel& ch) const;
    std::string port_owner(int port) const;  // channel using the port, "" if none (mutex_ held)

    http::Response h_health(const http::Request& req);
    http::Response h_list(const http::Request& req);
    http::Response h_get(const http::Request& req);
    http::Response h_register(const http::Request& req);
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
};

// True when a UDP port can be bound on any address (nobody holds it).
bool udp_port_free(int port);

}  // namespace speeddata::orchestrator
