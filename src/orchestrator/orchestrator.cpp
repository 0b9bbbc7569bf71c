#include "orchestrator/orchestrator.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "core/avro/schema.hpp"
#include "core/config/orchestrator_config.hpp"

namespace speeddata::orchestrator {

namespace fs = std::filesystem;
using http::Request;
using http::Response;
using nlohmann::json;
using namespace std::chrono;

// ---------------------------------------------------------------- settings

namespace {

std::string iso_now() {
    auto t = system_clock::to_time_t(system_clock::now());
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string iso_time(system_clock::time_point tp) {
    auto t = system_clock::to_time_t(tp);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string hex64(uint64_t v) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

// Writes a file atomically (tmp + rename) so a relay never reads half of it.
Status write_file(const fs::path& p, const std::string& text) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    fs::path tmp = p;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) return Status::error("write " + tmp.string() + ": cannot open");
        out << text;
        if (!out) return Status::error("write " + tmp.string() + ": I/O error");
    }
    fs::rename(tmp, p, ec);
    if (ec) return Status::error("rename " + p.string() + ": " + ec.message());
    return Status();
}

Result<std::string> read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return Status::error("cannot read " + p.string());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// True when child is inside dir (both made absolute and normalized; symlinks resolved where
// they exist), so "agents/../../etc/passwd" and symlinks out of the tree are refused.
bool inside(const fs::path& dir, const fs::path& child) {
    std::error_code ec;
    auto d = fs::weakly_canonical(dir, ec);
    if (ec) return false;
    auto c = fs::weakly_canonical(child, ec);
    if (ec) return false;
    auto ds = d.string(), cs = c.string();
    return cs.size() > ds.size() && cs.compare(0, ds.size(), ds) == 0 && cs[ds.size()] == '/';
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
    if (oc->token_file != "none" && !oc->token_file.empty()) {
        const fs::path file = oc->token_file.is_absolute() ? oc->token_file : config_dir / oc->token_file;
        auto text = read_text(file);
        if (!text)
            return Status::error((config_dir / "orchestrator.yaml").string() + ": http.token_file: " + text.message());
        std::string token = *text;
        while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
        if (token.empty())
            return Status::error((config_dir / "orchestrator.yaml").string() + ": http.token_file: " + file.string() +
                                 " is empty");
        s.token = token;
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
                           std::unique_ptr<Registry> registry)
    : config_dir_(std::move(config_dir)),
      settings_(std::move(settings)),
      relay_cfg_(std::move(relay_cfg)),
      registry_(std::move(registry)),
      supervisor_(settings_.backoff),
      exe_(self_exe()),
      work_dir_(relay_cfg_.storage.state_path / "orchestrator") {}

Orchestrator::~Orchestrator() { stop(); }

Result<std::unique_ptr<Orchestrator>> Orchestrator::create(const fs::path& config_dir, Settings settings) {
    auto cfg = config::load_relay_config(config_dir);
    if (!cfg) return cfg.status();
    auto reg = Registry::open(cfg->storage.state_path / "orchestrator.sqlite");
    if (!reg) return reg.status();
    return std::unique_ptr<Orchestrator>(
        new Orchestrator(fs::absolute(config_dir), std::move(settings), std::move(*cfg), std::move(*reg)));
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

Result<Orchestrator::Channel> Orchestrator::materialize(const RegisteredChannel& reg, const std::string& prefix) {
    Channel ch;
    ch.registered = true;
    ch.reg = reg;
    auto schema = avro::Schema::parse(reg.schema_json);
    if (!schema) return Status::error(prefix + (reg.schema_path.empty() ? "schema" : "schema_path") + ": " + schema.message());
    ch.fingerprint = hex64(schema->fingerprint());
    // The relay reads its settings from <work>/channels/NAME.json and the schema from the copy
    // next to it (schema paths in a channel file are relative to the file's directory, and
    // must stay inside it), so a later edit of a config-dir schema cannot change a running
    // channel behind the registry's back.
    const fs::path dir = work_dir_ / "channels";
    ch.schema_file = dir / (reg.name + ".avsc");
    if (auto st = write_file(ch.schema_file, reg.schema_json); !st.ok()) return st;
    json mapping = json::parse(reg.config_json.empty() ? "{}" : reg.config_json, nullptr, false);
    if (!mapping.is_object()) mapping = json::object();
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
        return Status::error(prefix + m);
    }
    ch.cfg = *parsed;
    ch.channel_file = dir / (reg.name + ".json");
    if (auto st = write_file(ch.channel_file, mapping.dump(2)); !st.ok()) return st;
    return ch;
}

Status Orchestrator::start() {
    std::lock_guard lock(mutex_);
    for (const auto& [name, cfg] : relay_cfg_.channels) {
        Channel ch;
        ch.cfg = cfg;
        if (auto s = avro::Schema::load(cfg.schema_path); s) ch.fingerprint = hex64(s->fingerprint());
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

void Orchestrator::poll() { supervisor_.poll(); }

void Orchestrator::stop() { supervisor_.stop_all(settings_.stop_timeout); }

std::string Orchestrator::port_owner(int port) const {
    for (const auto& [name, ch] : channels_)
        if (ch.cfg.port == port) return name;
    return "";
}

json Orchestrator::channel_json(const Channel& ch) const {
    json j;
    j["name"] = ch.cfg.name;
    j["source"] = ch.registered ? "api" : "config";
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
    }
    auto info = supervisor_.get(ch.cfg.name);
    j["pid"] = info && info->pid > 0 ? json(info->pid) : json(nullptr);
    j["restarts"] = info ? info->restarts : 0;
    j["process"] = info ? info->state : "stopped";
    if (info && info->last_exit_code >= 0) j["last_exit_code"] = info->last_exit_code;
    if (info && info->last_signal) j["last_signal"] = info->last_signal;
    if (info && info->pid > 0) j["started"] = iso_time(info->started);

    // Live figures: the relay's status file, if it is this process's and fresh.
    std::string status = info && info->pid > 0 ? "starting" : (info && info->state == "backoff" ? "restarting" : "stopped");
    json figures = nullptr;
    // Status files change once a second: parse each version once (the API is polled by
    // consoles and Prometheus far more often than that).
    std::error_code fec;
    const auto mtime = fs::last_write_time(ch.cfg.status_file, fec);
    auto& cached = status_cache_[ch.cfg.name];
    if (!fec && (cached.mtime != mtime || cached.status.is_null())) {
        auto text = read_text(ch.cfg.status_file);
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
            if (mine && age < 3.5) status = "active";
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
    return j;
}

// ---------------------------------------------------------------- handlers

void Orchestrator::add_routes(http::Router& r) {
    auto bind = [this](Response (Orchestrator::*fn)(const Request&)) {
        return [this, fn](const Request& q) { return (this->*fn)(q); };
    };
    r.add("GET", "/api/v1/health", bind(&Orchestrator::h_health));
    r.add("GET", "/api/v1/channels", bind(&Orchestrator::h_list));
    r.add("POST", "/api/v1/channels", bind(&Orchestrator::h_register));
    r.add("GET", "/api/v1/channels/{name}", bind(&Orchestrator::h_get));
    r.add("DELETE", "/api/v1/channels/{name}", bind(&Orchestrator::h_deregister));
    r.add("GET", "/api/v1/channels/{name}/schema", bind(&Orchestrator::h_schema));
    r.add("POST", "/api/v1/channels/{name}/validate-schema", bind(&Orchestrator::h_validate));
    r.add("GET", "/api/v1/ports/available", bind(&Orchestrator::h_ports_available));
    r.add("GET", "/api/v1/ports/{port}/status", bind(&Orchestrator::h_port_status));
    r.add("GET", "/api/v1/metrics", bind(&Orchestrator::h_metrics));
    r.add("GET", "/metrics", bind(&Orchestrator::h_metrics));
}

Response Orchestrator::h_health(const Request&) {
    std::lock_guard lock(mutex_);
    int running = 0;
    for (const auto& c : supervisor_.list())
        if (c.pid > 0) ++running;
    return Response::json(200, {{"status", "ok"},
                                {"service", "orchestrator"},
                                {"channels", channels_.size()},
                                {"relays_running", running},
                                {"uptime_s", duration<double>(system_clock::now() - started_).count()},
                                {"registry", registry_->file().string()}});
}

Response Orchestrator::h_list(const Request& req) {
    const std::string* filter = req.param("status");
    if (filter && *filter != "registered" && *filter != "active" && !filter->empty())
        return Response::error(400, "status: expected 'registered' or 'active', got '" + *filter + "'");
    std::lock_guard lock(mutex_);
    json list = json::array();
    for (const auto& [name, ch] : channels_) {
        json j = channel_json(ch);
        if (filter && *filter == "active" && j["status"] != "active") continue;
        list.push_back(std::move(j));
    }
    return Response::json(200, {{"channels", list}, {"count", list.size()}});
}

Response Orchestrator::h_get(const Request& req) {
    const std::string& name = req.params.at("name");
    std::lock_guard lock(mutex_);
    auto it = channels_.find(name);
    if (it == channels_.end()) return Response::error(404, "channel '" + name + "' not found");
    return Response::json(200, channel_json(it->second));
}

Response Orchestrator::h_register(const Request& req) {
    // ordered_json keeps the client's key order, so the stored schema reads back as sent.
    nlohmann::ordered_json body = nlohmann::ordered_json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return Response::error(400, "malformed JSON in request body");
    if (!body.is_object()) return Response::error(400, "body: expected a JSON object");
    static const std::set<std::string> allowed = {"name", "port", "schema", "schema_path", "config"};
    for (const auto& [k, _] : body.items())
        if (!allowed.count(k))
            return Response::error(400, k + ": unknown field (expected name, port, schema, schema_path, config)");
    if (!body.contains("name")) return Response::error(400, "name: required");
    if (!body["name"].is_string()) return Response::error(400, "name: expected a string");
    const std::string name = body["name"];
    if (auto st = config::check_channel_name(name); !st.ok()) return Response::error(400, "name: " + st.message());

    RegisteredChannel reg;
    reg.name = name;
    reg.created = iso_now();
    const bool has_schema = body.contains("schema") && !body["schema"].is_null();
    const bool has_path = body.contains("schema_path") && !body["schema_path"].is_null();
    if (has_schema && has_path) return Response::error(400, "schema, schema_path: give one of them, not both");
    if (!has_schema && !has_path) return Response::error(400, "schema: required (an inline Avro schema, or schema_path)");
    if (has_schema) {
        const auto& s = body["schema"];
        if (s.is_string()) {
            reg.schema_json = s.get<std::string>();
        } else if (s.is_object()) {
            reg.schema_json = s.dump(2);
        } else {
            return Response::error(400, "schema: expected an Avro schema (JSON object or string)");
        }
        auto parsed = avro::Schema::parse(reg.schema_json);
        if (!parsed) return Response::error(400, "schema: " + parsed.message());
    } else {
        if (!body["schema_path"].is_string()) return Response::error(400, "schema_path: expected a string");
        const std::string p = body["schema_path"];
        if (p.empty()) return Response::error(400, "schema_path: must not be empty");
        if (fs::path(p).is_absolute())
            return Response::error(400, "schema_path: must be relative to the config directory");
        const fs::path full = (config_dir_ / p).lexically_normal();
        if (!inside(config_dir_, full)) return Response::error(400, "schema_path: escapes the config directory");
        std::error_code ec;
        if (!fs::is_regular_file(full, ec))
            return Response::error(400, "schema_path: no such file in the config directory: " + p);
        auto text = read_text(full);
        if (!text) return Response::error(400, "schema_path: " + text.message());
        reg.schema_json = *text;
        reg.schema_path = p;
    }
    if (body.contains("config") && !body["config"].is_null()) {
        if (!body["config"].is_object()) return Response::error(400, "config: expected an object");
        for (const char* k : {"port", "schema", "schema_path"})
            if (body["config"].contains(k))
                return Response::error(400, std::string("config.") + k + ": give it at the top level of the request");
        reg.config_json = body["config"].dump();
    } else {
        reg.config_json = "{}";
    }

    std::lock_guard lock(mutex_);
    if (channels_.count(name)) return Response::error(409, "channel '" + name + "' already exists");
    if (body.contains("port") && !body["port"].is_null()) {
        const auto& pj = body["port"];
        if (!pj.is_number_integer() || pj.get<long>() < 1 || pj.get<long>() > 65535)
            return Response::error(400, "port: expected an integer 1..65535, got " + pj.dump());
        reg.port = pj.get<int>();
        if (auto owner = port_owner(reg.port); !owner.empty())
            return Response::error(409, "port " + std::to_string(reg.port) + " is used by channel '" + owner + "'");
        if (!udp_port_free(reg.port))
            return Response::error(409, "port " + std::to_string(reg.port) + " is held by another process");
    } else {
        for (int p = settings_.port_range_start; p <= settings_.port_range_end; ++p) {
            if (port_owner(p).empty() && udp_port_free(p)) {
                reg.port = p;
                break;
            }
        }
        if (reg.port == 0)
            return Response::error(409, "port: no free port in the range " + std::to_string(settings_.port_range_start) +
                                            ".." + std::to_string(settings_.port_range_end));
    }
    auto ch = materialize(reg, "");
    if (!ch) {
        const std::string& m = ch.message();
        // Field errors from parsing are the client's (400); anything else is ours (500).
        const bool field = m.rfind("config:", 0) == 0 || m.rfind("schema:", 0) == 0 || m.rfind("schema_path:", 0) == 0;
        return Response::error(field ? 400 : 500, m);
    }
    if (auto st = registry_->put(reg); !st.ok()) return Response::error(500, st.message());
    if (auto st = spawn_relay(*ch); !st.ok()) {
        (void)registry_->remove(name);
        return Response::error(500, "start relay " + name + ": " + st.message());
    }
    auto& stored = channels_[name] = std::move(*ch);
    spdlog::info("registered channel {} on port {}", name, reg.port);
    Response r = Response::json(201, channel_json(stored));
    r.headers.emplace_back("Location", "/api/v1/channels/" + name);
    return r;
}

Response Orchestrator::h_deregister(const Request& req) {
    const std::string& name = req.params.at("name");
    Channel ch;
    {
        std::lock_guard lock(mutex_);
        auto it = channels_.find(name);
        if (it == channels_.end()) return Response::error(404, "channel '" + name + "' not found");
        if (!it->second.registered)
            return Response::error(409, "channel '" + name + "' is defined in relay.yaml; remove it there and restart");
        if (auto st = registry_->remove(name); !st.ok()) return Response::error(500, st.message());
        ch = std::move(it->second);
        channels_.erase(it);
    }
    // Outside the lock: the relay flushes its cache file before exiting.
    supervisor_.remove(name, settings_.stop_timeout);
    std::error_code ec;
    fs::remove(ch.channel_file, ec);
    fs::remove(ch.schema_file, ec);
    spdlog::info("de-registered channel {}", name);
    return Response::json(200, {{"name", name}, {"deregistered", true},
                                {"cache", ch.cfg.avro_dir.string()},
                                {"note", "cached files stay until retention removes them"}});
}

Response Orchestrator::h_schema(const Request& req) {
    const std::string& name = req.params.at("name");
    fs::path file;
    {
        std::lock_guard lock(mutex_);
        auto it = channels_.find(name);
        if (it == channels_.end()) return Response::error(404, "channel '" + name + "' not found");
        if (it->second.registered) {
            Response r;
            r.body = it->second.reg.schema_json;
            return r;
        }
        file = it->second.cfg.schema_path;
    }
    auto text = read_text(file);
    if (!text) return Response::error(500, text.message());
    Response r;
    r.body = *text;
    return r;
}

Response Orchestrator::h_validate(const Request& req) {
    const std::string& name = req.params.at("name");
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return Response::error(400, "malformed JSON in request body");
    // Accept the schema itself or {"schema": ...}.
    json submitted = body.is_object() && body.contains("schema") && !body.contains("type") ? body["schema"] : body;
    std::string text = submitted.is_string() ? submitted.get<std::string>() : submitted.dump();
    auto theirs = avro::Schema::parse(text);
    if (!theirs) return Response::error(400, "schema: " + theirs.message());
    std::string mine_text;
    {
        std::lock_guard lock(mutex_);
        auto it = channels_.find(name);
        if (it == channels_.end()) return Response::error(404, "channel '" + name + "' not found");
        if (it->second.registered) {
            mine_text = it->second.reg.schema_json;
        } else {
            auto t = read_text(it->second.cfg.schema_path);
            if (!t) return Response::error(500, t.message());
            mine_text = *t;
        }
    }
    auto mine = avro::Schema::parse(mine_text);
    if (!mine) return Response::error(500, "registered schema of " + name + ": " + mine.message());
    if (mine->canonical_form() == theirs->canonical_form())
        return Response::json(200, {{"name", name}, {"compatible", true}, {"fingerprint", hex64(mine->fingerprint())}});
    json err = {
        {"error", "schema differs from channel '" + name + "''s registered schema (canonical forms differ: fingerprint " +
                      hex64(theirs->fingerprint()) + " vs " + hex64(mine->fingerprint()) + ")"},
        {"status", 409},
        {"compatible", false},
        {"registered", json::parse(mine->canonical_form(), nullptr, false)},
        {"submitted", json::parse(theirs->canonical_form(), nullptr, false)},
        {"registered_fingerprint", hex64(mine->fingerprint())},
        {"submitted_fingerprint", hex64(theirs->fingerprint())},
    };
    return Response::json(409, err);
}

namespace {
// Parses a port from a query/path parameter; error names the parameter.
Result<int> port_param(const std::string& text, const std::string& field) {
    try {
        size_t used = 0;
        long v = std::stol(text, &used);
        if (used == text.size() && v >= 1 && v <= 65535) return static_cast<int>(v);
    } catch (...) {
    }
    return Status::error(field + ": expected an integer 1..65535, got '" + text + "'");
}
}  // namespace

Response Orchestrator::h_ports_available(const Request& req) {
    int start = settings_.port_range_start, end = settings_.port_range_end;
    if (auto* s = req.param("start")) {
        auto p = port_param(*s, "start");
        if (!p) return Response::error(400, p.message());
        start = *p;
    }
    if (auto* e = req.param("end")) {
        auto p = port_param(*e, "end");
        if (!p) return Response::error(400, p.message());
        end = *p;
    }
    if (end < start) return Response::error(400, "end: must be >= start");
    if (end - start >= 10000) return Response::error(400, "end: at most 10000 ports per request");
    json ports = json::array();
    std::lock_guard lock(mutex_);
    for (int p = start; p <= end; ++p)
        if (port_owner(p).empty() && udp_port_free(p)) ports.push_back(p);
    return Response::json(200, {{"start", start}, {"end", end}, {"ports", ports}, {"count", ports.size()}});
}

Response Orchestrator::h_port_status(const Request& req) {
    auto p = port_param(req.params.at("port"), "port");
    if (!p) return Response::error(400, p.message());
    std::lock_guard lock(mutex_);
    const std::string owner = port_owner(*p);
    const bool free = udp_port_free(*p);
    json j = {{"port", *p}, {"available", owner.empty() && free}, {"channel", owner.empty() ? json(nullptr) : json(owner)},
              {"held_by_other_process", owner.empty() && !free}};
    return Response::json(200, j);
}

Response Orchestrator::h_metrics(const Request&) {
    std::lock_guard lock(mutex_);
    std::vector<json> rows;
    for (const auto& [name, ch] : channels_) rows.push_back(channel_json(ch));
    std::string out;
    auto family = [&](const char* metric, const char* type, const char* help, auto value_of) {
        out += std::string("# HELP ") + metric + " " + help + "\n# TYPE " + metric + " " + type + "\n";
        for (const auto& j : rows) {
            double v = value_of(j);
            char buf[64];
            std::snprintf(buf, sizeof buf, "%.17g", v);
            out += std::string(metric) + "{channel=\"" + j["name"].get<std::string>() + "\"} " + buf + "\n";
        }
    };
    auto fig = [](const char* key) {
        return [key](const json& j) -> double {
            if (!j["figures"].is_object() || !j["figures"].contains(key)) return 0;
            const json& v = j["figures"][key];
            return v.is_number() ? v.get<double>() : 0;
        };
    };
    auto rate = [](const char* key) {
        return [key](const json& j) -> double {
            if (!j["figures"].is_object()) return 0;
            const json& r = j["figures"]["rates"];
            return r.is_object() && r.contains(key) && r[key].is_number() ? r[key].get<double>() : 0;
        };
    };
    family("speeddata_channel_up", "gauge", "1 when the channel's relay is running and reporting",
           [](const json& j) { return j["status"] == "active" ? 1.0 : 0.0; });
    family("speeddata_relay_restarts_total", "counter", "Relay restarts after a crash",
           [](const json& j) { return j["restarts"].get<double>(); });
    family("speeddata_datagrams_total", "counter", "Datagrams received by the relay", fig("datagrams"));
    family("speeddata_records_total", "counter", "Records received by the relay", fig("records"));
    family("speeddata_received_bytes_total", "counter", "Bytes received by the relay", fig("bytes"));
    family("speeddata_malformed_total", "counter", "Datagrams dropped because they do not match the schema",
           fig("malformed"));
    family("speeddata_kernel_drops_total", "counter", "Datagrams dropped by the kernel (receive queue full)",
           fig("kernel_drops"));
    family("speeddata_records_written_total", "counter", "Records written to the cache", fig("records_written"));
    family("speeddata_records_not_written_total", "counter", "Records that did not reach the disk",
           fig("records_not_written"));
    family("speeddata_cache_bytes", "gauge", "Bytes of the channel's cache files on disk", fig("bytes_on_disk"));
    family("speeddata_cache_files", "gauge", "Cache files of the channel", fig("files"));
    family("speeddata_oldest_time_seconds", "gauge", "Oldest retained record time (Unix seconds)",
           [](const json& j) {
               if (!j["figures"].is_object()) return 0.0;
               return j["figures"].value("oldest_time_ns", 0.0) / 1e9;
           });
    family("speeddata_records_per_second", "gauge", "Records received per second", rate("records"));
    family("speeddata_received_bytes_per_second", "gauge", "Bytes received per second", rate("bytes"));
    Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = std::move(out);
    return r;
}

}  // namespace speeddata::orchestrator
