// The orchestrator's part of the fleet (docs/fleet.md): with cluster.nats set, a thread keeps
// the registry in a replicated JetStream key-value bucket (speeddata_channels: channel name ->
// its registration and the host that runs its relay) and publishes this host's channels and
// their live figures (speeddata_hosts: host -> channels); a second thread forwards this
// host's decimated multicast to NATS subjects. Nothing here runs on the relays' data path,
// and nothing an HTTP thread does waits on NATS: the API writes to an outbox this thread
// drains, so an outage stops only the fleet features.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

#include <spdlog/spdlog.h>

#include "core/fs.hpp"
#include "core/net/mcast_header.hpp"
#include "core/net/socket.hpp"
#include "core/version.hpp"
#include "orchestrator/orchestrator.hpp"

namespace speeddata::orchestrator {

namespace fs = std::filesystem;
using http::Request;
using http::Response;
using nlohmann::json;
using namespace std::chrono;

namespace {
constexpr auto sync_interval = milliseconds(500);
constexpr auto status_interval = milliseconds(1000);
// A host whose figures have not changed for this long is shown as unreachable.
constexpr auto unreachable_after = milliseconds(5000);
constexpr const char* channels_bucket = "speeddata_channels";
constexpr const char* hosts_bucket = "speeddata_hosts";

int64_t now_ns() { return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count(); }
}  // namespace

json Orchestrator::entry_of(const RegisteredChannel& reg, const std::string& host, const std::string& source) {
    return {{"name", reg.name},       {"host", host},
            {"source", source},       {"port", reg.port},
            {"schema_json", reg.schema_json}, {"schema_path", reg.schema_path},
            {"config_json", reg.config_json}, {"created", reg.created}};
}

RegisteredChannel Orchestrator::reg_of(const json& e) {
    RegisteredChannel r;
    r.name = e.value("name", "");
    r.port = e.value("port", 0);
    r.schema_json = e.value("schema_json", "");
    r.schema_path = e.value("schema_path", "");
    r.config_json = e.value("config_json", "{}");
    r.created = e.value("created", "");
    return r;
}

void Orchestrator::start_fleet() {
    if (!cluster_.enabled()) return;
    spdlog::info("fleet: host '{}', NATS {}", host_, config::redact_nats_urls(cluster_.nats));
    fleet_thread_ = std::thread([this] { fleet_loop(); });
    forward_thread_ = std::thread([this] { fleet_forward_loop(); });
}

std::string Orchestrator::nats_error_text() const {
    std::lock_guard lock(nats_error_mutex_);
    return nats_error_;
}

bool Orchestrator::fleet_connect() {
    if (!nats_) {
        auto n = fleet::Nats::connect(cluster_, "speeddata-orchestrator@" + host_);
        if (!n) {
            spdlog::error("fleet: {} (retrying)", n.message());
            return false;
        }
        nats_ = std::move(*n);
    }
    const bool up = nats_->connected();
    if (up != nats_connected_.exchange(up))
        spdlog::info(up ? "fleet: connected to NATS" : "fleet: NATS unreachable: fleet features paused, local capture goes on");
    {
        // A refused login or certificate is not an outage that ends by itself: say why, once.
        std::string why = up ? std::string() : nats_->last_error();
        std::lock_guard lock(nats_error_mutex_);
        if (why != nats_error_ && !why.empty()) spdlog::error("fleet: NATS: {}", why);
        nats_error_ = std::move(why);
    }
    if (!up) return false;
    if (!kv_channels_ || !kv_hosts_) {
        // 0: min(3, the cluster's servers); the log says the count asked for.
        const int replicas = nats_->replicas_for(cluster_.replicas);
        auto c = nats_->bucket(channels_bucket, replicas, seconds(0));
        if (!c) {
            spdlog::warn("fleet: {} (retrying)", c.message());
            return false;
        }
        auto h = nats_->bucket(hosts_bucket, replicas, seconds(0));
        if (!h) {
            spdlog::warn("fleet: {} (retrying)", h.message());
            return false;
        }
        kv_channels_ = std::move(*c);
        kv_hosts_ = std::move(*h);
        spdlog::info("fleet: buckets {} and {} bound ({} replicas when created here)", channels_bucket, hosts_bucket,
                     replicas);
    }
    return true;
}

void Orchestrator::fleet_loop() {
    while (!fleet_stop_) {
        const auto t0 = steady_clock::now();
        if (fleet_connect()) fleet_sync();
        while (!fleet_stop_ && steady_clock::now() - t0 < sync_interval) std::this_thread::sleep_for(milliseconds(20));
    }
}

void Orchestrator::fleet_sync() {
    // 1. What the API changed since the last round; on the first round also this host's
    //    channels the bucket lacks (registered before it joined, or while NATS was down).
    std::map<std::string, json> puts;
    std::set<std::string> dels;
    {
        std::lock_guard lock(mutex_);
        puts.swap(outbox_put_);
        dels.swap(outbox_del_);
    }
    auto current = kv_channels_->entries();
    if (!current) {
        spdlog::warn("fleet: {}", current.message());
        std::lock_guard lock(mutex_);
        for (auto& [k, v] : puts) outbox_put_.emplace(k, v);
        for (const auto& k : dels) outbox_del_.insert(k);
        return;
    }
    std::map<std::string, json> entries;
    for (const auto& [k, v] : *current) {
        json j = json::parse(v, nullptr, false);
        if (j.is_object()) entries[k] = std::move(j);
    }
    if (!fleet_synced_) {
        std::lock_guard lock(mutex_);
        for (const auto& [name, ch] : channels_) {
            auto it = entries.find(name);
            if (it != entries.end() && it->second.value("host", "") != host_) {
                if (!ch.registered)
                    spdlog::error("fleet: channel '{}' of relay.yaml is also host '{}''s: two channels of one name", name,
                                  it->second.value("host", ""));
                continue;  // a registered one is stopped below: the fleet's registry wins
            }
            json want;
            if (ch.registered) {
                want = entry_of(ch.reg, host_, "api");
            } else {
                RegisteredChannel r;
                r.name = name;
                r.port = ch.cfg.port;
                if (auto text = read_file(ch.cfg.schema_path)) r.schema_json = std::move(*text);
                r.schema_path = ch.cfg.schema.string();
                r.config_json = config::channel_to_json(ch.cfg).dump();
                r.created = started_iso_;
                want = entry_of(r, host_, "config");
            }
            if (it == entries.end() || it->second != want) puts.emplace(name, want);
        }
        // relay.yaml channels this host no longer has.
        for (const auto& [name, e] : entries)
            if (e.value("host", "") == host_ && e.value("source", "") == "config" && !channels_.count(name))
                dels.insert(name);
    }
    for (const auto& [name, e] : puts) {
        if (auto st = kv_channels_->put(name, e.dump()); !st.ok()) {
            spdlog::warn("fleet: {}", st.message());
            std::lock_guard lock(mutex_);
            outbox_put_.emplace(name, e);
            continue;
        }
        entries[name] = e;
    }
    for (const auto& name : dels) {
        if (auto st = kv_channels_->remove(name); !st.ok()) {
            spdlog::warn("fleet: {}", st.message());
            std::lock_guard lock(mutex_);
            outbox_del_.insert(name);
            continue;
        }
        entries.erase(name);
    }

    // 2. Run what the fleet assigns to this host; stop what it no longer does.
    std::vector<std::pair<std::string, Channel>> stopped;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, e] : entries) {
            if (e.value("host", "") != host_ || e.value("source", "") != "api" || channels_.count(name)) continue;
            if (outbox_del_.count(name)) continue;
            RegisteredChannel reg = reg_of(e);
            if (auto owner = port_owner(reg.port); !owner.empty()) {
                spdlog::error("fleet: channel {}: port {} is used by channel {} here (not started)", name, reg.port, owner);
                continue;
            }
            auto ch = materialize(reg, "");
            if (!ch) {
                spdlog::error("fleet: channel {}: {} (not started)", name, ch.message());
                continue;
            }
            if (auto st = registry_->put(reg); !st.ok()) spdlog::error("fleet: channel {}: {}", name, st.message());
            if (auto st = spawn_relay(*ch); !st.ok()) {
                spdlog::error("fleet: channel {}: start relay: {}", name, st.message());
                continue;
            }
            channels_[name] = std::move(*ch);
            spdlog::info("fleet: started channel {} on port {} (assigned to this host)", name, reg.port);
        }
        for (auto it = channels_.begin(); it != channels_.end();) {
            const auto& [name, ch] = *it;
            auto e = entries.find(name);
            const bool gone = e == entries.end() && fleet_synced_ && !outbox_put_.count(name);
            const bool moved = e != entries.end() && e->second.value("host", "") != host_;
            if (ch.registered && (gone || moved)) {
                (void)registry_->remove(name);
                stopped.emplace_back(name, std::move(it->second));
                it = channels_.erase(it);
            } else {
                ++it;
            }
        }
        fleet_entries_ = entries;
        for (const auto& [name, e] : outbox_put_) fleet_entries_[name] = e;
    }
    for (auto& [name, ch] : stopped) {
        supervisor_.remove(name, settings_.stop_timeout);
        std::error_code ec;
        fs::remove(ch.channel_file, ec);
        fs::remove(ch.schema_file, ec);
        spdlog::info("fleet: stopped channel {} (de-registered or moved to another host)", name);
    }
    fleet_synced_ = true;

    // 3. This host's channels and figures out, the other hosts' in.
    const auto now = steady_clock::now();
    if (now >= next_status_) {
        next_status_ = now + status_interval;
        json mine = {{"host", host_}, {"updated_ns", now_ns()}, {"version", speeddata::version},
                     {"api", "http://" + settings_.bind + ":" + std::to_string(settings_.port)}};
        json list = json::array();
        {
            std::lock_guard lock(mutex_);
            for (const auto& [name, ch] : channels_) list.push_back(channel_json(ch));
        }
        mine["channels"] = std::move(list);
        if (auto st = kv_hosts_->put(host_, mine.dump()); !st.ok()) spdlog::warn("fleet: {}", st.message());
    }
    auto hosts = kv_hosts_->entries();
    if (!hosts) return;
    std::lock_guard lock(mutex_);
    hosts_read_ = now;
    for (const auto& [h, v] : *hosts) {
        if (h == host_) continue;
        json j = json::parse(v, nullptr, false);
        if (!j.is_object()) continue;
        auto& seen = hosts_[h];
        const int64_t updated = j.value("updated_ns", int64_t{0});
        if (updated != seen.updated_ns) {
            seen.updated_ns = updated;
            seen.changed = now;
        }
        seen.status = std::move(j);
    }
}

