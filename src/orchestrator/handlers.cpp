// The orchestrator's REST API (docs/orchestrator.md, docs/openapi/orchestrator.json): the
// route table and one handler per route. The state they read and change, the supervision of
// the relays and the settings are in orchestrator.cpp.
#include "orchestrator/orchestrator.hpp"

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
#include "core/version.hpp"

namespace speeddata::orchestrator {

namespace fs = std::filesystem;
using http::Request;
using http::Response;
using nlohmann::json;
using namespace std::chrono;

namespace {

// The earlier API's ports: an integer, or a string of digits ("26001"). -1: neither.
long port_of(const nlohmann::ordered_json& j) {
    if (j.is_number_integer()) return j.get<long>();
    if (j.is_string()) {
        const std::string t = j.get<std::string>();
        if (t.empty() || t.size() > 6 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return -1;
        return std::stol(t);
    }
    return -1;
}

// A `schema` string is inline schema JSON when it starts (after white space) like JSON text
// can for a schema: an object, a union array, or a quoted type name. Anything else is a path
// to a schema file, as in the earlier API ("config/agents/x.avsc").
bool is_schema_text(const std::string& s) {
    const auto i = s.find_first_not_of(" \t\r\n");
    return i != std::string::npos && (s[i] == '{' || s[i] == '[' || s[i] == '"');
}

}  // namespace

void Orchestrator::add_routes(http::Router& r) {
    auto bind = [this](Response (Orchestrator::*fn)(const Request&)) {
        return [this, fn](const Request& q) { return (this->*fn)(q); };
    };
    r.add("GET", "/api/v1/health", bind(&Orchestrator::h_health), http::Access::open);
    r.add("GET", "/api/v1/channels", bind(&Orchestrator::h_list));
    r.add("POST", "/api/v1/channels", bind(&Orchestrator::h_register));
    r.add("GET", "/api/v1/channels/{name}", bind(&Orchestrator::h_get));
    r.add("DELETE", "/api/v1/channels/{name}", bind(&Orchestrator::h_deregister));
    r.add("GET", "/api/v1/channels/{name}/schema", bind(&Orchestrator::h_schema));
    r.add("POST", "/api/v1/channels/{name}/validate-schema", bind(&Orchestrator::h_validate));
    r.add("GET", "/api/v1/ports/available", bind(&Orchestrator::h_ports_available));
    r.add("GET", "/api/v1/ports/{port}/status", bind(&Orchestrator::h_port_status));
    r.add("GET", "/api/v1/fleet", bind(&Orchestrator::h_fleet));
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
                                {"version", speeddata::version},
                                {"host", host_},
                                {"fleet", cluster_.enabled()},
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
    if (cluster_.enabled()) {
        for (auto& j : remote_channels_json()) {
            if (filter && *filter == "active" && j["status"] != "active") continue;
            list.push_back(std::move(j));
        }
        std::sort(list.begin(), list.end(), [](const json& a, const json& b) { return a["name"] < b["name"]; });
    }
    return Response::json(200, {{"channels", list}, {"count", list.size()}});
}

Response Orchestrator::h_get(const Request& req) {
    const std::string& name = req.params.at("name");
    std::lock_guard lock(mutex_);
    auto it = channels_.find(name);
    if (it == channels_.end()) {
        if (auto remote = remote_entry(name)) return Response::json(200, *remote);
        return Response::error(404, "channel '" + name + "' not found");
    }
    return Response::json(200, channel_json(it->second));
}

// The earlier API's answers as aliases next to ours (docs/upgrading.md): a 400/409 names the
// field it is about ("field"), as the earlier error format documented.
Response Orchestrator::h_register(const Request& req) {
    Response r = register_channel(req);
    if (r.status == 400 || r.status == 409) {
        json body = json::parse(r.body, nullptr, false);
        if (body.is_object() && body.contains("error") && body["error"].is_string() && !body.contains("field")) {
            const std::string e = body["error"];
            for (const char* f : {"name", "port", "schema_path", "schema", "config"}) {
                const std::string pre = std::string(f) + ":";
                const std::string pre2 = std::string(f) + ".";
                const std::string pre3 = std::string(f) + " ";
                if (e.rfind(pre, 0) == 0 || e.rfind(pre2, 0) == 0 || e.rfind(pre3, 0) == 0) {
                    body["field"] = f;
                    break;
                }
            }
            if (!body.contains("field") && e.rfind("channel '", 0) == 0) body["field"] = "name";
            r.body = body.dump();
        }
    }
    return r;
}

Response Orchestrator::register_channel(const Request& req) {
    // ordered_json keeps the client's key order, so the stored schema reads back as sent.
    nlohmann::ordered_json body = nlohmann::ordered_json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return Response::error(400, "malformed JSON in request body");
    if (!body.is_object()) return Response::error(400, "body: expected a JSON object");
    static const std::set<std::string> allowed = {"name", "port", "schema", "schema_path", "config", "host"};
    for (const auto& [k, _] : body.items())
        if (!allowed.count(k))
            return Response::error(400, k + ": unknown field (expected name, port, schema, schema_path, config, host)");
    // The host that is to run the relay (docs/fleet.md): this one unless a fleet host is named.
    std::string host = host_;
    if (body.contains("host") && !body["host"].is_null()) {
        if (!body["host"].is_string() || body["host"].get<std::string>().empty())
            return Response::error(400, "host: expected a host name (a string)");
        host = body["host"].get<std::string>();
        if (host != host_ && !cluster_.enabled())
            return Response::error(400, "host: '" + host + "' is not this host ('" + host_ +
                                            "'), and this host is in no fleet (cluster.nats is none)");
    }
    const bool remote = host != host_;
    const bool has_schema = body.contains("schema") && !body["schema"].is_null();
    const bool has_path = body.contains("schema_path") && !body["schema_path"].is_null();
    {
        // The earlier API's answer to a missing field, next to ours (which names the first).
        std::vector<std::string> missing;
        if (!body.contains("name") || body["name"].is_null() ||
            (body["name"].is_string() && body["name"].get<std::string>().empty()))
            missing.push_back("name");
        if (!has_schema && !has_path) missing.push_back("schema");
        if (!missing.empty()) {
            const std::string first = missing[0] == "name" ? "name: required"
                                                           : "schema: required (an inline Avro schema, or schema_path)";
            std::string list;
            for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
            json err = {{"error", first + " (Missing required fields: " + list + ")"},
                        {"status", 400},
                        {"required", {"name", "schema"}},
                        {"missing", missing}};
            return Response::json(400, err);
        }
    }
    if (!body["name"].is_string()) return Response::error(400, "name: expected a string");
    const std::string name = body["name"];
    if (auto st = config::check_channel_name(name); !st.ok()) return Response::error(400, "name: " + st.message());

    RegisteredChannel reg;
    reg.name = name;
    reg.created = format_iso8601_seconds(now_ns());
    if (has_schema && has_path) return Response::error(400, "schema, schema_path: give one of them, not both");
    auto read_schema_file = [&](const std::string& p, const std::string& field) -> std::optional<Response> {
        auto full = schema_file_for(p, field);
        if (!full) return Response::error(400, full.message());
        auto text = read_file(*full);
        if (!text) return Response::error(400, field + ": " + text.message());
        reg.schema_json = *text;
        reg.schema_path = p;
        return std::nullopt;
    };
    if (has_schema) {
        const auto& s = body["schema"];
        if (s.is_string() && !is_schema_text(s.get<std::string>())) {
            // The earlier API's form: the path of a schema file.
            if (auto err = read_schema_file(s.get<std::string>(), "schema")) return *err;
        } else if (s.is_string()) {
            reg.schema_json = s.get<std::string>();
        } else if (s.is_object()) {
            reg.schema_json = s.dump(2);
        } else {
            return Response::error(400, "schema: expected an Avro schema (JSON object or string) or a schema file path");
        }
        auto parsed = avro::Schema::parse(reg.schema_json);
        if (!parsed) return Response::error(400, "schema: " + parsed.message());
    } else {
        if (!body["schema_path"].is_string()) return Response::error(400, "schema_path: expected a string");
        if (auto err = read_schema_file(body["schema_path"].get<std::string>(), "schema_path")) return *err;
    }
    if (body.contains("config") && !body["config"].is_null()) {
        if (!body["config"].is_object()) return Response::error(400, "config: expected an object");
        for (const char* k : {"port", "schema", "schema_path"})
            if (body["config"].contains(k))
                return Response::error(400, std::string("config.") + k + ": give it at the top level of the request");
        // Stored as sent (the earlier scalars too: GET gives them back as they were given);
        // materialize() reads them as relay.yaml options.
        reg.config_json = body["config"].dump();
    } else {
        reg.config_json = "{}";
    }

    if (remote && !nats_connected_)
        return Response::error(503, "host: cannot reach the fleet (NATS is not connected) to assign '" + name +
                                        "' to host '" + host + "'");
    std::unique_lock lock(mutex_);
    if (channels_.count(name) || (cluster_.enabled() && remote_entry(name)))
        return Response::error(409, "channel '" + name + "' already exists");
    // Ports in use on the target host, as the fleet knows them (remote host: its channels).
    auto remote_port_owner = [&](int port) -> std::string {
        for (const auto& [n, e] : fleet_entries_)
            if (e.value("host", "") == host && e.value("port", 0) == port) return n;
        for (const auto& [n, e] : outbox_put_)
            if (e.value("host", "") == host && e.value("port", 0) == port) return n;
        return "";
    };
    if (remote) {
        if (body.contains("port") && !body["port"].is_null()) {
            const long port = port_of(body["port"]);
            if (port < 1 || port > 65535)
                return Response::error(400, "port: expected an integer 1..65535, got " + body["port"].dump());
            reg.port = static_cast<int>(port);
            if (auto owner = remote_port_owner(reg.port); !owner.empty())
                return Response::json(409, {{"error", "port " + std::to_string(reg.port) + " is used by channel '" +
                                                          owner + "' on host '" + host + "'"},
                                            {"status", 409}, {"port", reg.port}, {"used_by", owner}});
        } else {
            for (int p = settings_.port_range_start; p <= settings_.port_range_end && reg.port == 0; ++p)
                if (remote_port_owner(p).empty()) reg.port = p;
            if (reg.port == 0) return Response::error(409, "port: no free port in the range on host '" + host + "'");
        }
        // Checked here as the other host will build it (its defaults may differ: then its log says why).
        const fs::path check_dir = work_dir_ / "fleet-check";
        auto ch = materialize(reg, "", check_dir);
        std::error_code ec;
        fs::remove_all(check_dir, ec);
        if (!ch) return Response::from_status(ch.status());
        json entry = entry_of(reg, host, "api");
        outbox_put_[name] = entry;
        outbox_del_.erase(name);
        fleet_entries_[name] = entry;
        spdlog::info("registered channel {} on port {} for host {}", name, reg.port, host);
        json out = {{"name", name}, {"host", host}, {"local", false}, {"port", reg.port}, {"source", "api"},
                    {"created", reg.created}, {"status", "success"},
                    {"message", "Channel '" + name + "' registered; host '" + host + "' starts its relay"}};
        Response r = Response::json(201, out);
        r.headers.emplace_back("Location", "/api/v1/channels/" + name);
        return r;
    }
    if (body.contains("port") && !body["port"].is_null()) {
        const auto& pj = body["port"];
        const long port = port_of(pj);
        if (port < 1 || port > 65535)
            return Response::error(400, "port: expected an integer 1..65535, got " + pj.dump());
        reg.port = static_cast<int>(port);
        if (auto owner = port_owner(reg.port); !owner.empty()) {
            json err = {{"error", "port " + std::to_string(reg.port) + " is used by channel '" + owner + "'"},
                        {"status", 409}, {"port", reg.port}, {"used_by", owner}};
            return Response::json(409, err);
        }
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
    // Field errors from parsing are the client's (400); a failed write is ours (500).
    if (!ch) return Response::from_status(ch.status());
    if (auto st = registry_->put(reg); !st.ok()) return Response::from_status(st);
    if (auto st = spawn_relay(*ch); !st.ok()) {
        (void)registry_->remove(name);
        return Response::error(500, "start relay " + name + ": " + st.message());
    }
    auto& stored = channels_[name] = std::move(*ch);
    if (cluster_.enabled()) {
        outbox_put_[name] = entry_of(reg, host_, "api");
        outbox_del_.erase(name);
    }
    spdlog::info("registered channel {} on port {}", name, reg.port);
    json out = channel_json(stored);
    // The earlier answer's fields: "status" is the registration's outcome here (the relay's
    // live status, which is "starting" at this moment, is GET's), plus a message.
    out["status"] = "success";
    out["message"] = "Channel '" + name + "' registered and relay started";
    Response r = Response::json(201, out);
    r.headers.emplace_back("Location", "/api/v1/channels/" + name);
    return r;
}

Response Orchestrator::h_deregister(const Request& req) {
    const std::string& name = req.params.at("name");
    Channel ch;
    {
        std::lock_guard lock(mutex_);
        auto it = channels_.find(name);
        if (it == channels_.end()) {
            auto remote = cluster_.enabled() ? remote_entry(name) : std::nullopt;
            if (!remote) return Response::error(404, "channel '" + name + "' not found");
            const std::string host = remote->value("host", "");
            if (remote->value("source", "") == "config")
                return Response::error(409, "channel '" + name + "' is defined in relay.yaml of host '" + host +
                                                "'; remove it there and restart");
            if (!nats_connected_)
                return Response::error(503, "cannot reach the fleet (NATS is not connected) to de-register '" + name + "'");
            outbox_del_.insert(name);
            outbox_put_.erase(name);
            fleet_entries_.erase(name);
            spdlog::info("de-registered channel {} of host {}", name, host);
            return Response::json(200, {{"name", name}, {"host", host}, {"deregistered", true},
                                        {"status", "success"},
                                        {"message", "Channel '" + name + "' de-registered; host '" + host +
                                                        "' stops its relay"}});
        }
        if (!it->second.registered)
            return Response::error(409, "channel '" + name + "' is defined in relay.yaml; remove it there and restart");
        if (auto st = registry_->remove(name); !st.ok()) return Response::error(500, st.message());
        if (cluster_.enabled()) {
            outbox_del_.insert(name);
            outbox_put_.erase(name);
            fleet_entries_.erase(name);
        }
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
                                {"note", "cached files stay until retention removes them"},
                                {"status", "success"},
                                {"message", "Channel '" + name + "' de-registered and relay stopped"}});
}

Response Orchestrator::h_schema(const Request& req) {
    const std::string& name = req.params.at("name");
    fs::path file;
    {
        std::lock_guard lock(mutex_);
        auto it = channels_.find(name);
        if (it == channels_.end()) {
            // A channel of another host: its schema is in its registry entry.
            auto fe = fleet_entries_.find(name);
            if (cluster_.enabled() && fe != fleet_entries_.end() && fe->second.value("host", "") != host_) {
                Response r;
                r.body = fe->second.value("schema_json", "");
                return r;
            }
            return Response::error(404, "channel '" + name + "' not found");
        }
        if (it->second.registered) {
            Response r;
            r.body = it->second.reg.schema_json;
            return r;
        }
        file = it->second.cfg.schema_path;
    }
    auto text = read_file(file);
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
            auto t = read_file(it->second.cfg.schema_path);
            if (!t) return Response::error(500, t.message());
            mine_text = *t;
        }
    }
    auto mine = avro::Schema::parse(mine_text);
    if (!mine) return Response::error(500, "registered schema of " + name + ": " + mine.message());
    if (mine->canonical_form() == theirs->canonical_form())
        return Response::json(200, {{"name", name}, {"compatible", true}, {"fingerprint", hex16(mine->fingerprint())},
                                    {"valid", true}, {"message", "Schema matches registered schema"}});
    json err = {
        {"error", "schema differs from channel '" + name + "''s registered schema (canonical forms differ: fingerprint " +
                      hex16(theirs->fingerprint()) + " vs " + hex16(mine->fingerprint()) + ")"},
        {"status", 409},
        {"compatible", false},
        {"registered", json::parse(mine->canonical_form(), nullptr, false)},
        {"submitted", json::parse(theirs->canonical_form(), nullptr, false)},
        {"registered_fingerprint", hex16(mine->fingerprint())},
        {"submitted_fingerprint", hex16(theirs->fingerprint())},
        // The earlier answer: both schemas as written (ours above: their canonical forms).
        {"valid", false},
        {"message", "Schema does not match"},
        {"registered_schema", json::parse(mine_text, nullptr, false)},
        {"provided_schema", submitted},
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
    return Response::json(200, {{"start", start}, {"end", end}, {"ports", ports}, {"count", ports.size()},
                                {"range", {{"start", start}, {"end", end}}}, {"available", ports}});
}

Response Orchestrator::h_port_status(const Request& req) {
    auto p = port_param(req.params.at("port"), "port");
    if (!p) return Response::error(400, p.message());
    std::lock_guard lock(mutex_);
    const std::string owner = port_owner(*p);
    const bool free = udp_port_free(*p);
    json j = {{"port", *p}, {"available", owner.empty() && free}, {"channel", owner.empty() ? json(nullptr) : json(owner)},
              {"held_by_other_process", owner.empty() && !free},
              {"status", owner.empty() && free ? "free" : "in_use"}};
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
