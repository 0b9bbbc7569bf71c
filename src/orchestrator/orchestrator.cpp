#include "orchestrator/orchestrator.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include <spdlog/spdlog.h>

#include "core/avro/schema.hpp"
#include "core/config/orchestrator_config.hpp"
#include "core/fs.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

namespace speeddata::orchestrator {

namespace fs = std::filesystem;
using http::Request;
using http::Response;
using nlohmann::json;
using namespace std::chrono;

// ---------------------------------------------------------------- settings

namespace {

std::string iso_now() { return format_iso8601_seconds(now_ns()); }

std::string iso_time(system_clock::time_point tp) {
    return format_iso8601_seconds(duration_cast<nanoseconds>(tp.time_since_epoch()).count());
}

// True when child is inside dir (both made absolute and normalized; symlinks resolved where
// they exist), so "agents/../../etc/passwd" and symlinks out of the tree are refused.
bool inside(const fs::path& dir, const fs::path& child) {
    std::error_code ec;
    auto d = fs::weakly_canonical(dir, ec);
    if (ec) return false;
    auto c = fs::weakly_canonical(child, ec);
    return !ec && is_inside(d, c);
}

// The earlier API's config scalars, as relay.yaml options: "decimation": 5 is the factor,
// "rotation": 3600 the rotation interval in seconds, "retention": 86400 the age limit in
// seconds (the earlier relay.yaml's default modes, time and ttl). Objects are left alone.
json options_of(json config) {
    if (!config.is_object()) return json::object();
    auto scalar = [&](const char* key, const char* sub) {
        auto it = config.find(key);
        if (it != config.end() && (it->is_number() || it->is_string())) {
            json v = *it;
            *it = json{{sub, v}};
        }
    };
    scalar("decimation", "factor");
    scalar("rotation", "interval");
    scalar("retention", "ttl");
    return config;
}

// SQLite's CURRENT_TIMESTAMP ("2025-12-24 10:00:00", UTC) as ISO 8601 ("...T10:00:00Z").
std::string iso_of_sqlite_time(std::string t) {
    if (t.size() >= 19 && t[10] == ' ') t[10] = 'T';
    if (!t.empty() && t.back() != 'Z' && t.find('+', 10) == std::string::npos) t += 'Z';
    return t;
}

}  // namespace

Result<Settings> load_settings(const fs::path& config_dir) {
    // config/orchestrator.yaml is part of the shared option table (docs/config.md).
    auto oc = config::load_orchestrator_config(config_dir);
    if (!oc) return oc.status();
    Settings s;
    s.bind = oc->bind;
    s.port = oc->port;
    s.threads = oc->threads;
    s.max_body_bytes = oc->max_body_bytes;
    s.port_range_start = oc->port_range_start;
    s.port_range_end = oc->port_range_end;
    s.backoff.initial = oc->restart_initial_delay;
    s.backoff.max = oc->restart_max_delay;
    s.backoff.stable = oc->restart_stable_after;
    s.stop_timeout = oc->stop_timeout;
    s.watchdog_timeout = oc->watchdog_timeout;
    s.protect_reads = oc->auth.reads;
    s.auth_mode = oc->auth.mode;
    // The stack's one token (auth.token_file in global.yaml, or $SPEEDDATA_TOKEN); the older
    // orchestrator-only http.token_file still works and wins when set.
    if (oc->token_file != "none" && !oc->token_file.empty() && !std::getenv("SPEEDDATA_TOKEN")) {
        const fs::path file = oc->token_file.is_absolute() ? oc->token_file : config_dir / oc->token_file;
        auto text = read_file(file);
        if (!text)
            return Status::invalid((config_dir / "orchestrator.yaml").string() + ": http.token_file: " + text.message());
        std::string token = *text;
        if (auto nl = token.find('\n'); nl != std::string::npos) token.resize(nl);
        while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
        if (token.empty())
            return Status::invalid((config_dir / "orchestrator.yaml").string() + ": http.token_file: " + file.string() +
                                   " is empty");
        s.token = token;
    } else {
        auto token = config::load_token(oc->auth, config_dir, (config_dir / "global.yaml").string() + ": auth.token_file");
        if (!token) return token.status();
        s.token = *token;
    }
    return s;
}

bool udp_port_free(int port) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

// ---------------------------------------------------------------- orchestrator

Orchestrator::Orchestrator(fs::path config_dir, Settings settings, config::RelayConfig relay_cfg,
                           config::ClusterConfig cluster, std::unique_ptr<Registry> registry)
    : config_dir_(std::move(config_dir)),
      settings_(std::move(settings)),
      relay_cfg_(std::move(relay_cfg)),
      registry_(std::move(registry)),
      supervisor_(settings_.backoff),
      exe_(self_exe()),
      work_dir_(relay_cfg_.storage.state_path / "orchestrator"),
      started_iso_(iso_time(started_)),
      cluster_(std::move(cluster)),
      host_(config::cluster_host_name(cluster_)) {}

Orchestrator::~Orchestrator() { stop(); }

Result<std::unique_ptr<Orchestrator>> Orchestrator::create(const fs::path& config_dir, Settings settings) {
    auto cfg = config::load_relay_config(config_dir);
    if (!cfg) return cfg.status();
    auto cluster = config::load_cluster_config(config_dir);
    if (!cluster) return cluster.status();
    auto reg = Registry::open(cfg->storage.state_path / "orchestrator.sqlite");
    if (!reg) return reg.status();
    return std::unique_ptr<Orchestrator>(new Orchestrator(fs::absolute(config_dir), std::move(settings), std::move(*cfg),
                                                          std::move(*cluster), std::move(*reg)));
}

Status Orchestrator::spawn_relay(const Channel& ch) {
    ChildSpec spec;
    spec.name = ch.cfg.name;
    spec.argv = {exe_.string(), "relay", "--channel", ch.cfg.name, "--config-dir", config_dir_.string()};
    if (ch.registered) {
        spec.argv.push_back("--channel-config");
        spec.argv.push_back(ch.channel_file.string());
    }
    spec.log_file = work_dir_ / "logs" / (ch.cfg.name + ".log");
    return supervisor_.add(std::move(spec));
}

Result<Orchestrator::Channel> Orchestrator::materialize(const RegisteredChannel& reg, const std::string& prefix,
                                                       const fs::path& files_dir) {
    Channel ch;
    ch.registered = true;
    ch.reg = reg;
    auto schema = avro::Schema::parse(reg.schema_json);
    if (!schema)
        return Status::invalid(prefix + (reg.schema_path.empty() ? "schema" : "schema_path") + ": " + schema.message());
    ch.fingerprint = hex16(schema->fingerprint());
    // The relay reads its settings from <work>/channels/NAME.json and the schema from the copy
    // next to it (schema paths in a channel file are relative to the file's directory, and
    // must stay inside it), so a later edit of a config-dir schema cannot change a running
    // channel behind the registry's back.
    const fs::path dir = files_dir.empty() ? work_dir_ / "channels" : files_dir;
    ch.schema_file = dir / (reg.name + ".avsc");
    if (auto st = write_file_atomically(ch.schema_file, reg.schema_json); !st.ok()) return st.with_code(StatusCode::io);
    json mapping = options_of(json::parse(reg.config_json.empty() ? "{}" : reg.config_json, nullptr, false));
    mapping["port"] = reg.port;
    mapping["schema"] = reg.name + ".avsc";
    // Port clashes are the caller's business (409); check the rest against the defaults.
    config::RelayConfig base = relay_cfg_;
    base.channels.clear();
    base.config_dir = dir;
    auto parsed = config::parse_channel(base, reg.name, mapping.dump(), "config");
    if (!parsed) {
        // parse_channel names keys relative to the entry: "config: decimation.factor: ...".
        std::string m = parsed.message();
        const std::string field = reg.schema_path.empty() ? "schema" : "schema_path";
        if (m.rfind("config: schema:", 0) == 0) m = field + ":" + m.substr(15);
        if (m.rfind("config: time_field:", 0) == 0) m = field + ": " + m.substr(20);
        // Everything parse_channel rejects is in the request (its config, its schema).
        return Status::invalid(prefix + m);
    }
    ch.cfg = *parsed;
    ch.channel_file = dir / (reg.name + ".json");
    if (auto st = write_file_atomically(ch.channel_file, mapping.dump(2)); !st.ok()) return st.with_code(StatusCode::io);
    return ch;
}

Result<fs::path> Orchestrator::schema_file_for(const std::string& p, const std::string& field) const {
    if (p.empty()) return Status::invalid(field + ": must not be empty");
    const bool absolute = fs::path(p).is_absolute();
    std::vector<fs::path> candidates;
    if (absolute) {
        candidates.push_back(fs::path(p).lexically_normal());
    } else {
        candidates.push_back((config_dir_ / p).lexically_normal());
        // The earlier API resolved paths against its working directory, the config
        // directory's parent ("config/agents/x.avsc"); still only files inside it.
        candidates.push_back((config_dir_.parent_path() / p).lexically_normal());
    }
    std::erase_if(candidates, [&](const fs::path& c) { return !inside(config_dir_, c); });
    if (candidates.empty())
        return Status::invalid(field + (absolute ? ": must be relative to the config directory (or an absolute path inside it)"
                                                 : ": escapes the config directory"));
    // Only schema files: any other file of the config directory (a token file) must not be
    // readable, not even a few bytes of it in an error message.
    const std::string ext = fs::path(p).extension().string();
    if (ext != ".avsc" && ext != ".json")
        return Status::invalid(field + ": must name an Avro schema file (.avsc or .json), got '" + p + "'");
    for (const auto& c : candidates) {
        std::error_code ec;
        if (fs::is_regular_file(c, ec)) return c;
    }
    return Status::invalid(field + ": no such file in the config directory: " + p);
}

void Orchestrator::import_earlier_registry() {
    const fs::path source = fs::absolute(relay_cfg_.storage.root / "registry.db");
    std::error_code ec;
    if (!fs::is_regular_file(source, ec)) return;
    auto seen = registry_->imported(source.string());
    if (!seen) {
        spdlog::error("earlier registry {}: {} (not imported)", source.string(), seen.message());
        return;
    }
    if (*seen) return;
    auto rows = read_earlier_registry(source);
    if (!rows) {
        // Not recorded as imported: the next start tries again.
        spdlog::error("earlier registry {}: {} (not imported; the next start tries again)", source.string(),
                      rows.message());
        return;
    }
    std::vector<RegisteredChannel> ok;
    int skipped = 0;
    auto skip = [&](const EarlierChannel& e, const std::string& why) {
        ++skipped;
        spdlog::error("earlier registry {}: channel '{}' not imported: {}", source.string(), e.name, why);
    };
    for (const auto& e : *rows) {
        if (relay_cfg_.channels.count(e.name)) {
            // The earlier orchestrator copied relay.yaml's channels into its registry at start.
            spdlog::info("earlier registry {}: channel '{}' is in relay.yaml, which defines it", source.string(), e.name);
            continue;
        }
        if (auto st = config::check_channel_name(e.name); !st.ok()) {
            skip(e, "name: " + st.message());
            continue;
        }
        if (e.port < 1 || e.port > 65535) {
            skip(e, "port " + std::to_string(e.port) + " is not 1..65535");
            continue;
        }
        std::string owner;
        for (const auto& [n, c] : relay_cfg_.channels)
            if (c.port == e.port) owner = n;
        if (!owner.empty()) {
            skip(e, "port " + std::to_string(e.port) + " is used by relay.yaml channel '" + owner + "'");
            continue;
        }
        RegisteredChannel reg;
        reg.name = e.name;
        reg.port = static_cast<int>(e.port);
        reg.created = e.created_at.empty() ? iso_now() : iso_of_sqlite_time(e.created_at);
        // The schema file of the earlier row, read now and stored (as every registration is).
        // The earlier API took any path; a path outside the config directory is still read
        // here (the row is this machine's own file, not a request), relative to the earlier
        // working directory, the config directory's parent.
        auto file = schema_file_for(e.schema_path, "schema_path");
        fs::path path = file ? *file : fs::path(e.schema_path);
        if (!file && path.is_relative()) path = config_dir_.parent_path() / path;
        auto text = read_file(path);
        if (!text) {
            skip(e, "schema_path '" + e.schema_path + "': " + text.message());
            continue;
        }
        reg.schema_json = *text;
        reg.schema_path = file ? e.schema_path : "";
        // config_json holds the registration's config, or a relay.yaml entry (name, port,
        // schema, settings) for channels the earlier orchestrator copied from relay.yaml.
        json cfg = e.config_json.empty() ? json::object() : json::parse(e.config_json, nullptr, false);
        if (!cfg.is_object()) cfg = json::object();
        for (const char* k : {"name", "port", "schema", "schema_path"}) cfg.erase(k);
        reg.config_json = cfg.dump();
        auto ch = materialize(reg, "");
        if (!ch) {
            skip(e, ch.message());
            continue;
        }
        ok.push_back(std::move(reg));
    }
    auto done = registry_->import_once(source.string(), ok, skipped);
    if (!done) {
        spdlog::error("earlier registry {}: {} (not imported; the next start tries again)", source.string(),
                      done.message());
        return;
    }
    if (!done->done_now) return;
    std::string names;
    for (const auto& n : done->stored) names += (names.empty() ? "" : ", ") + n;
    spdlog::info("imported {} channel(s) from the earlier registry {}{}{}; {} not imported (see above){}", done->stored.size(),
                 source.string(), names.empty() ? "" : ": ", names, skipped,
                 done->kept.empty() ? "" : "; names already registered here kept as they are");
}

Status Orchestrator::start() {
    import_earlier_registry();
    std::lock_guard lock(mutex_);
    for (const auto& [name, cfg] : relay_cfg_.channels) {
        Channel ch;
        ch.cfg = cfg;
        if (auto s = avro::Schema::load(cfg.schema_path); s) ch.fingerprint = hex16(s->fingerprint());
        channels_[name] = ch;
    }
    auto regs = registry_->list();
    if (!regs) return regs.status();
    for (const auto& reg : *regs) {
        if (channels_.count(reg.name)) {
            spdlog::error("registered channel {} is also in relay.yaml: relay.yaml wins", reg.name);
            continue;
        }
        auto ch = materialize(reg, "");
        if (!ch) {
            spdlog::error("registered channel {}: {} (not started)", reg.name, ch.message());
            continue;
        }
        if (auto owner = port_owner(reg.port); !owner.empty()) {
            spdlog::error("registered channel {}: port {} is used by channel {} (not started)", reg.name, reg.port, owner);
            continue;
        }
        channels_[reg.name] = std::move(*ch);
    }
    for (const auto& [name, ch] : channels_)
        if (auto st = spawn_relay(ch); !st.ok()) return st.with_context("relay " + name);
    spdlog::info("supervising {} relays ({} registered at run time)", channels_.size(), regs->size());
    return Status();
}

void Orchestrator::poll() {
    supervisor_.poll();
    watchdog();
}

// A relay rewrites its status file every second; one that has not for watchdog_timeout is
// hung (SIGSTOP, stuck in a system call, a deadlock) even though its process exists: kill it
// so the supervisor restarts it. A status file older than the relay's start does not count.
void Orchestrator::watchdog() {
    const auto timeout = settings_.watchdog_timeout;
    if (timeout.count() <= 0) return;
    const auto now = steady_clock::now();
    if (now < next_watchdog_) return;
    next_watchdog_ = now + milliseconds(500);
    std::vector<std::pair<std::string, fs::path>> files;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [name, ch] : channels_) files.emplace_back(name, ch.cfg.status_file);
    }
    const auto wall = system_clock::now();
    for (const auto& [name, file] : files) {
        auto info = supervisor_.get(name);
        if (!info || info->pid <= 0 || info->state != ChildState::running) continue;
        auto last = info->started;
        std::error_code ec;
        const auto mtime = fs::last_write_time(file, ec);
        if (!ec) {
            const auto written = time_point_cast<system_clock::duration>(std::chrono::file_clock::to_sys(mtime));
            if (written > last) last = written;
        }
        const auto silent = wall - last;
        if (silent > timeout) {
            char why[96];
            std::snprintf(why, sizeof why, "no status update for %.1f s", duration<double>(silent).count());
            supervisor_.kill_hung(name, why);
        }
    }
}

