#include "stripchart/sources.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/net/socket.hpp"

namespace speeddata::stripchart {

Status Receiver::join(const Group& g, const std::string& interface_address) {
    std::lock_guard lock(mu_);
    if (stop_) return Status::unavailable("stopping");
    for (const Group& have : groups_)
        if (have == g) return {};
    net::UdpReceiveOptions o;
    o.receive_buffer_bytes = 4u << 20;
    o.report_drops = false;
    o.receive_timeout_ms = 100;  // so the thread sees stop_ promptly
    auto fd = net::multicast_listener(g.group, g.port, interface_address, o);
    if (!fd) return fd.status();
    groups_.push_back(g);
    threads_.emplace_back([this, sock = std::move(*fd)]() mutable {
        std::vector<uint8_t> buf(65536);
        while (!stop_.load(std::memory_order_relaxed)) {
            ssize_t n = ::recv(sock.get(), buf.data(), buf.size(), 0);
            if (n < 0) continue;  // timeout (EAGAIN) or EINTR: check stop_ again
            hub_.ingest(buf.data(), static_cast<size_t>(n));
        }
    });
    return {};
}

void Receiver::stop() {
    std::lock_guard lock(mu_);
    stop_ = true;
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
}

std::vector<Group> load_config_channels(Hub& hub, const std::filesystem::path& config_dir) {
    std::vector<Group> groups;
    if (!std::filesystem::exists(config_dir / "relay.yaml")) return groups;
    auto rc = config::load_relay_config(config_dir);
    if (!rc) {
        spdlog::warn("relay.yaml not used: {}", rc.message());
        return groups;
    }
    std::set<Group> seen;
    for (const auto& [name, ch] : rc->channels) {
        auto schema = avro::Schema::load(ch.schema_path);
        if (!schema) {
            spdlog::warn("channel '{}' skipped: {}", name, schema.message());
            continue;
        }
        auto r = hub.add_channel(name, *schema, ch.time_field, ch.time_unit);
        if (!r) {
            spdlog::warn("channel '{}' skipped: {}", name, r.message());
            continue;
        }
        Group g{ch.multicast.decimated.group, ch.multicast.decimated.port};
        if (ch.multicast.enabled && seen.insert(g).second) groups.push_back(g);
    }
    return groups;
}

Result<std::string> http_get(const std::string& url, const std::string& token) {
    // http://host[:port]/path
    const std::string prefix = "http://";
    if (url.rfind(prefix, 0) != 0) return Status::error(fmt::format("{}: only http:// URLs are supported", url));
    std::string rest = url.substr(prefix.size());
    size_t slash = rest.find('/');
    std::string hostport = rest.substr(0, slash);
    std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
    std::string host = hostport, port = "80";
    if (size_t c = hostport.rfind(':'); c != std::string::npos) {
        host = hostport.substr(0, c);
        port = hostport.substr(c + 1);
    }
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* ai = nullptr;
    if (int e = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &ai); e != 0)
        return Status::error(fmt::format("{}: {}", url, gai_strerror(e)));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> ai_owner(ai, ::freeaddrinfo);
    net::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return Status::error(net::errno_message("socket"));
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
        return Status::error(net::errno_message(fmt::format("connect {}", hostport)));
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, 2000) != 1) return Status::error(fmt::format("connect {}: timed out", hostport));
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Status::error(net::errno_message(fmt::format("connect {}", hostport), err));
    std::string auth = token.empty() ? std::string() : "Authorization: Bearer " + token + "\r\n";
    std::string req = fmt::format("GET {} HTTP/1.0\r\nHost: {}\r\nAccept: application/json\r\n{}Connection: close\r\n\r\n",
                                  path, hostport, auth);
    size_t off = 0;
    while (off < req.size()) {
        ssize_t n = ::send(fd.get(), req.data() + off, req.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN) {
            pollfd w{fd.get(), POLLOUT, 0};
            if (::poll(&w, 1, 2000) != 1) return Status::error(fmt::format("{}: send timed out", url));
            continue;
        }
        if (n <= 0) return Status::error(net::errno_message(fmt::format("send {}", url)));
        off += static_cast<size_t>(n);
    }
    std::string resp;
    char buf[16384];
    for (;;) {
        pollfd r{fd.get(), POLLIN, 0};
        if (::poll(&r, 1, 2000) != 1) return Status::error(fmt::format("{}: no answer", url));
        ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (n < 0) return Status::error(net::errno_message(fmt::format("recv {}", url)));
        if (n == 0) break;
        resp.append(buf, static_cast<size_t>(n));
        if (resp.size() > (16u << 20)) return Status::error(fmt::format("{}: answer over 16 MiB", url));
    }
    size_t sp = resp.find(' ');
    size_t body = resp.find("\r\n\r\n");
    if (sp == std::string::npos || body == std::string::npos) return Status::error(fmt::format("{}: not an HTTP answer", url));
    int status = std::atoi(resp.c_str() + sp + 1);
    if (status != 200) return Status::error(fmt::format("{}: HTTP {}", url, status));
    return resp.substr(body + 4);
}

