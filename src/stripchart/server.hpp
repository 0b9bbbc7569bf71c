// The stripchart's HTTP + WebSocket server, on the shared src/http server (Boost.Beast stays
// inside server.cpp). Serves the pages from web_root, a small JSON API, and the WebSocket on
// /ws. Protocol: docs/stripchart.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.hpp"
#include "http/server.hpp"
#include "stripchart/hub.hpp"
#include "stripchart/page_data.hpp"

namespace speeddata::stripchart {

struct ServerOptions {
    std::string bind = "127.0.0.1";
    uint16_t port = 8081;                    // 0 = any free port
    double frame_rate = 30;                  // data frames per second (upper bound)
    size_t client_queue_limit = 64;          // messages queued per client; oldest data frame dropped when full
    double status_rate = 4;                  // latest-values/loss messages per second
    std::filesystem::path web_root;          // static files (index.html, stripchart.js, ...)
    std::string token;                       // bearer token ("" = none; docs/security.md)
    bool protect_reads = true;               // with a token: the API and the WebSocket need it too
    int max_clients = 256;                   // WebSocket clients at once; more get 503
    // The pivot's tags, pushed to every page when they change ("tags" message); may be null.
    std::shared_ptr<TagsWatch> tags;
    // Saved layouts served by GET /api/v1/dashboards[/{name}] ("" = none).
    std::filesystem::path dashboards_dir;
    // GET /api/v1/config: what a page needs to reach the rest of the stack (the pivot).
    nlohmann::json page_config = nlohmann::json::object();
    // More routes on the same server (the history API: GET /api/v1/series).
    std::vector<std::function<void(http::Router&)>> extra_routes;
};

class Server {
public:
    Server(Hub& hub, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens. Error: "bind 127.0.0.1:8081: Address already in use".
    Status start();
    uint16_t port() const;
    // Serves until stop(); runs on the calling thread.
    void run();
    // Thread-safe (also from a signal-waiting thread).
    void stop();
    // Clients, frames sent/dropped, queue depths: part of GET /api/v1/status.
    nlohmann::json stats() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace speeddata::stripchart
