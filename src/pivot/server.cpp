#include "pivot/server.hpp"

#include <csignal>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/lock.hpp"
#include "core/time.hpp"
#include "core/version.hpp"
#include "http/api_docs.hpp"
#include "http/server.hpp"
#include "pivot/csv.hpp"
#include "pivot/fleet_cache.hpp"
#include "pivot/pivot.hpp"
#include "pivot/request.hpp"
#include "pivot/tags.hpp"

namespace speeddata::pivot {

namespace fs = std::filesystem;
using http::Request;
using http::Response;

namespace {

using Getter = ParamGetter;

// The parameters as a Response error (400 naming the parameter, 413 over a limit), or nullopt.
std::optional<Response> build_request(const Getter& get, const config::PivotConfig& cfg, ExportRequest& req) {
    auto r = parse_export_params(get, cfg, now_ns());
    if (!r) return Response::from_status(r.status());
    req = std::move(*r);
    return std::nullopt;
}

int status_of(ErrorKind k) {
    switch (k) {
        case ErrorKind::bad_request: return 400;
        case ErrorKind::not_found: case ErrorKind::no_data: return 404;
        default: return 500;
    }
}

std::string attachment_name(const ExportRequest& req) {
    std::string n = "speeddata";
    for (size_t i = 0; i < req.channels.size() && i < 4; ++i) n += "_" + req.channels[i];
    if (req.channels.size() > 4) n += "_etc";
    return n + "_" + format_file_stamp(req.start_ns) + ".h5";
}

std::optional<int64_t> parse_id(const std::string& s) {
    if (s.empty() || s.size() > 18) return std::nullopt;
    for (char c : s)
        if (c < '0' || c > '9') return std::nullopt;
    return std::stoll(s);
}

struct Service {
    config::PivotConfig cfg;
    Hdf5Options options;
    std::unique_ptr<TagStore> tags;
    std::unique_ptr<FleetCache> fleet;  // cluster.nats set: other hosts' channels
    fs::path tmp_dir;
    std::atomic<uint64_t> seq{0};
    int64_t started_ns = now_ns();

    // Bytes of exports written but not yet sent (they are removed once sent or abandoned).
    uint64_t temp_bytes() const {
        uint64_t total = 0;
        std::error_code ec;
        for (fs::directory_iterator it(tmp_dir, ec), end; !ec && it != end; it.increment(ec)) {
            std::error_code sec;
            auto n = it->file_size(sec);
            if (!sec) total += n;
        }
        return total;
    }

    std::optional<Response> temp_full() const {
        const uint64_t held = temp_bytes();
        if (held < cfg.max_temp_bytes) return std::nullopt;
        Response r = Response::error(503, "busy: " + std::to_string(held >> 20) +
                                              " MiB of exports wait to be downloaded (limits.max_temp_space is " +
                                              std::to_string(cfg.max_temp_bytes >> 20) + " MiB); retry later");
        r.headers.emplace_back("Retry-After", "5");
        return r;
    }

    // Runs on the server's export workers (Response::later), never on an io thread.
    // format: "hdf5", or "csv" (one CSV for one channel, a zip of CSVs for several).
    Response run_export(const ExportRequest& req, const std::string& format) {
        if (auto full = temp_full()) return *full;
        const bool csv = format == "csv";
        const std::string ext = !csv ? ".h5" : req.channels.size() > 1 ? ".zip" : ".csv";
        fs::path out = tmp_dir / ("export-" + std::to_string(::getpid()) + "-" + std::to_string(seq++) + ext);
        // Channels of other fleet hosts: their files are fetched first, then the local export
        // reads them (so its limits, errors and exactness hold for a fleet export too).
        fs::path avro = cfg.storage.avro_path;
        fs::path gathered;
        if (fleet && !fleet->all_local(req.channels)) {
            auto g = fleet->gather(req.channels, req.start_ns, req.end_ns, tmp_dir);
            if (!g) return Response::from_status(g.status());
            avro = gathered = *g;
        }
        auto res = csv ? export_csv(avro, req, out) : export_range(avro, req, options, out);
        if (!gathered.empty()) {
            std::error_code gec;
            fs::remove_all(gathered, gec);
        }
        if (!res.ok()) {
            std::error_code ec;
            fs::remove(out, ec);
            return Response::error(status_of(res.kind), res.status.message());
        }
        Response resp;
        resp.content_type = !csv ? "application/x-hdf5" : ext == ".zip" ? "application/zip" : "text/csv; charset=utf-8";
        resp.file = out;
        resp.delete_file_after = true;
        std::string name = attachment_name(req);
        name = name.substr(0, name.size() - 3) + ext;
        resp.headers.push_back({"Content-Disposition", "attachment; filename=\"" + name + "\""});
        resp.headers.push_back({"X-SpeedData-Rows", std::to_string(res.rows)});
        return resp;
    }

