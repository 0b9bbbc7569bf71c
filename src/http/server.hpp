// Shared HTTP plumbing (Boost.Beast) for the orchestrator, stripchart and pivot servers.
// Include only this header in handler code: it keeps Beast out of most translation units
// (Beast costs ~12 s of compile time per file). The one exception is on_upgrade(), whose
// callback receives Beast types (see server_beast.hpp) for the stripchart's WebSockets.
//
// Behaviour every server gets (docs/security.md):
//  * one normalised path (target.hpp) decides authorisation, routing and static files;
//  * JSON errors: {"error": "<message>", "status": N}, never invalid UTF-8;
//  * request bodies over ServerOptions::max_body_bytes -> 413 before the body is read;
//  * bearer token (when configured) on every mutating request, on every read when
//    protect_reads, never on Access::open routes; cross-origin mutating requests refused;
//    on a loopback bind, Host headers that do not name the loopback refused (DNS rebinding);
//  * static files under static_root only (canonical path inside the root, no dot files);
//  * bounded connections: a cap (oldest idle closed first), header/idle/body/send deadlines,
//    EMFILE back-off, descriptors held in reserve for the process's own work;
//  * handlers may stream a file (Response::file) or run on the bounded worker pool
//    (Response::deferred; 503 + Retry-After when its queue is full).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.hpp"

namespace boost::asio {
class io_context;
}

namespace speeddata::http {

struct Request {
    std::string method;                          // "GET", "POST", ...
    std::string target;                          // raw target: "/api/v1/x?a=1"
    std::string path;                            // normalised path (target.hpp): "/api/v1/x"
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
    // removed after sending (or when the client goes away) when delete_file_after is true.
    std::filesystem::path file;
    bool delete_file_after = false;
    // When set, the server runs this on its worker pool (ServerOptions::workers) and sends
    // what it returns; the io threads stay free for other requests. A full queue answers
    // 503 with Retry-After instead.
    std::function<Response()> deferred;

    static Response json(int status, const nlohmann::json& body);
    // {"error": message, "status": status}
    static Response error(int status, const std::string& message);
    // The HTTP status of a failed Status's code (core/status.hpp), with its message.
    static Response from_status(const Status& status);
    static Response later(std::function<Response()> work);
};

// Maps a Status code to its HTTP status (one place for every server).
int http_status_of(StatusCode code);

using Handler = std::function<Response(const Request&)>;

// Who may call a route when a bearer token is configured.
enum class Access {
    open,   // never needs the token (health checks)
    read,   // needs it when ServerOptions::protect_reads (the default for GET)
    write,  // always needs it (the default for every other method)
};

// Routes "METHOD /path/{param}/more" patterns to handlers. A path that matches a route
// with another method gets 405 with an Allow header; no match gets 404.
class Router {
public:
    // access: default Access::read for GET, Access::write otherwise.
    void add(const std::string& method, const std::string& pattern, Handler handler);
    void add(const std::string& method, const std::string& pattern, Handler handler, Access access);

    struct Match {
        const Handler* handler = nullptr;          // null: no route for this method
        Access access = Access::write;             // of the route, or write when none matched
        std::map<std::string, std::string> params;
        std::vector<std::string> allowed;          // methods of routes matching the path
    };
    // Finds the route for a method and normalised path (HEAD is served by GET routes).
    Match find(const std::string& method, const std::string& path) const;
    // Answers with the found route (404/405 when none). Catches exceptions from handlers and
    // answers 500, so a bug in a handler never takes the server down.
    Response dispatch(Request& req) const;
    Response call(const Match& m, Request& req) const;
    // "METHOD pattern" of every route, in the order added (for the OpenAPI/route tests).
    std::vector<std::string> routes() const;
    struct RouteInfo {
        std::string method;
        std::string pattern;
        Access access;
    };
    // Every route with its access level, in the order added (the /api/v1 index).
    std::vector<RouteInfo> route_info() const;

private:
    struct Route {
        std::string method;
        std::string pattern;
        std::vector<std::string> segments;  // "{name}" segments capture
        Handler handler;
        Access access;
    };
    std::vector<Route> routes_;
};

struct ServerOptions {
    std::string bind = "127.0.0.1";
    uint16_t port = 0;                         // 0 = any free port (see Server::port())
    size_t max_body_bytes = 1u << 20;          // larger request bodies get 413
    std::string bearer_token;                  // empty = no authentication
    bool protect_reads = true;                 // with a token: reads need it too (Access::read)
    std::vector<std::string> public_paths;     // paths always open (as Access::open), e.g. "/api/v1/health"
    std::vector<std::string> cors_read_paths;  // path prefixes whose GETs may be read cross-origin
    std::vector<std::string> allowed_hosts;    // extra Host names accepted on a loopback bind
    std::filesystem::path static_root;         // empty = no static files
    int threads = 1;                           // io threads (parsing, routing, quick handlers)
    int workers = 0;                           // worker threads for Response::deferred (0 = none: run inline)
    size_t worker_queue = 16;                  // deferred jobs waiting; more get 503
    int max_connections = 0;                   // 0 = from the open-files limit minus fd_reserve
    int fd_reserve = 64;                       // descriptors kept free for the process's own work
    std::chrono::milliseconds header_timeout{10000};  // a request's headers (also keep-alive idle)
    std::chrono::milliseconds body_timeout{30000};    // a request's body
    std::chrono::milliseconds send_timeout{30000};    // a response making no progress is cut
    std::string server_name = "speeddata";
};

struct ServerStats {
    uint64_t connections_now = 0, connections_total = 0, evicted_idle = 0, refused_over_cap = 0;
    uint64_t accept_errors = 0, deferred_rejected = 0, send_timeouts = 0;
    int max_connections = 0;
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
    ServerStats stats() const;

    // Upgrade hook for WebSockets: a GET with "Upgrade: websocket" on this exact path hands
    // the connection to the callback (declared in server_beast.hpp, which includes Beast).
    struct UpgradeHandler;
    void on_upgrade(const std::string& path, std::shared_ptr<UpgradeHandler> handler);

    // Posts work to the server's io threads (timers, broadcasts).
    void post(std::function<void()> fn);

    struct Impl;

private:
    friend boost::asio::io_context& io_context_of(Server& server);
    std::unique_ptr<Impl> impl_;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_address(const std::string& address);

// Why a server may not start with these settings, or ok: a non-loopback bind needs a token
// unless auth is explicitly "none". `where` names the config key ("orchestrator.yaml: http").
Status check_exposure(const std::string& bind, const std::string& token, const std::string& auth_mode,
                      const std::string& where);

}  // namespace speeddata::http
