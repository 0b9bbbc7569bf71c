// The stripchart's HTTP + WebSocket server (Boost.Beast stays inside server.cpp).
// Serves the pages from web_root, a small JSON API, and WebSockets on any path (the
// browser's stripchart.js uses /ws). Protocol: docs/stripchart.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/status.hpp"
#include "stripchart/hub.hpp"

namespace speeddata::stripchart {

struct ServerOptions {
    std::string bind = "127.0.0.1";
    uint16_t port = 8081;                    // 0 = any free port
    double frame_rate = 30;                  // data frames per second (upper bound)
    size_t client_queue_limit = 64;          // messages queued per client; oldest data frame dropped when full
    double status_rate = 4;                  // latest-values/loss messages per second
    std::filesystem::path web_root;          // static files (index.html, stripchart.js, ...)
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