    Response export_handler(const Request& r) {
        ExportRequest req;
        Getter get = [&](const char* k) -> std::optional<std::string> {
            if (auto p = r.param(k)) return *p;
            return std::nullopt;
        };
        if (auto err = build_request(get, cfg, req)) return *err;
        std::string format = "hdf5";
        if (auto f = r.param("format")) format = *f;
        if (format == "h5") format = "hdf5";
        if (format != "hdf5" && format != "csv")
            return Response::error(400, "format: expected hdf5 or csv, got '" + format + "'");
        // Exports only: tags are this version's, with its errors.
        req.empty_groups = cfg.compat_v06;
        if (auto full = temp_full()) return *full;
        return Response::later([this, req, format] { return run_export(req, format); });
    }

    Response channels_handler(const Request&) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& c : list_channels(cfg.storage.avro_path)) {
            arr.push_back({{"name", c.name}, {"files", c.files}, {"bytes", c.bytes}, {"records", c.records},
                           {"first", c.records ? nlohmann::json(format_iso8601(c.first_ns)) : nlohmann::json()},
                           {"last", c.records ? nlohmann::json(format_iso8601(c.last_ns)) : nlohmann::json()},
                           {"first_ns", c.first_ns}, {"last_ns", c.last_ns}});
        }
        return Response::json(200, {{"channels", arr}});
    }

    Response tag_create(const Request& r) {
        nlohmann::json body = nlohmann::json::parse(r.body, nullptr, false);
        if (body.is_discarded() || !body.is_object()) return Response::error(400, "body: expected a JSON object");
        auto field = [&](const char* k) -> std::optional<std::string> {
            auto it = body.find(k);
            if (it == body.end() || it->is_null()) return std::nullopt;
            if (it->is_string()) return it->get<std::string>();
            if (it->is_array()) {
                std::string s;
                for (const auto& x : *it) s += (s.empty() ? "" : ",") + (x.is_string() ? x.get<std::string>() : x.dump());
                return s;
            }
            return it->dump();
        };
        auto name = field("name");
        if (!name || name->empty()) return Response::error(400, "name: required");
        ExportRequest req;
        if (auto err = build_request(field, cfg, req)) return *err;
        const std::string note = field("note").value_or("");
        const std::string tag_name = *name;
        return Response::later([this, req, note, tag_name] {
            fs::path avro = cfg.storage.avro_path, gathered;
            if (fleet && !fleet->all_local(req.channels)) {
                auto g = fleet->gather(req.channels, req.start_ns, req.end_ns, tmp_dir);
                if (!g) return Response::from_status(g.status());
                avro = gathered = *g;
            }
            auto res = tags->create(tag_name, note, req, avro, options);
            if (!gathered.empty()) {
                std::error_code gec;
                fs::remove_all(gathered, gec);
            }
            if (!res.export_result.ok())
                return Response::error(status_of(res.export_result.kind), res.export_result.status.message());
            nlohmann::json out = tag_to_json(res.tag);
            if (fleet) {
                // Kept by the fleet too (docs/fleet.md); the local tag stands even if this fails.
                Status st = fleet->store_tag(out, tags->path_of(res.tag));
                out["fleet"] = {{"stored", st.ok()},
                                {"key", fleet->host() + "-" + std::to_string(res.tag.id)}};
                if (!st.ok()) {
                    out["fleet"]["error"] = st.message();
                    spdlog::warn("tag {}: not kept by the fleet: {}", res.tag.id, st.message());
                }
            }
            return Response::json(201, out);
        });
    }