void Orchestrator::stop() {
    fleet_stop_ = true;
    if (fleet_thread_.joinable()) fleet_thread_.join();
    if (forward_thread_.joinable()) forward_thread_.join();
    kv_channels_.reset();
    kv_hosts_.reset();
    nats_.reset();
    supervisor_.stop_all(settings_.stop_timeout);
}

std::string Orchestrator::port_owner(int port) const {
    for (const auto& [name, ch] : channels_)
        if (ch.cfg.port == port) return name;
    return "";
}

json Orchestrator::channel_json(const Channel& ch) const {
    json j;
    j["name"] = ch.cfg.name;
    j["source"] = ch.registered ? "api" : "config";
    // The host that runs the relay (docs/fleet.md); "local": this orchestrator runs it.
    j["host"] = host_;
    j["local"] = true;
    j["reachable"] = true;
    j["port"] = ch.cfg.port;
    j["bind"] = ch.cfg.bind;
    j["schema_path"] = ch.registered ? (ch.reg.schema_path.empty() ? json(nullptr) : json(ch.reg.schema_path))
                                     : json(ch.cfg.schema.string());
    j["schema_inline"] = ch.registered && ch.reg.schema_path.empty();
    j["fingerprint"] = ch.fingerprint;
    j["decimation"] = {{"factor", ch.cfg.decimation_factor},
                       {"algorithm", std::string(config::algorithm_name(ch.cfg.decimation_algorithm))}};
    j["multicast"] = {{"enabled", ch.cfg.multicast.enabled},
                      {"full", ch.cfg.multicast.full.group + ":" + std::to_string(ch.cfg.multicast.full.port)},
                      {"decimated",
                       ch.cfg.multicast.decimated.group + ":" + std::to_string(ch.cfg.multicast.decimated.port)}};
    if (ch.registered) {
        j["created"] = ch.reg.created;
        j["config"] = json::parse(ch.reg.config_json.empty() ? "{}" : ch.reg.config_json, nullptr, false);
    } else {
        // The earlier registry held relay.yaml's channels too, with their entry as config.
        j["config"] = json::parse(config::channel_to_json(ch.cfg).dump());
    }
    // The earlier name of `created`; a relay.yaml channel exists since this start.
    j["created_at"] = ch.registered ? ch.reg.created : started_iso_;
    auto info = supervisor_.get(ch.cfg.name);
    j["pid"] = info && info->pid > 0 ? json(info->pid) : json(nullptr);
    j["restarts"] = info ? info->restarts : 0;
    j["watchdog_restarts"] = info ? info->watchdog_kills : 0;
    j["process"] = info ? name(info->state) : "stopped";
    if (info && info->last_exit_code >= 0) j["last_exit_code"] = info->last_exit_code;
    if (info && info->last_signal) j["last_signal"] = info->last_signal;
    if (info && info->pid > 0) j["started"] = iso_time(info->started);

    // Live figures: the relay's status file, if it is this process's and fresh.
    std::string status = info && info->pid > 0 ? "starting" : (info && info->state == ChildState::backoff ? "restarting" : "stopped");
    json figures = nullptr;
    // Status files change once a second: parse each version once (the API is polled by
    // consoles and Prometheus far more often than that).
    std::error_code fec;
    const auto mtime = fs::last_write_time(ch.cfg.status_file, fec);
    auto& cached = status_cache_[ch.cfg.name];
    if (!fec && (cached.mtime != mtime || cached.status.is_null())) {
        auto text = read_file(ch.cfg.status_file);
        cached.mtime = mtime;
        cached.status = text ? json::parse(*text, nullptr, false) : json();
    }
    if (!fec) {
        const json& st = cached.status;
        if (st.is_object()) {
            const int64_t now_ns =
                duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
            const int64_t updated = st.value("updated_ns", int64_t{0});
            const double age = static_cast<double>(now_ns - updated) / 1e9;
            const bool mine = info && info->pid > 0 && st.value("pid", int64_t{0}) == info->pid;
            // A relay rewrites its status every second: older than 3.5 s while its process
            // runs means it is hung (the watchdog restarts it after relays.watchdog_timeout).
            if (mine) status = age < 3.5 ? "active" : "stale";
            const json& c = st.contains("counters") ? st["counters"] : json::object();
            // Typed defaults: with a plain 0 the value is read as int and cut to 32 bits
            // (ns time stamps, byte counts past 2 GiB).
            figures = {
                {"rates", st.contains("rates") ? st["rates"] : json::object()},
                {"datagrams", c.value("datagrams", uint64_t{0})},
                {"records", c.value("records", uint64_t{0})},
                {"bytes", c.value("bytes", uint64_t{0})},
                {"malformed", c.value("malformed", uint64_t{0})},
                {"kernel_drops", c.value("kernel_drops", uint64_t{0})},
                {"records_written", c.value("records_written", uint64_t{0})},
                {"records_not_written", c.value("records_not_written", uint64_t{0})},
                {"files", c.value("files", uint64_t{0})},
                {"bytes_on_disk", c.value("bytes_on_disk", uint64_t{0})},
                {"oldest_time_ns", c.value("oldest_time_ns", int64_t{0})},
                {"oldest_time", c.contains("oldest_time") ? c["oldest_time"] : json(nullptr)},
                {"newest_time", c.contains("newest_time") ? c["newest_time"] : json(nullptr)},
                {"disk_ok", c.value("disk_ok", true)},
                {"uptime_s", st.value("uptime_s", 0.0)},
                {"updated", st.value("updated", "")},
                {"age_s", age},
                {"current", mine},
            };
        }
    }
    j["status"] = status;
    j["figures"] = figures;
    // What a person wants to know about an active channel: is data arriving?
    std::string activity = status;
    if (status == "active") {
        double rate = 0;
        if (figures.is_object() && figures["rates"].is_object() && figures["rates"].contains("records") &&
            figures["rates"]["records"].is_number())
            rate = figures["rates"]["records"].get<double>();
        activity = rate > 0 ? "receiving" : "listening";
    }
    j["activity"] = activity;  // receiving, listening (no data yet / now), stale, starting, restarting, stopped
    return j;
}

}  // namespace speeddata::orchestrator
