// cluster.* of global.yaml: several hosts as one SpeedData over NATS (docs/fleet.md). Its own
// header (not config.hpp): only the fleet's parts need it.
#pragma once

#include <filesystem>
#include <string>

#include "core/status.hpp"

namespace speeddata::config {

// cluster.nats "none": a single host, no NATS.
struct ClusterConfig {
    std::string nats = "none";  // cluster.nats: comma-separated nats:// URLs of the local NATS member(s)
    std::string host;           // cluster.host: this host's name in the fleet ("" = gethostname())
    int replicas = 0;           // cluster.replicas: copies of the fleet's buckets (0 = min(3, servers known))
    bool enabled() const { return nats != "none" && !nats.empty(); }
};

// global.yaml's cluster section (only global.yaml: every service of a host is in the same
// fleet). Errors name the file and key (a missing global.yaml is one, as for every service).
Result<ClusterConfig> load_cluster_config(const std::filesystem::path& config_dir);

// cluster.host, or the machine's hostname when it is empty.
std::string cluster_host_name(const ClusterConfig& cluster);

}  // namespace speeddata::config
