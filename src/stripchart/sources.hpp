// Where the stripchart's data and schemas come from: multicast receiver threads and the
// orchestrator registry poller (no Beast here).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config/config.hpp"
#include "core/status.hpp"
#include "fleet/nats.hpp"
#include "stripchart/hub.hpp"

namespace speeddata::stripchart {

struct Group {
    std::string group;
    uint16_t port = 0;
    bool operator<(const Group& o) const { return std::tie(group, port) < std::tie(o.group, o.port); }
    bool operator==(const Group& o) const { return group == o.group && port == o.port; }
};

// Receives datagrams from multicast groups (one thread per group) into the hub.
class Receiver {
public:
    explicit Receiver(Hub& hub) : hub_(hub) {}
    ~Receiver() { stop(); }
    Receiver(const Receiver&) = delete;
    Receiver& operator=(const Receiver&) = delete;

    // Joins group:port on the interface and starts its thread; joining the same group twice
    // is a no-op. Error names the group and the OS error. Thread-safe (the registry poller
    // joins the groups of channels registered later).
    Status join(const Group& g, const std::string& interface_address);
    void stop();
    std::vector<Group> groups() const {
        std::lock_guard lock(mu_);
        return groups_;
    }

private:
    Hub& hub_;
    mutable std::mutex mu_;
    std::atomic<bool> stop_{false};
    std::vector<Group> groups_;
    std::vector<std::thread> threads_;
};

// Registers every channel of relay.yaml with the hub (schema, time field and unit) and
// returns the decimated groups they send to. Channels whose schema cannot be used are
// skipped with a warning (logged); a missing relay.yaml is not an error.
std::vector<Group> load_config_channels(Hub& hub, const std::filesystem::path& config_dir);

// Live data of other hosts' channels (docs/fleet.md): subscribes to
// `speeddata.<channel>.decimated` for each channel the registry lists as another host's and
// feeds the datagrams to the hub as the multicast receivers do (same bytes: loss is still
// counted from sequence numbers). Subscriptions survive NATS outages (the client reconnects).
class NatsFeed {
public:
    NatsFeed(Hub& hub, config::ClusterConfig cluster) : hub_(hub), cluster_(std::move(cluster)) {}
    ~NatsFeed();
    NatsFeed(const NatsFeed&) = delete;
    NatsFeed& operator=(const NatsFeed&) = delete;
    // Subscribes to these channels' subjects, unsubscribes from the others.
    void want(const std::set<std::string>& channels);
    uint64_t received() const { return received_; }

private:
    Hub& hub_;
    config::ClusterConfig cluster_;
    std::mutex mu_;
    std::unique_ptr<fleet::Nats> nats_;
    std::map<std::string, std::unique_ptr<fleet::Subscription>> subs_;
    std::atomic<uint64_t> received_{0};
};

// Polls the orchestrator's registry (GET <url>/api/v1/channels and
// /api/v1/channels/{name}/schema) and registers new channels and schemas with the hub. A
// channel the registry listed and lists no more (de-registered) is removed from the hub; a
// listed channel whose decimated group is not joined yet is joined (set_receiver).
class RegistryPoller {
public:
    RegistryPoller(Hub& hub, std::string url, std::chrono::milliseconds interval, std::string token = {})
        : hub_(hub), url_(std::move(url)), interval_(interval), token_(std::move(token)) {}
    ~RegistryPoller() { stop(); }
    RegistryPoller(const RegistryPoller&) = delete;
    RegistryPoller& operator=(const RegistryPoller&) = delete;
    // Where new decimated groups are joined (none: they are not).
    void set_receiver(Receiver* receiver, std::string interface_address) {
        receiver_ = receiver;
        interface_ = std::move(interface_address);
    }
    // Where other hosts' channels ("local": false in the list) are subscribed (none: they are not).
    void set_nats_feed(NatsFeed* feed) { feed_ = feed; }
    // Starts the thread (nothing when the URL is empty).
    void start();
    void stop();
    // One poll: returns how many channels were newly registered, or an error (unreachable).
    Result<int> poll_once();

private:
    void join_group_of(const nlohmann::json& entry);
    Hub& hub_;
    std::string url_;
    std::chrono::milliseconds interval_;
    std::string token_;  // the stack's bearer token, for an orchestrator that guards reads
    Receiver* receiver_ = nullptr;
    NatsFeed* feed_ = nullptr;
    std::string interface_;
    std::set<std::string> listed_;        // channels the registry listed at the last poll
    std::set<Group> failed_groups_;       // joins that failed (reported once)
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// Minimal blocking HTTP/1.0 GET over TCP for http://host:port/path (no TLS); 2 s timeouts.
// Returns the body of a 200 answer, else an error naming the URL and the status.
// token: sent as "Authorization: Bearer <token>" when not empty.
Result<std::string> http_get(const std::string& url, const std::string& token = {});

}  // namespace speeddata::stripchart