// A host is reachable while its entry keeps changing as we read it: it has not changed for
// unreachable_after between our reads (so a slow round of ours, as while JetStream elects a
// new leader, does not make every host look gone), and we have read recently at all.
bool Orchestrator::host_fresh(const HostSeen& seen, steady_clock::time_point now) const {
    return nats_connected_ && hosts_read_ - seen.changed < unreachable_after && now - hosts_read_ < 2 * unreachable_after;
}

std::vector<json> Orchestrator::remote_channels_json() const {
    std::vector<json> out;
    std::set<std::string> shown;
    const auto now = steady_clock::now();
    for (const auto& [h, seen] : hosts_) {
        const bool fresh = host_fresh(seen, now);
        const json& list = seen.status.contains("channels") ? seen.status["channels"] : json::array();
        if (!list.is_array()) continue;
        for (json j : list) {
            if (!j.is_object()) continue;
            const std::string name = j.value("name", "");
            if (name.empty() || channels_.count(name) || shown.count(name)) continue;
            // The fleet's registry decides where a registered channel lives (a stale report of
            // a moved or removed one is not shown).
            auto e = fleet_entries_.find(name);
            if (j.value("source", "") == "api" && (e == fleet_entries_.end() || e->second.value("host", "") != h))
                continue;
            j["host"] = h;
            j["local"] = false;
            j["reachable"] = fresh;
            j["reported_age_s"] = duration<double>(now - seen.changed).count();
            if (!fresh) {
                j["status"] = "unreachable";
                j["activity"] = "unreachable";
            }
            shown.insert(name);
            out.push_back(std::move(j));
        }
    }
    // Assigned in the registry, not reported by its host yet (starting, or the host is down).
    for (const auto& [name, e] : fleet_entries_) {
        const std::string h = e.value("host", "");
        if (h == host_ || shown.count(name) || channels_.count(name)) continue;
        auto hs = hosts_.find(h);
        const bool fresh = hs != hosts_.end() && host_fresh(hs->second, now);
        json j = {{"name", name}, {"host", h}, {"local", false}, {"reachable", fresh},
                  {"source", e.value("source", "api")}, {"port", e.value("port", 0)},
                  {"created", e.value("created", "")}, {"figures", nullptr}};
        j["status"] = fresh ? "starting" : "unreachable";
        j["activity"] = j["status"];
        out.push_back(std::move(j));
    }
    return out;
}