namespace {

// The registry's list: ["a", ...], [{"name": "a", ...}], or {"channels": <either>}.
std::vector<nlohmann::json> channel_entries(const nlohmann::json& j) {
    const nlohmann::json* list = &j;
    if (j.is_object() && j.contains("channels")) list = &j["channels"];
    std::vector<nlohmann::json> out;
    if (list->is_array()) {
        for (const auto& e : *list) out.push_back(e.is_string() ? nlohmann::json{{"name", e}} : e);
    } else if (list->is_object()) {
        for (const auto& [k, v] : list->items()) {
            nlohmann::json e = v.is_object() ? v : nlohmann::json::object();
            e["name"] = k;
            out.push_back(e);
        }
    }
    return out;
}

std::string str_or(const nlohmann::json& e, const char* key, const std::string& dflt) {
    if (e.is_object() && e.contains(key) && e[key].is_string()) return e[key].get<std::string>();
    return dflt;
}

}  // namespace

Result<int> RegistryPoller::poll_once() {
    std::string base = url_;
    while (!base.empty() && base.back() == '/') base.pop_back();
    auto body = http_get(base + "/api/v1/channels", token_);
    if (!body) return body.status();
    auto j = nlohmann::json::parse(*body, nullptr, false);
    if (j.is_discarded()) return Status::error(base + "/api/v1/channels: not JSON");
    int added = 0;
    std::set<std::string> listed, remote;
    for (const auto& e : channel_entries(j)) {
        std::string name = str_or(e, "name", "");
        if (name.empty() || !config::check_channel_name(name).ok()) continue;
        listed.insert(name);
        // Another host's channel (a fleet): its live data comes over NATS, not this segment.
        if (feed_ && e.is_object() && e.contains("local") && e["local"] == false)
            remote.insert(name);
        else
            join_group_of(e);
        // The orchestrator lists each channel's fingerprint: skip the schema request when
        // this channel is already known with it.
        if (e.contains("fingerprint") && e["fingerprint"].is_string()) {
            uint64_t fp = std::strtoull(e["fingerprint"].get<std::string>().c_str(), nullptr, 16);
            if (fp != 0 && hub_.knows(name, fp)) continue;
        }
        // The schema: inline in the entry, else from /channels/{name}/schema.
        std::string text;
        if (e.contains("schema") && e["schema"].is_object()) {
            text = e["schema"].dump();
        } else {
            auto s = http_get(fmt::format("{}/api/v1/channels/{}/schema", base, name), token_);
            if (!s) continue;
            auto sj = nlohmann::json::parse(*s, nullptr, false);
            if (!sj.is_discarded() && sj.is_object() && sj.contains("schema") && sj["schema"].is_object())
                text = sj["schema"].dump();
            else
                text = *s;
        }
        auto schema = avro::Schema::parse(text);
        if (!schema) continue;
        if (hub_.knows(name, schema->fingerprint())) continue;
        auto cfg = e.contains("config") && e["config"].is_object() ? e["config"] : e;
        auto r = hub_.add_channel(name, *schema, str_or(cfg, "time_field", "time"), str_or(cfg, "time_unit", ""));
        if (r && *r) {
            spdlog::info("channel '{}' learned from the registry", name);
            ++added;
        }
    }
    // De-registered: listed before, not now. Channels the registry never listed (relay.yaml
    // without an orchestrator, learned from a datagram) are left alone.
    for (const auto& name : listed_) {
        if (listed.count(name)) continue;
        if (hub_.remove_channel(name)) spdlog::info("channel '{}' de-registered", name);
    }
    listed_ = std::move(listed);
    if (feed_) feed_->want(remote);
    return added;
}

