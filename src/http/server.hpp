// Shared HTTP plumbing (Boost.Beast) for the orchestrator, stripchart and pivot servers.
// Include only this header in handler code: it keeps Beast out of most translation units
// (Beast costs ~12 s of compile time per file). The one exception is on_upgrade(), whose
// callback receives Beast types (see server_beast.hpp) for the stripchart's WebSockets.
//
// Behaviour every server gets:
//  * JSON errors: {"error": "<message>", "status": N} for 400/401/404/405/413/500;
//  * request bodies over ServerOptions::max_body_bytes -> 413 before the body is read;
//  * bearer token (when configured) on every path under /api/ except those listed public;
//  * static files under static_root for GET/HEAD of non-API paths (index.html for "/",
//    content types by extension, no directory traversal);
//  * handlers may stream a file (Response::file) so large HDF5 exports are not held in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.hpp"

namespace speeddata::http {

struct Request {
    std::string method;                          // "GET", "POST", ...
    std::string target;                          // raw target: "/api/v1/x?a=1"
    std::string path;                            // decoded path without the query: "/api/v1/x"
    std::map<std::string, std::string> query;    // decoded query parameters (last one wins)
    std::map<std::string, std::string> params;   // path parameters from the route: {name} -> value
    std::map<std::string, std::string> headers;  // lower-cased names
    std::string body;
    std::string remote;                          // "127.0.0.1:53422"

    // The query parameter, or nullptr when absent.
    const std::string* param(const std::string& name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
    // When set, the body is streamed from this file (content type as above); the file is
    // removed after sending when delete_file_after is true (temporary exports).
    std::filesystem::path file;
    bool delete_file_after = false;

    static Response json(int status, const nlohmann::json& body);
    // {"error": message, "status": status}
    static Response error(int status, const std::string& message);
};

using Handler = std::function<Response(const Request&)>;

// Routes "METHOD /path/{param}/more" patterns to handlers. A path that matches a route
// with another method gets 405 with an Allow header; no match gets 404 (JSON for /api/).
class Router {
public:
    void add(const std::string& method, const std::string& pattern, Handler handler);
    // Dispatches; fills req.params. Catches exceptions from handlers and answers 500 with
    // the message, so a bug in a handler never takes the server down.
    Response dispatch(Request& req) const;

private:
    struct Route {
        std::string method;
        std::vector<std::string> segments;  // "{name}" segments capture
        Handler handler;
    };
    std::vector<Route> routes_;
};

struct ServerOptions {
    std::string bind = "127.0.0.1";
    uint16_t port = 0;                         // 0 = any free port (see Server::port())
    size_t max_body_bytes = 1u << 20;          // larger request bodies get 413
    std::string bearer_token;                  // empty = no authentication
    std::vector<std::string> public_paths;     // API paths open without the token, e.g. "/api/v1/health"
    std::filesystem::path static_root;         // empty = no static files
    int threads = 1;                           // io threads; handlers run on them (blocking is ok up to this many at once)
    std::string server_name = "speeddata";
};

class Server {
public:
    Server(ServerOptions options, Router router);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens. Error: "bind 127.0.0.1:8080: Address already in use".
    Status start();
    uint16_t port() const;
    // Runs the io threads until stop(); returns when they have all finished.
    void run();
    // Thread-safe; makes run() return after open connections are closed.
    void stop();

    // Upgrade hook for WebSockets: a GET with "Upgrade: websocket" on this exact path hands
    // the connection to the callback (declared in server_beast.hpp, which includes Beast).
    struct UpgradeHandler;
    void on_upgrade(const std::string& path, std::shared_ptr<UpgradeHandler> handler);

    // Posts work to the server's io threads (timers, broadcasts).
    void post(std::function<void()> fn);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Percent-decoding of a URL component ('+' is a space in query strings).
std::string url_decode(const std::string& s, bool plus_is_space = true);

}  // namespace speeddata::http
