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
    // How this host proves itself to NATS, and checks NATS (docs/fleet.md, "Securing NATS").
    // At most one of user + password_file, token_file. Files: "none", or relative to the config dir.
    std::string user;                              // cluster.user ("" = none)
    std::filesystem::path password_file = "none";  // cluster.password_file
    std::filesystem::path token_file = "none";     // cluster.token_file
    std::filesystem::path tls_ca = "none";         // cluster.tls.ca: CA certificates that sign the servers'
    std::filesystem::path tls_cert = "none";       // cluster.tls.cert: this host's certificate chain (mTLS)
    std::filesystem::path tls_key = "none";        // cluster.tls.key: its private key
    // Filled by load_cluster_config: the secrets read from their files, and the TLS files made
    // absolute (empty when not set).
    std::string password, token;
    std::string tls_ca_file, tls_cert_file, tls_key_file;
    bool enabled() const { return nats != "none" && !nats.empty(); }
    // TLS is on when a URL says tls:// or a CA or certificate is given.
    bool tls() const { return nats.find("tls://") != std::string::npos || !tls_ca_file.empty() || !tls_cert_file.empty(); }
};

// global.yaml's cluster section (only global.yaml: every service of a host is in the same
// fleet). Errors name the file and key (a missing global.yaml is one, as for every service).
Result<ClusterConfig> load_cluster_config(const std::filesystem::path& config_dir);

// cluster.nats for logs and the API: a password or token written in a URL
// (nats://user:secret@host) is shown as "***".
std::string redact_nats_urls(const std::string& urls);

// cluster.host, or the machine's hostname when it is empty.
std::string cluster_host_name(const ClusterConfig& cluster);

}  // namespace speeddata::config
