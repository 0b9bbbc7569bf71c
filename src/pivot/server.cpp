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

#include "core/time.hpp"
#include "http/server.hpp"
#include "pivot/pivot.hpp"
#include "pivot/tags.hpp"

namespace speeddata::pivot {

namespace fs = std::filesystem;
using http::Request;
using http::Response;

namespace {

// Exports that may run at once (each on its own io thread); more requests queue in the
// server until a thread is free.
constexpr int server_threads = 8;


using Getter = std::function<std::optional<std::string>(const char*)>;

// Builds an export request from parameters (query string or JSON body), checking the
// limits of pivot.yaml. Returns the error answer (400 naming the parameter, 413 over a
// limit) or nullopt.
std::optional<Response> build_request(const Getter& get, const config::PivotConfig& cfg, ExportRequest& req) {
    auto start = get("start");
    if (!start || start->empty()) return Response::error(400, "start: required (ISO 8601, e.g. 2025-01-23T14:00:00Z)");
    auto s = parse_time(*start);
    if (!s.ok()) return Response::error(400, "start: " + s.message());
    req.start_ns = *s;
    auto end = get("end");
    auto duration = get("duration");
    const char* range_param = "duration";
    if (end && duration) return Response::error(400, "end: give end or duration, not both");
    if (end) {
        range_param = "end";
        auto e = parse_time(*end);
        if (!e.ok()) return Response::error(400, "end: " + e.message());
        if (*e <= req.start_ns) return Response::error(400, "end: must be after start");
        req.end_ns = *e;
    } else if (duration) {
        auto d = parse_iso_duration(*duration);
        if (!d.ok()) return Response::error(400, "duration: " + d.message());
        req.end_ns = req.start_ns + *d;
    } else {
        return Response::error(400, "duration: required (or end), e.g. PT30S");
    }
    auto channels = get("channels");
    if (!channels) return Response::error(400, "channels: required, e.g. channels=example");
    req.channels = split_list(*channels);
    if (req.channels.empty()) return Response::error(400, "channels: at least one channel is required");
    if (auto sig = get("signals")) req.signals = split_list(*sig);
    if (auto dec = get("decimate")) {
        char* endp = nullptr;
        long v = std::strtol(dec->c_str(), &endp, 10);
        if (dec->empty() || *endp || v < 1 || v > 1000000000)
            return Response::error(400, "decimate: must be an integer >= 1, got '" + *dec + "'");
        req.decimation.factor = static_cast<int>(v);
    }
    if (auto alg = get("algorithm")) {
        auto a = config::parse_algorithm(*alg);
        if (!a.ok()) return Response::error(400, "algorithm: " + a.message());
        req.decimation.algorithm = *a;
    }
    if (static_cast<int>(req.channels.size()) > cfg.max_channels)
        return Response::error(413, "channels: " + std::to_string(req.channels.size()) + " channels requested; the limit is " +
                                        std::to_string(cfg.max_channels) + " (limits.max_channels in pivot.yaml)");
    int64_t max_ns = static_cast<int64_t>(cfg.max_duration.count()) * 1000000000LL;
    if (req.end_ns - req.start_ns > max_ns) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(req.end_ns - req.start_ns) / 1e9);
        return Response::error(413, std::string(range_param) + ": the range is " + buf + " s; the limit is " +
                                        std::to_string(cfg.max_duration.count()) +
                                        " s (limits.max_duration in pivot.yaml)");
    }
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
    fs::path tmp_dir;
    std::atomic<uint64_t> seq{0};
    int64_t started_ns = now_ns();

    Response export_handler(const Request& r) {
        ExportRequest req;
        Getter get = [&](const char* k) -> std::optional<std::string> {
            if (auto p = r.param(k)) return *p;
            return std::nullopt;
        };
        if (auto err = build_request(get, cfg, req)) return *err;
        fs::path out = tmp_dir / ("export-" + std::to_string(::getpid()) + "-" + std::to_string(seq++) + ".h5");
        auto res = export_range(cfg.storage.avro_path, req, options, out);
        if (!res.ok()) return Response::error(status_of(res.kind), res.status.message());
        Response resp;
        resp.content_type = "application/x-hdf5";
        resp.file = out;
        resp.delete_file_after = true;
        resp.headers.push_back({"Content-Disposition", "attachment; filename=\"" + attachment_name(req) + "\""});
        resp.headers.push_back({"X-SpeedData-Rows", std::to_string(res.rows)});
        return resp;
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
        auto res = tags->create(*name, field("note").value_or(""), req, cfg.storage.avro_path, options);
        if (!res.export_result.ok())
            return Response::error(status_of(res.export_result.kind), res.export_result.status.message());
        return Response::json(201, tag_to_json(res.tag));
    }

    Response tag_get(const Request& r, bool download) {
        auto id = parse_id(r.params.at("id"));
        if (!id) return Response::error(400, "id: expected a tag number, got '" + r.params.at("id") + "'");
        auto t = tags->get(*id);
        if (!t) return Response::error(404, "id: no tag " + std::to_string(*id));
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
        if (!removed.ok()) return Response::error(500, removed.message());
        if (!*removed) return Response::error(404, "id: no tag " + std::to_string(*id));
        return Response::json(200, {{"deleted", *id}});
    }
};

}  // namespace

Status serve(const config::PivotConfig& cfg) {
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
        return Response::json(200, {{"status", "ok"}, {"service", "pivot"},
                                    {"uptime_s", static_cast<double>(now_ns() - svc->started_ns) / 1e9},
                                    {"avro_path", svc->cfg.storage.avro_path.string()},
                                    {"tags_path", svc->cfg.storage.tags_path.string()}});
    });
    router.add("GET", "/api/v1/pivot/export", [svc](const Request& r) { return svc->export_handler(r); });
    router.add("GET", "/api/v1/channels", [svc](const Request& r) { return svc->channels_handler(r); });
    router.add("POST", "/api/v1/tags", [svc](const Request& r) { return svc->tag_create(r); });
    router.add("GET", "/api/v1/tags", [svc](const Request&) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& t : svc->tags->list()) arr.push_back(tag_to_json(t));
        return Response::json(200, {{"tags", arr}});
    });
    router.add("GET", "/api/v1/tags/{id}", [svc](const Request& r) { return svc->tag_get(r, false); });
    router.add("GET", "/api/v1/tags/{id}/download", [svc](const Request& r) { return svc->tag_get(r, true); });
    router.add("DELETE", "/api/v1/tags/{id}", [svc](const Request& r) { return svc->tag_delete(r); });

    http::ServerOptions opts;
    opts.bind = cfg.bind;
    opts.port = cfg.port;
    opts.threads = server_threads;
    opts.public_paths = {"/api/v1/health"};
    opts.server_name = "speeddata-pivot";

    // SIGTERM/SIGINT are taken by a waiting thread (blocked everywhere else, including in
    // the io threads started below), which stops the server for a clean exit 0.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);

    http::Server server(opts, std::move(router));
    Status st = server.start();
    if (!st.ok()) return st;
    std::cout << "speeddata pivot: REST API on http://" << cfg.bind << ":" << server.port() << " (avro "
              << cfg.storage.avro_path.string() << ", tags " << cfg.storage.tags_path.string() << ")" << std::endl;
    std::atomic<bool> done{false};
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&set, &sig);
        if (!done) std::cout << "speeddata pivot: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping" << std::endl;
        server.stop();
    });
    server.run();
    done = true;
    // run() only returns after stop(); if something else ended it, wake the waiter.
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    fs::remove_all(svc->tmp_dir, ec);
    return {};
}

}  // namespace speeddata::pivot