std::optional<json> Orchestrator::remote_entry(const std::string& name) const {
    if (!cluster_.enabled()) return std::nullopt;
    for (auto& j : remote_channels_json())
        if (j.value("name", "") == name) return j;
    return std::nullopt;
}

Response Orchestrator::h_fleet(const Request&) {
    std::lock_guard lock(mutex_);
    json hosts = json::array();
    const auto now = steady_clock::now();
    hosts.push_back({{"host", host_}, {"self", true}, {"reachable", true}, {"channels", channels_.size()}});
    for (const auto& [h, seen] : hosts_) {
        const bool fresh = host_fresh(seen, now);
        const json& list = seen.status.contains("channels") ? seen.status["channels"] : json::array();
        hosts.push_back({{"host", h}, {"self", false}, {"reachable", fresh},
                         {"channels", list.is_array() ? list.size() : 0},
                         {"reported_age_s", duration<double>(now - seen.changed).count()},
                         {"api", seen.status.value("api", "")}});
    }
    return Response::json(200, {{"enabled", cluster_.enabled()},
                                {"host", host_},
                                {"nats", cluster_.enabled() ? json(config::redact_nats_urls(cluster_.nats)) : json(nullptr)},
                                {"connected", nats_connected_.load()},
                                {"nats_error", nats_error_text()},
                                {"tls", cluster_.tls()},
                                {"auth", !cluster_.user.empty()                    ? "user"
                                         : !cluster_.token.empty()                   ? "token"
                                         : cluster_.nats.find('@') != std::string::npos ? "url"
                                                                                        : "none"},
                                {"hosts", hosts},
                                {"forwarded", forwarded_.load()},
                                {"forward_errors", forward_errors_.load()}});
}