NatsFeed::~NatsFeed() {
    std::lock_guard lock(mu_);
    subs_.clear();
    nats_.reset();
}

void NatsFeed::want(const std::set<std::string>& channels) {
    std::lock_guard lock(mu_);
    if (!nats_) {
        if (channels.empty()) return;
        auto n = fleet::Nats::connect(cluster_, "speeddata-stripchart");
        if (!n) {
            spdlog::warn("fleet: {}", n.message());
            return;
        }
        nats_ = std::move(*n);
    }
    std::erase_if(subs_, [&](const auto& kv) { return !channels.count(kv.first); });
    for (const auto& name : channels) {
        if (subs_.count(name)) continue;
        auto sub = nats_->subscribe("speeddata." + name + ".decimated", [this](const fleet::Message& m) {
            ++received_;
            hub_.ingest(reinterpret_cast<const uint8_t*>(m.data.data()), m.data.size());
        });
        if (!sub) {
            spdlog::warn("fleet: {}", sub.message());
            continue;
        }
        spdlog::info("channel '{}' of another host: live data over NATS", name);
        subs_[name] = std::move(*sub);
    }
}

void RegistryPoller::join_group_of(const nlohmann::json& e) {
    // "multicast": {"enabled": true, "decimated": "239.1.1.2:6001"} (the orchestrator's list).
    if (!receiver_ || !e.is_object() || !e.contains("multicast") || !e["multicast"].is_object()) return;
    const auto& m = e["multicast"];
    if (m.contains("enabled") && m["enabled"].is_boolean() && !m["enabled"].get<bool>()) return;
    std::string d = str_or(m, "decimated", "");
    size_t colon = d.rfind(':');
    if (colon == std::string::npos) return;
    int port = std::atoi(d.c_str() + colon + 1);
    if (port <= 0 || port > 65535) return;
    Group g{d.substr(0, colon), static_cast<uint16_t>(port)};
    if (failed_groups_.count(g)) return;
    auto have = receiver_->groups();
    if (std::find(have.begin(), have.end(), g) != have.end()) return;
    if (auto st = receiver_->join(g, interface_); !st) {
        spdlog::warn("cannot join {}:{} of channel '{}': {}", g.group, g.port, str_or(e, "name", ""),
                     st.message());
        failed_groups_.insert(g);
        return;
    }
    spdlog::info("joined {}:{} on {} (channel '{}' from the registry)", g.group, g.port, interface_,
                 str_or(e, "name", ""));
}

void RegistryPoller::start() {
    if (url_.empty()) return;
    thread_ = std::thread([this] {
        bool reported = false;
        // Started together (speeddata up), the orchestrator may answer a moment after us: wait
        // quietly, and say so only when it stays away.
        auto away_since = std::chrono::steady_clock::now();
        while (!stop_) {
            auto r = poll_once();
            const auto now = std::chrono::steady_clock::now();
            if (!r && !reported && now - away_since > std::chrono::seconds(15)) {
                spdlog::warn("orchestrator registry not reachable for 15 s ({}); retrying every {} ms",
                             r.message(), interval_.count());
                reported = true;
            } else if (r) {
                if (reported) spdlog::info("orchestrator registry reachable again");
                reported = false;
                away_since = now;
            }
            for (auto waited = std::chrono::milliseconds(0); waited < interval_ && !stop_;
                 waited += std::chrono::milliseconds(50))
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    });
}

void RegistryPoller::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

}  // namespace speeddata::stripchart