    Response tag_get(const Request& r, bool download) {
        auto id = parse_id(r.params.at("id"));
        if (!id) return Response::error(400, "id: expected a tag number, got '" + r.params.at("id") + "'");
        auto got = tags->get(*id);
        if (!got) return Response::from_status(got.status());
        if (!*got) return Response::error(404, "id: no tag " + std::to_string(*id));
        const auto& t = *got;
        if (!download) return Response::json(200, tag_to_json(*t));
        std::error_code ec;
        if (!fs::exists(tags->path_of(*t), ec))
            return Response::error(404, "tag " + std::to_string(*id) + ": its file " + t->file + " is missing");
        Response resp;
        resp.content_type = "application/x-hdf5";
        resp.file = tags->path_of(*t);
        resp.headers.push_back({"Content-Disposition", "attachment; filename=\"" + t->file + "\""});
        return resp;
    }

    Response tag_delete(const Request& r) {
        auto id = parse_id(r.params.at("id"));
        if (!id) return Response::error(400, "id: expected a tag number, got '" + r.params.at("id") + "'");
        auto removed = tags->remove(*id);
        if (!removed.ok()) return Response::from_status(removed.status());
        if (!*removed) return Response::error(404, "id: no tag " + std::to_string(*id));
        return Response::json(200, {{"deleted", *id}});
    }
};

}  // namespace

