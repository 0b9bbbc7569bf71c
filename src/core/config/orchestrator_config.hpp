// config/orchestrator.yaml (merged over global.yaml): the orchestrator's REST API, port range
// for run-time registration and restart back-off. Its own header (not config.hpp) so that
// adding it did not recompile every user of config.hpp; the options live in the one option
// table (options.cpp) like every other file's.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.hpp"

namespace speeddata::config {

struct OrchestratorConfig {
    std::filesystem::path config_dir;
    StorageConfig storage;
    AuthConfig auth;
    MulticastConfig multicast;
    std::string bind = "127.0.0.1";                          // http.bind
    uint16_t port = 8080;                                    // http.port
    std::filesystem::path token_file = "none";               // http.token_file ("none" = no token;
                                                             // relative: to the config dir)
    int threads = 2;                                         // http.threads
    uint64_t max_body_bytes = 1u << 20;                      // http.max_body
    uint16_t port_range_start = 26100;                       // ports.start
    uint16_t port_range_end = 26999;                         // ports.end
    std::chrono::milliseconds restart_initial_delay{250};    // restart.initial_delay
    std::chrono::milliseconds restart_max_delay{30000};      // restart.max_delay
    std::chrono::milliseconds restart_stable_after{10000};   // restart.stable_after
    std::chrono::milliseconds stop_timeout{5000};            // relays.stop_timeout
    std::chrono::milliseconds watchdog_timeout{15000};       // relays.watchdog_timeout (0 = off)
    std::vector<std::string> notices;                        // as RelayConfig::notices
};

// Loads <config_dir>/global.yaml and, when present, <config_dir>/orchestrator.yaml (every key
// is optional, so the file may be absent). ports.end must be >= ports.start.
Result<OrchestratorConfig> load_orchestrator_config(const std::filesystem::path& config_dir);
nlohmann::ordered_json orchestrator_to_json(const OrchestratorConfig& orchestrator);

}  // namespace speeddata::config
