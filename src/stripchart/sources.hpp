// Where the stripchart's data and schemas come from: multicast receiver threads and the
// orchestrator registry poller (no Beast here).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/config/config.hpp"
#include "core/status.hpp"
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
    // is a no-op. Error names the group and the OS error.
    Status join(const Group& g, const std::string& interface_address);
    void stop();
    std::vector<Group> groups() const { return groups_; }

private:
    Hub& hub_;
    std::atomic<bool> stop_{false};
    std::vector<Group> groups_;
    std::vector<std::thread> threads_;
};

// Registers every channel of relay.yaml with the hub (schema, time field and unit) and
// returns the decimated groups they send to. Channels whose schema cannot be used are
// skipped with a warning (logged); a missing relay.yaml is not an error.
std::vector<Group> load_config_channels(Hub& hub, const std::filesystem::path& config_dir);

// Polls the orchestrator's registry (GET <url>/api/v1/channels and
// /api/v1/channels/{name}/schema) and registers new channels and schemas with the hub.
class RegistryPoller {
public:
    RegistryPoller(Hub& hub, std::string url, std::chrono::milliseconds interval)
        : hub_(hub), url_(std::move(url)), interval_(interval) {}
    ~RegistryPoller() { stop(); }
    RegistryPoller(const RegistryPoller&) = delete;
    RegistryPoller& operator=(const RegistryPoller&) = delete;
    // Starts the thread (nothing when the URL is empty).
    void start();
    void stop();
    // One poll: returns how many channels were newly registered, or an error (unreachable).
    Result<int> poll_once();

private:
    Hub& hub_;
    std::string url_;
    std::chrono::milliseconds interval_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// Minimal blocking HTTP/1.0 GET over TCP for http://host:port/path (no TLS); 2 s timeouts.
// Returns the body of a 200 answer, else an error naming the URL and the status.
Result<std::string> http_get(const std::string& url);

}  // namespace speeddata::stripchart