Status serve(const config::PivotConfig& cfg, const std::string& token_override) {
    std::string token = token_override;
    if (token.empty()) {
        auto t = config::load_token(cfg.auth, cfg.config_dir, (cfg.config_dir / "global.yaml").string() + ": auth.token_file");
        if (!t) return t.status();
        token = *t;
    }
    if (auto st = http::check_exposure(cfg.bind, token, cfg.auth.mode, (cfg.config_dir / "pivot.yaml").string() + ": http");
        !st.ok())
        return st;
    auto lock = LockFile::acquire(cfg.storage.state_path / "pivot.lock",
                                  "pid " + std::to_string(::getpid()) + ", http://" + cfg.bind + ":" + std::to_string(cfg.port) + "/");
    if (!lock) return lock.code() == StatusCode::conflict ? Status::conflict("already running (" + lock.message() + ")") : lock.status();
    auto svc = std::make_shared<Service>();
    svc->cfg = cfg;
    svc->options = hdf5_options(cfg);
    auto store = TagStore::open(cfg.storage.tags_path);
    if (!store.ok()) return store.status();
    svc->tags = std::move(*store);
    std::error_code ec;
    svc->tmp_dir = fs::temp_directory_path(ec) / ("speeddata-pivot-" + std::to_string(::getpid()));
    fs::create_directories(svc->tmp_dir, ec);
    if (ec) return Status::error("create " + svc->tmp_dir.string() + ": " + ec.message());

    http::Router router;
    router.add("GET", "/api/v1/health", [svc](const Request&) {
        // compat.v06: the earlier pivot's word ("healthy"); ours is "ok", as every server's.
        return Response::json(200, {{"status", svc->cfg.compat_v06 ? "healthy" : "ok"}, {"service", "pivot"},
                                    {"version", speeddata::version}, {"compat_v06", svc->cfg.compat_v06},
                                    {"uptime_s", static_cast<double>(now_ns() - svc->started_ns) / 1e9},
                                    {"avro_path", svc->cfg.storage.avro_path.string()},
                                    {"tags_path", svc->cfg.storage.tags_path.string()}});
    }, http::Access::open);
    router.add("GET", "/api/v1/pivot/export", [svc](const Request& r) { return svc->export_handler(r); });
    router.add("GET", "/api/v1/channels", [svc](const Request& r) { return svc->channels_handler(r); });
    router.add("POST", "/api/v1/tags", [svc](const Request& r) { return svc->tag_create(r); });
    router.add("GET", "/api/v1/tags", [svc](const Request&) {
        auto listed = svc->tags->list();
        if (!listed) return Response::from_status(listed.status());
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& t : *listed) arr.push_back(tag_to_json(t));
        return Response::json(200, {{"tags", arr}});
    });
    router.add("GET", "/api/v1/tags/{id}", [svc](const Request& r) { return svc->tag_get(r, false); });
    router.add("GET", "/api/v1/tags/{id}/download", [svc](const Request& r) { return svc->tag_get(r, true); });
    router.add("DELETE", "/api/v1/tags/{id}", [svc](const Request& r) { return svc->tag_delete(r); });
    router.add("GET", "/api/v1/fleet/tags", [svc](const Request&) {
        if (!svc->fleet) return Response::error(404, "fleet: this host is in no fleet (cluster.nats is none)");
        return Response::later([svc] {
            auto listed = svc->fleet->list_tags();
            if (!listed) return Response::from_status(listed.status());
            nlohmann::json arr = nlohmann::json::array();
            for (auto& t : *listed) arr.push_back(std::move(t));
            return Response::json(200, {{"tags", arr}});
        });
    });
    router.add("GET", "/api/v1/fleet/tags/{key}/download", [svc](const Request& r) {
        if (!svc->fleet) return Response::error(404, "fleet: this host is in no fleet (cluster.nats is none)");
        const std::string key = r.params.at("key");
        return Response::later([svc, key] {
            const fs::path out = svc->tmp_dir / ("fleet-tag-" + std::to_string(svc->seq++) + ".h5");
            auto meta = svc->fleet->fetch_tag(key, out);
            if (!meta) {
                std::error_code ec;
                fs::remove(out, ec);
                return Response::from_status(meta.status());
            }
            Response resp;
            resp.content_type = "application/x-hdf5";
            resp.file = out;
            resp.delete_file_after = true;
            resp.headers.push_back({"Content-Disposition", "attachment; filename=\"" + meta->value("file", key + ".h5") + "\""});
            return resp;
        });
    });
    // Last: the index lists the routes added before it. The pivot has no page, so GET / is the index.
    http::add_api_docs(router, {"pivot", false, !token.empty(), cfg.auth.reads});

    http::ServerOptions opts;
    opts.bind = cfg.bind;
    opts.port = cfg.port;
    // io threads only parse and route; exports run on their own bounded pool, so health,
    // channels and tags answer at once however many exports are running or waiting.
    opts.threads = 2;
    opts.workers = cfg.concurrent_exports;
    opts.worker_queue = static_cast<size_t>(cfg.queued_exports);
    opts.send_timeout = cfg.send_timeout;
    opts.bearer_token = token;
    opts.protect_reads = cfg.auth.reads;
    opts.public_paths = {"/api/v1/health"};
    opts.server_name = "speeddata-pivot";

    // SIGTERM/SIGINT are taken by a waiting thread (blocked everywhere else, including in
    // the io threads started below), which stops the server for a clean exit 0.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // A fleet (cluster.nats): answer for this host's cache, gather the others' (docs/fleet.md).
    // After the mask: nats.c's threads must not take the stop signals.
    {
        auto cluster = config::load_cluster_config(cfg.config_dir);
        if (!cluster) return cluster.status();
        svc->fleet = FleetCache::start(cfg, *cluster);
    }

    http::Server server(opts, std::move(router));
    Status st = server.start();
    if (!st.ok()) return st;
    spdlog::info("REST API on http://{}:{} (avro {}, tags {})", cfg.bind, server.port(), cfg.storage.avro_path.string(),
                 cfg.storage.tags_path.string());
    std::atomic<bool> done{false};
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&set, &sig);
        if (!done) spdlog::info("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
        server.stop();
    });
    server.run();
    done = true;
    // run() only returns after stop(); if something else ended it, wake the waiter.
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    svc->fleet.reset();
    fs::remove_all(svc->tmp_dir, ec);
    return {};
}

}  // namespace speeddata::pivot