// This host's decimated streams to `speeddata.<channel>.decimated`, the datagrams as they are
// (header and sequence numbers included, so a subscriber counts loss as a multicast one does).
// One socket per decimated group:port of this host's channels; only this host's channels are
// forwarded (a LAN interface may carry other hosts' streams on the same group).
void Orchestrator::fleet_forward_loop() {
    struct Sock {
        std::string key;
        Fd fd;
    };
    std::vector<Sock> socks;
    std::map<std::string, std::string, std::less<>> subjects;  // local channel -> subject
    std::vector<uint8_t> buf(65536);
    auto next_refresh = steady_clock::now();
    while (!fleet_stop_) {
        if (steady_clock::now() >= next_refresh) {
            next_refresh = steady_clock::now() + milliseconds(500);
            std::map<std::string, std::pair<std::string, uint16_t>> groups;
            std::map<std::string, std::string, std::less<>> names;
            std::string iface;
            {
                std::lock_guard lock(mutex_);
                for (const auto& [name, ch] : channels_) {
                    names[name] = "speeddata." + name + ".decimated";
                    if (!ch.cfg.multicast.enabled) continue;
                    const auto& d = ch.cfg.multicast.decimated;
                    groups[d.group + ":" + std::to_string(d.port) + "@" + ch.cfg.multicast.interface] = {d.group, d.port};
                    iface = ch.cfg.multicast.interface;
                }
            }
            subjects.swap(names);
            std::erase_if(socks, [&](const Sock& s) { return !groups.count(s.key); });
            for (const auto& [key, gp] : groups) {
                // A named copy: clang 14 cannot capture a structured binding in a lambda.
                const std::string& k = key;
                if (std::any_of(socks.begin(), socks.end(), [&k](const Sock& s) { return s.key == k; })) continue;
                net::UdpReceiveOptions o;
                o.receive_buffer_bytes = 4u << 20;
                o.report_drops = false;
                o.receive_timeout_ms = 100;
                const std::string ifa = key.substr(key.find('@') + 1);
                auto fd = net::multicast_listener(gp.first, gp.second, ifa, o);
                if (!fd) {
                    spdlog::warn("fleet: cannot join {}: {} (its channels are not forwarded)", key, fd.message());
                    continue;
                }
                socks.push_back({key, std::move(*fd)});
            }
        }
        if (socks.empty()) {
            std::this_thread::sleep_for(milliseconds(100));
            continue;
        }
        std::vector<pollfd> pfds;
        for (const auto& s : socks) pfds.push_back({s.fd.get(), POLLIN, 0});
        if (::poll(pfds.data(), pfds.size(), 100) <= 0) continue;
        for (const auto& p : pfds) {
            if (!(p.revents & POLLIN)) continue;
            for (;;) {
                const ssize_t n = ::recv(p.fd, buf.data(), buf.size(), MSG_DONTWAIT);
                if (n <= 0) break;
                const auto h = net::parse_mcast_header(buf.data(), static_cast<size_t>(n));
                if (!h) continue;
                auto it = subjects.find(h->channel);  // transparent: no string per datagram
                if (it == subjects.end()) continue;
                if (!nats_connected_ || !nats_) {
                    ++forward_errors_;
                    continue;
                }
                if (nats_->publish(it->second, std::string_view(reinterpret_cast<const char*>(buf.data()),
                                                                  static_cast<size_t>(n)))
                        .ok())
                    ++forwarded_;
                else
                    ++forward_errors_;
            }
        }
    }
}

}  // namespace speeddata::orchestrator
