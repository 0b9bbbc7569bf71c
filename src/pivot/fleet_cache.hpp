// One export across a fleet (docs/fleet.md): each host's pivot answers NATS requests for the
// cache files of its channels (request/reply, in chunks), and an export on any host first
// gathers the files of the channels it does not cache itself, then runs the local export over
// them, so exactness, limits and errors are the local export's.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/cluster.hpp"
#include "core/config/config.hpp"
#include "core/status.hpp"
#include "fleet/nats.hpp"

namespace speeddata::pivot {

class FleetCache {
public:
    // Connects (in the background) and starts answering for this host's cache; nullptr when
    // cluster.nats is none.
    static std::unique_ptr<FleetCache> start(const config::PivotConfig& cfg, const config::ClusterConfig& cluster);
    ~FleetCache();

    // A directory laid out as an avro_path holding every channel of `channels`: this host's
    // (symbolic links to its cache) and the others' files overlapping [start, end), fetched from
    // the host that caches them. A channel no host answers for is left out (the export then
    // names it as unknown). The caller removes the directory.
    Result<std::filesystem::path> gather(const std::vector<std::string>& channels, int64_t start_ns, int64_t end_ns,
                                         const std::filesystem::path& parent);
    const std::string& host() const { return host_; }
    // True when every channel is in this host's cache (no fleet work needed).
    bool all_local(const std::vector<std::string>& channels) const;

    // Tags kept by the fleet: the tag's HDF5 file in chunks in the replicated JetStream stream
    // SPEEDDATA_TAGS (nats.c 3.4 has no object store), its description in the key-value bucket
    // speeddata_tags under "<host>-<id>", so it outlives the host that made it.
    Status store_tag(const nlohmann::json& tag, const std::filesystem::path& file);
    // Every tag the fleet keeps (descriptions, each with "key" and "host").
    Result<std::vector<nlohmann::json>> list_tags();
    // Writes the tag's file to `to`; returns its description. not_found: no such key.
    Result<nlohmann::json> fetch_tag(const std::string& key, const std::filesystem::path& to);

private:
    Status not_connected() const;  // 503, with why NATS is not connected when nats.c knows
    FleetCache(config::PivotConfig cfg, config::ClusterConfig cluster, std::string host, std::unique_ptr<fleet::Nats> nats);
    void on_files(const fleet::Message& m);
    void on_read(const fleet::Message& m);
    config::PivotConfig cfg_;
    config::ClusterConfig cluster_;
    std::string host_;
    std::unique_ptr<fleet::Nats> nats_;
    Status ensure_tag_storage();
    std::unique_ptr<fleet::Subscription> files_sub_, read_sub_;
    std::mutex tags_mu_;
    std::unique_ptr<fleet::Bucket> tags_kv_;  // bound on first use
};

}  // namespace speeddata::pivot
