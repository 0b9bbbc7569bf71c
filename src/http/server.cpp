// Implementation of the shared HTTP server (server.hpp) on Boost.Beast. This is one of the
// only two translation units that include Beast (the other is the stripchart's WebSocket
// code), because each costs ~12 s to compile.
#include <utility>  // first: Boost 1.74 asio under g++ 12 needs it (docs/ARCHITECTURE.md, pitfalls)

#include "core/fs.hpp"
#include "http/server.hpp"
#include "http/server_beast.hpp"
#include "http/target.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <spdlog/spdlog.h>

namespace speeddata::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono;

// ---------------------------------------------------------------- requests and responses

const std::string* Request::param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
}

Response Response::json(int status, const nlohmann::json& body) {
    Response r;
    r.status = status;
    r.content_type = "application/json";
    // Replace, never throw: a message may quote client input that is not valid UTF-8.
    r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

Response Response::error(int status, const std::string& message) {
    return json(status, nlohmann::json{{"error", message}, {"status", status}});
}

int http_status_of(StatusCode code) {
    switch (code) {
        case StatusCode::ok: return 200;
        case StatusCode::invalid_argument: return 400;
        case StatusCode::not_found:
        case StatusCode::no_data: return 404;
        case StatusCode::conflict: return 409;
        case StatusCode::too_large: return 413;
        case StatusCode::unavailable: return 503;
        case StatusCode::unknown:
        case StatusCode::io: return 500;
    }
    return 500;
}

Response Response::from_status(const Status& status) {
    Response r = error(http_status_of(status.code()), status.message());
    if (status.code() == StatusCode::unavailable) r.headers.emplace_back("Retry-After", "5");
    return r;
}

Response Response::later(std::function<Response()> work) {
    Response r;
    r.deferred = std::move(work);
    return r;
}

// ---------------------------------------------------------------- router

namespace {

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

// True when the route's segments match the path's; fills params for "{name}" segments. The
// path is already decoded (exactly once, by parse_target).
bool match_route(const std::vector<std::string>& pattern, const std::vector<std::string>& segs,
                 std::map<std::string, std::string>& params) {
    if (pattern.size() != segs.size()) return false;
    std::map<std::string, std::string> got;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const std::string& p = pattern[i];
        if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
            got[p.substr(1, p.size() - 2)] = segs[i];
        } else if (p != segs[i]) {
            return false;
        }
    }
    params = std::move(got);
    return true;
}

}  // namespace

void Router::add(const std::string& method, const std::string& pattern, Handler handler) {
    add(method, pattern, std::move(handler), method == "GET" ? Access::read : Access::write);
}

void Router::add(const std::string& method, const std::string& pattern, Handler handler, Access access) {
    routes_.push_back(Route{method, pattern, split_path(pattern), std::move(handler), access});
}

Router::Match Router::find(const std::string& method, const std::string& path) const {
    Match m;
    const auto segs = split_path(path);
    // HEAD is answered by the GET handler (the body is dropped when sending).
    const std::string& want = method == "HEAD" ? std::string("GET") : method;
    for (const auto& route : routes_) {
        std::map<std::string, std::string> params;
        if (!match_route(route.segments, segs, params)) continue;
        if (route.method != want) {
            if (std::find(m.allowed.begin(), m.allowed.end(), route.method) == m.allowed.end())
                m.allowed.push_back(route.method);
            continue;
        }
        m.handler = &route.handler;
        m.access = route.access;
        m.params = std::move(params);
        return m;
    }
    return m;
}

Response Router::call(const Match& m, Request& req) const {
    if (!m.handler) {
        if (!m.allowed.empty()) {
            std::string allow;
            for (const auto& a : m.allowed) allow += (allow.empty() ? "" : ", ") + a;
            Response r = Response::error(405, "method " + req.method + " not allowed on " + req.path +
                                                  " (allowed: " + allow + ")");
            r.headers.emplace_back("Allow", allow);
            return r;
        }
        return Response::error(404, "not found: " + req.path);
    }
    req.params = m.params;
    try {
        return (*m.handler)(req);
    } catch (const std::exception& e) {
        return Response::error(500, std::string("internal error: ") + e.what());
    } catch (...) {
        return Response::error(500, "internal error: unknown exception");
    }
}

Response Router::dispatch(Request& req) const { return call(find(req.method, req.path), req); }

std::vector<std::string> Router::routes() const {
    std::vector<std::string> out;
    for (const auto& r : routes_) out.push_back(r.method + " " + r.pattern);
    return out;
}

std::vector<Router::RouteInfo> Router::route_info() const {
    std::vector<RouteInfo> out;
    for (const auto& r : routes_) out.push_back(RouteInfo{r.method, r.pattern, r.access});
    return out;
}

// ---------------------------------------------------------------- exposure rules

bool is_loopback_address(const std::string& a) {
    if (a == "localhost" || a == "::1" || a == "[::1]") return true;
    if (a.size() > 10 && a.compare(a.size() - 10, 10, ".localhost") == 0) return true;
    return a.rfind("127.", 0) == 0;
}

Status check_exposure(const std::string& bind, const std::string& token, const std::string& auth_mode,
                      const std::string& where) {
    if (is_loopback_address(bind) || !token.empty() || auth_mode == "none") return Status();
    return Status::invalid(where + ".bind is " + bind +
                           " (reachable from the network) but no bearer token is configured: anyone who "
                           "can reach the port could change the stack. Set auth.token_file in global.yaml "
                           "(or $SPEEDDATA_TOKEN), or set auth.mode: none to run without authentication "
                           "on purpose (docs/security.md)");
}

// ---------------------------------------------------------------- server internals

namespace {

const char* content_type_for(const std::filesystem::path& p) {
    static const std::map<std::string, const char*> types = {
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"}, {".json", "application/json"},
        {".avsc", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"}, {".md", "text/plain; charset=utf-8"},
        {".map", "application/json"}, {".woff2", "font/woff2"}, {".wasm", "application/wasm"},
        {".h5", "application/x-hdf5"}, {".hdf5", "application/x-hdf5"}, {".csv", "text/csv; charset=utf-8"},
        {".zip", "application/zip"},
    };
    std::string ext = p.extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = types.find(ext);
    return it == types.end() ? "application/octet-stream" : it->second;
}

int64_t steady_ns() { return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count(); }

void set_cloexec(int fd) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

// A fixed pool of worker threads with a bounded queue (Response::deferred).
class WorkPool {
public:
    WorkPool(int threads, size_t queue_limit) : limit_(queue_limit) {
        for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
    }
    ~WorkPool() {
        {
            std::lock_guard lock(mu_);
            stopping_ = true;
            queue_.clear();
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }
    bool enabled() const { return !threads_.empty(); }
    // False when the queue is full (the job is not taken).
    bool submit(std::function<void()> job) {
        {
            std::lock_guard lock(mu_);
            if (stopping_ || queue_.size() >= limit_) return false;
            queue_.push_back(std::move(job));
        }
        cv_.notify_one();
        return true;
    }
    std::pair<size_t, size_t> load() const {
        std::lock_guard lock(mu_);
        return {busy_, queue_.size()};
    }

private:
    void loop() {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
                if (stopping_) return;
                job = std::move(queue_.front());
                queue_.pop_front();
                ++busy_;
            }
            job();
            std::lock_guard lock(mu_);
            --busy_;
        }
    }
    size_t limit_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    size_t busy_ = 0;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

class Session;

// "http://host:port" -> "host:port" (what a Host header holds); "" when not http(s).
std::string origin_host_port(const std::string& origin) {
    const auto scheme_end = origin.find("://");
    if (scheme_end == std::string::npos) return {};
    std::string hp = origin.substr(scheme_end + 3);
    if (auto slash = hp.find('/'); slash != std::string::npos) hp.resize(slash);
    return hp;
}

// The host name of "host:port" / "[::1]:port", lower-cased.
std::string host_only(std::string hp) {
    if (!hp.empty() && hp.front() == '[') {
        auto close = hp.find(']');
        if (close != std::string::npos) hp.resize(close + 1);
    } else if (auto colon = hp.rfind(':'); colon != std::string::npos) {
        hp.resize(colon);
    }
    for (auto& c : hp) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return hp;
}

}  // namespace

struct Server::Impl {
    // Everything sessions touch is declared before io so that it outlives the sessions the
    // io_context destroys with its pending handlers.
    ServerOptions options;
    Router router;
    uint16_t bound_port = 0;
    bool started = false;
    std::atomic<bool> stopping{false};
    std::mutex upgrade_mutex;
    struct UpgradeEntry {
        std::shared_ptr<UpgradeHandler> handler;
    };
    std::map<std::string, UpgradeEntry> upgrades;
    std::filesystem::path static_canonical;

    // Open connections (HTTP sessions) for the cap and idle eviction; upgraded ones counted.
    mutable std::mutex conn_mu;
    std::list<std::weak_ptr<Session>> conns;
    std::atomic<int> upgraded{0};
    std::atomic<int> evicting{0};  // claimed for eviction, not yet destroyed
    int max_connections = 0;
    std::atomic<uint64_t> connections_total{0}, evicted_idle{0}, refused_over_cap{0}, accept_errors{0},
        deferred_rejected{0}, send_timeouts{0};
    int64_t last_accept_log_ns = 0;

    asio::io_context io;
    tcp::acceptor acceptor{io};
    asio::steady_timer accept_pause{io};
    // Destroyed before io (reverse order): a job still running posts to io.
    std::unique_ptr<WorkPool> pool;

    Impl(ServerOptions o, Router r) : options(std::move(o)), router(std::move(r)) {}

    void do_accept();
    void on_accepted(beast::error_code ec, tcp::socket socket);
    // Connections held, not counting those already being closed for eviction.
    int connections_now() const {
        std::lock_guard lock(conn_mu);
        return static_cast<int>(conns.size()) + upgraded.load() - evicting.load();
    }
    // Closes the connection that has waited longest for a request; false when none waits.
    bool evict_oldest_idle();
    bool token_ok(const Request& req, bool allow_query_token) const;
    bool host_ok(const Request& req) const;
    // Resolves a static file for a normalised path, or an empty path when there is none.
    std::filesystem::path static_file(const std::string& path) const;
    bool cors_readable(const std::string& path) const {
        for (const auto& p : options.cors_read_paths)
            if (path.rfind(p, 0) == 0) return true;
        return false;
    }
    // A page of the stack itself: the same host name as this request's Host (any port), or,
    // on a loopback bind, any loopback origin. Only http(s) origins; "null" never.
    bool sibling_origin(const std::string& origin, const Request& req) const {
        const std::string hp = origin_host_port(origin);
        if (hp.empty()) return false;
        const std::string host = host_only(hp);
        auto h = req.headers.find("host");
        if (h != req.headers.end() && host == host_only(h->second)) return true;
        return is_loopback_address(options.bind) && is_loopback_address(host);
    }
    bool is_public(const std::string& path) const {
        for (const auto& p : options.public_paths)
            if (path == p) return true;
        return false;
    }
};

namespace {

// One HTTP/1.1 connection: read a request, answer, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, Server::Impl& server) : stream_(std::move(socket)), server_(server) {}
    ~Session() {
        std::lock_guard lock(server_.conn_mu);
        server_.conns.erase(self_it_);
        if (idle_since_.load() == -1) --server_.evicting;
    }

    void start() {
        {
            std::lock_guard lock(server_.conn_mu);
            server_.conns.push_front(weak_from_this());
            self_it_ = server_.conns.begin();
        }
        read();
    }

    // Nanoseconds (steady) since which the connection waits for a request; 0 when busy, -1
    // once chosen for eviction.
    int64_t idle_since() const { return idle_since_.load(); }
    // Claims the connection for eviction if it is still idle since `since`: two accepts that
    // pick the same oldest connection must not both count it as freed.
    bool claim(int64_t since) { return idle_since_.compare_exchange_strong(since, -1); }

    // Ends the connection (posted onto its strand by another thread).
    void evict() {
        asio::post(stream_.get_executor(), [self = shared_from_this()] {
            beast::error_code ignored;
            self->stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
            self->stream_.close();
        });
    }

private:
    void read() {
        parser_.emplace();
        parser_->body_limit(server_.options.max_body_bytes);
        parser_->header_limit(64 * 1024);
        if (idle_since_.load() != -1) idle_since_ = steady_ns();
        // One deadline for the whole header: covers keep-alive idling and slow senders.
        stream_.expires_after(server_.options.header_timeout);
        bhttp::async_read_header(stream_, buffer_, *parser_,
                                 [self = shared_from_this()](beast::error_code ec, size_t) {
                                     // An evicted connection stays claimed (-1): never idle again.
                                     int64_t was = self->idle_since_.load();
                                     while (was > 0 && !self->idle_since_.compare_exchange_weak(was, 0)) {
                                     }
                                     self->on_header(ec);
                                 });
    }

    std::string limit_text() const {
        return "request body exceeds the limit of " + std::to_string(server_.options.max_body_bytes) + " bytes";
    }

    void on_header(beast::error_code ec) {
        if (ec == bhttp::error::body_limit) {
            // Beast rejects a Content-Length over the limit while parsing the header.
            send_simple(Response::error(413, limit_text()));
            return;
        }
        if (ec) {
            if (ec == bhttp::error::header_limit) {
                send_simple(Response::error(431, "request header fields too large"));
            } else if (ec != bhttp::error::end_of_stream && ec != asio::error::operation_aborted &&
                       ec != beast::error::timeout && ec != asio::error::connection_reset &&
                       ec != asio::error::eof && ec != asio::error::bad_descriptor) {
                send_simple(Response::error(400, "bad request: " + ec.message()));
            }
            return;
        }
        // Refuse oversized bodies before reading them (Content-Length known up front).
        auto len = parser_->content_length();
        if (len && *len > server_.options.max_body_bytes) {
            send_simple(Response::error(413, "request body of " + std::to_string(*len) + " bytes exceeds the limit of " +
                                                 std::to_string(server_.options.max_body_bytes) + " bytes"));
            return;
        }
        stream_.expires_after(server_.options.body_timeout);
        bhttp::async_read(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec2, size_t) { self->on_read(ec2); });
    }

    void on_read(beast::error_code ec) {
        if (ec == bhttp::error::body_limit) {
            send_simple(Response::error(413, limit_text()));
            return;
        }
        if (ec) {
            if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
                ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor)
                send_simple(Response::error(400, "bad request: " + ec.message()));
            return;
        }
        handle(parser_->release());
    }

    void handle(BeastRequest breq) {
        const bool keep_alive = breq.keep_alive();
        Request req;
        req.method = std::string(breq.method_string());
        req.target = std::string(breq.target());
        const bool head = req.method == "HEAD";
        auto target = parse_target(req.target);
        if (!target) {
            send(Response::error(400, "bad request target: " + target.message()), false, head);
            return;
        }
        req.path = std::move(target->path);
        req.query = std::move(target->query);
        for (const auto& f : breq) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            req.headers[name] = std::string(f.value());
        }
        req.body = std::move(breq.body());
        beast::error_code ec;
        auto ep = stream_.socket().remote_endpoint(ec);
        if (!ec) req.remote = ep.address().to_string() + ":" + std::to_string(ep.port());

        if (!server_.host_ok(req)) {
            send(Response::error(403, "Host '" + req.headers["host"] +
                                          "' not allowed: this server listens on the loopback only, so requests "
                                          "must name it (localhost, 127.0.0.1); see docs/security.md"),
                 false, head);
            return;
        }

        const bool reading = req.method == "GET" || head || req.method == "OPTIONS";
        // Origin rules (CSRF, cross-origin reads): a page of the stack itself (the same host on
        // another port: the stripchart page calling the pivot's tags API) is a sibling and may
        // call any API with CORS; any other origin may change nothing, and may read only the
        // cors_read_paths.
        std::string origin;
        if (auto o = req.headers.find("origin"); o != req.headers.end()) origin = o->second;
        const bool sibling = !origin.empty() && server_.sibling_origin(origin, req);
        const bool same_origin = !origin.empty() && origin_host_port(origin) == req.headers["host"];
        if (req.method == "OPTIONS" && (sibling || server_.cors_readable(req.path))) {
            Response r;
            r.status = 204;
            r.content_type = "text/plain";
            r.headers = {{"Access-Control-Allow-Origin", sibling ? origin : std::string("*")},
                         {"Access-Control-Allow-Methods", sibling ? "GET, HEAD, POST, PUT, DELETE" : "GET, HEAD"},
                         {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                         {"Access-Control-Max-Age", "600"},
                         {"Vary", "Origin"}};
            send(std::move(r), keep_alive, false);
            return;
        }

        // One lookup with the one normalised path decides the access level and the handler.
        Router::Match match = server_.router.find(req.method, req.path);
        Access access = match.handler ? match.access : (reading ? Access::read : Access::write);
        // Public paths (health) are open to reads only; a change never is.
        if (reading && server_.is_public(req.path)) access = Access::open;
        // A WebSocket upgrade on a path with an upgrade handler is that handler's, whatever
        // static file the path would name ("/" is both the page index.html and the earlier
        // pages' WebSocket): it streams data, so it keeps the read rule.
        std::optional<Server::Impl::UpgradeEntry> upgrade_entry;
        if (beast::websocket::is_upgrade(breq)) {
            std::lock_guard lock(server_.upgrade_mutex);
            auto it = server_.upgrades.find(req.path);
            if (it != server_.upgrades.end() && it->second.handler) upgrade_entry = it->second;
        }
        // The pages themselves (static files) hold code, not data: open to reads, like health.
        std::filesystem::path static_hit;
        if (reading && req.method != "OPTIONS" && !match.handler && match.allowed.empty() && !upgrade_entry) {
            static_hit = server_.static_file(req.path);
            if (!static_hit.empty()) access = Access::open;
        }
        // A browser page of another origin must not change anything here (CSRF): browsers
        // always send Origin on cross-origin POST/PUT/DELETE.
        if (!reading && !origin.empty() && !same_origin && !sibling) {
            send(Response::error(403, "cross-origin request refused (Origin " + origin + ")"), false, head);
            return;
        }
        cors_origin_ = sibling && !same_origin ? origin : std::string();
        const bool needs_token = !server_.options.bearer_token.empty() &&
                                 (access == Access::write || (access == Access::read && server_.options.protect_reads));
        if (needs_token && !server_.token_ok(req, reading)) {
            Response r = Response::error(401, "missing or invalid bearer token (Authorization: Bearer <token>)");
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            send(std::move(r), keep_alive, head);
            return;
        }

        if (upgrade_entry) {
            const Server::Impl::UpgradeEntry& entry = *upgrade_entry;
            if (entry.handler->on_accept) {
                if (entry.handler->live->load() >= entry.handler->max_connections) {
                    send(Response::error(503, "too many WebSocket clients (" +
                                                  std::to_string(entry.handler->max_connections) + ")"),
                         false, false);
                    return;
                }
                upgrade(std::move(breq), entry);
                return;
            }
        }

        if (!static_hit.empty()) {
            Response r;
            r.file = static_hit;
            r.content_type = content_type_for(static_hit);
            r.headers.emplace_back("Cache-Control", "no-cache");
            send(std::move(r), keep_alive, head);
            return;
        }
        Response r = server_.router.call(match, req);
        if (!cors_origin_.empty()) {
            r.headers.emplace_back("Access-Control-Allow-Origin", cors_origin_);
            r.headers.emplace_back("Vary", "Origin");
            r.headers.emplace_back("Access-Control-Expose-Headers", "Content-Disposition, X-SpeedData-Rows");
        } else if (reading && server_.cors_readable(req.path)) {
            r.headers.emplace_back("Access-Control-Allow-Origin", "*");
        }
        if (r.deferred) {
            run_deferred(std::move(r), keep_alive, head);
            return;
        }
        send(std::move(r), keep_alive, head);
    }

    void upgrade(BeastRequest breq, const Server::Impl::UpgradeEntry& entry) {
        stream_.expires_never();
        Upgraded u{stream_.release_socket(), std::move(breq), {}, {}};
        const auto pending = buffer_.data();
        u.already_read.assign(static_cast<const char*>(pending.data()), pending.size());
        buffer_.consume(buffer_.size());
        ++server_.upgraded;
        ++*entry.handler->live;
        auto live = entry.handler->live;
        Server::Impl* srv = &server_;
        u.slot = std::shared_ptr<void>(nullptr, [srv, live](void*) {
            --srv->upgraded;
            --*live;
        });
        try {
            entry.handler->on_accept(std::move(u));
        } catch (...) {
            // The handler owns the socket now; nothing to answer on.
        }
    }

    void run_deferred(Response r, bool keep_alive, bool head) {
        if (!server_.pool || !server_.pool->enabled()) {
            Response done = safe_run(r.deferred);
            send(std::move(done), keep_alive, head);
            return;
        }
        auto work = std::move(r.deferred);
        auto extra = std::move(r.headers);
        auto self = shared_from_this();
        const bool taken = server_.pool->submit([self, work, extra, keep_alive, head] {
            Response done = safe_run(work);
            for (const auto& h : extra) done.headers.push_back(h);
            asio::post(self->stream_.get_executor(), [self, done = std::move(done), keep_alive, head]() mutable {
                self->send(std::move(done), keep_alive, head);
            });
        });
        if (!taken) {
            ++server_.deferred_rejected;
            auto [busy, waiting] = server_.pool->load();
            Response busy_r = Response::error(503, "busy: " + std::to_string(busy) + " requests running and " +
                                                       std::to_string(waiting) + " waiting; retry later");
            busy_r.headers.emplace_back("Retry-After", "5");
            send(std::move(busy_r), keep_alive, head);
        }
    }

    static Response safe_run(const std::function<Response()>& fn) {
        try {
            return fn();
        } catch (const std::exception& e) {
            return Response::error(500, std::string("internal error: ") + e.what());
        } catch (...) {
            return Response::error(500, "internal error: unknown exception");
        }
    }

    template <class Msg>
    void finish_headers(Msg& msg, const Response& r, bool keep_alive) {
        msg.set(bhttp::field::server, server_.options.server_name);
        msg.set(bhttp::field::content_type, r.content_type);
        msg.set("X-Content-Type-Options", "nosniff");
        for (const auto& [k, v] : r.headers) msg.set(k, v);
        msg.keep_alive(keep_alive);
    }

    // Sends a response whose connection closes afterwards (errors before a request was read).
    // The unread request body is drained afterwards so that a client still sending it gets
    // the answer instead of a broken pipe.
    void send_simple(Response r) {
        drain_ = true;
        send(std::move(r), false, false);
    }

    void send(Response r, bool keep_alive, bool head) {
        if (server_.stopping) keep_alive = false;
        if (!r.file.empty()) {
            send_file(std::move(r), keep_alive, head);
            return;
        }
        auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
        res->result(static_cast<unsigned>(r.status));
        res->version(11);
        finish_headers(*res, r, keep_alive);
        if (head) {
            res->content_length(r.body.size());
        } else {
            res->body() = std::move(r.body);
            res->prepare_payload();
        }
        stream_.expires_after(server_.options.send_timeout);
        if (head) {
            auto sr = std::make_shared<bhttp::response_serializer<bhttp::string_body>>(*res);
            bhttp::async_write_header(stream_, *sr,
                                      [self = shared_from_this(), res, sr, keep_alive](beast::error_code ec, size_t) {
                                          self->after_write(ec, keep_alive);
                                      });
            return;
        }
        bhttp::async_write(stream_, *res,
                           [self = shared_from_this(), res, keep_alive](beast::error_code ec, size_t) {
                               self->after_write(ec, keep_alive);
                           });
    }

    // A file response in flight. The serializer refers to the message, so both live here; the
    // destructor closes the file and removes a temporary one however the send ends.
    struct FileSend {
        bhttp::response<bhttp::file_body> res;
        std::optional<bhttp::response_serializer<bhttp::file_body>> sr;
        std::filesystem::path remove_path;
        ~FileSend() {
            if (!remove_path.empty()) {
                res.body().close();
                std::error_code rm;
                std::filesystem::remove(remove_path, rm);
            }
        }
    };

    void send_file(Response r, bool keep_alive, bool head) {
        auto fsend = std::make_shared<FileSend>();
        if (r.delete_file_after) fsend->remove_path = r.file;
        // Opened here with O_CLOEXEC (Beast's own open does not set it).
        const int fd = ::open(r.file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            const int err = errno;
            Response e = Response::error(err == ENOENT ? 404 : 500, err == ENOENT ? "not found" : "cannot open the file");
            send(std::move(e), keep_alive, head);
            return;
        }
        beast::file f;
        f.native_handle(fd);
        beast::error_code ec;
        fsend->res.body().reset(std::move(f), ec);
        if (ec) {
            send(Response::error(500, "cannot read the file: " + ec.message()), keep_alive, head);
            return;
        }
        fsend->res.result(static_cast<unsigned>(r.status));
        fsend->res.version(11);
        finish_headers(fsend->res, r, keep_alive);
        fsend->res.content_length(fsend->res.body().size());
        fsend->sr.emplace(fsend->res);
        if (head) {
            stream_.expires_after(server_.options.send_timeout);
            bhttp::async_write_header(stream_, *fsend->sr,
                                      [self = shared_from_this(), fsend, keep_alive](beast::error_code e, size_t) {
                                          self->after_write(e, keep_alive);
                                      });
            return;
        }
        write_file_some(std::move(fsend), keep_alive);
    }

    // A big export over a slow link may take long, but it must keep moving: the deadline is
    // per piece written, so a client that stops reading is cut after send_timeout.
    void write_file_some(std::shared_ptr<FileSend> fsend, bool keep_alive) {
        stream_.expires_after(server_.options.send_timeout);
        bhttp::async_write_some(stream_, *fsend->sr,
                                [self = shared_from_this(), fsend, keep_alive](beast::error_code ec, size_t) mutable {
                                    if (ec == beast::error::timeout) ++self->server_.send_timeouts;
                                    if (ec || fsend->sr->is_done()) {
                                        fsend.reset();  // file closed and removed before the next request
                                        self->after_write(ec, keep_alive);
                                        return;
                                    }
                                    self->write_file_some(std::move(fsend), keep_alive);
                                });
    }

    void after_write(beast::error_code ec, bool keep_alive) {
        if (ec || !keep_alive || server_.stopping) {
            beast::error_code ignored;
            stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
            if (!ec && drain_ && !server_.stopping) {
                // Bounded: at most 5 s and 256 MiB, then the connection closes regardless.
                stream_.expires_after(seconds(5));
                drain();
            }
            return;
        }
        read();
    }

    void drain() {
        stream_.async_read_some(asio::buffer(drain_buf_), [self = shared_from_this()](beast::error_code ec, size_t n) {
            self->drained_ += n;
            if (!ec && self->drained_ < (256u << 20)) self->drain();
        });
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    bool drain_ = false;
    size_t drained_ = 0;
    std::array<char, 16384> drain_buf_{};
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    Server::Impl& server_;
    std::list<std::weak_ptr<Session>>::iterator self_it_;
    std::atomic<int64_t> idle_since_{0};
    std::string cors_origin_;  // a sibling page's origin allowed to read this response
};

}  // namespace

bool Server::Impl::token_ok(const Request& req, bool allow_query_token) const {
    const std::string& expected = options.bearer_token;
    std::string got;
    auto it = req.headers.find("authorization");
    if (it != req.headers.end()) {
        const std::string& h = it->second;
        if (h.size() > 7 && (h.compare(0, 7, "Bearer ") == 0 || h.compare(0, 7, "bearer ") == 0)) got = h.substr(7);
    } else if (allow_query_token) {
        // Browsers cannot set headers on WebSockets or plain download links: reads may carry
        // the token as ?access_token= (docs/security.md says what that exposes).
        if (auto q = req.param("access_token")) got = *q;
    }
    // Constant-time comparison: the token is a secret.
    if (got.size() != expected.size()) return false;
    unsigned diff = 0;
    for (size_t i = 0; i < got.size(); ++i) diff |= static_cast<unsigned>(got[i] ^ expected[i]);
    return diff == 0;
}

bool Server::Impl::host_ok(const Request& req) const {
    if (!is_loopback_address(options.bind)) return true;
    auto it = req.headers.find("host");
    if (it == req.headers.end()) return true;  // HTTP/1.0 clients
    const std::string host = host_only(it->second);
    if (is_loopback_address(host) || host == options.bind) return true;
    for (const auto& a : options.allowed_hosts)
        if (host == a) return true;
    return false;
}

std::filesystem::path Server::Impl::static_file(const std::string& path) const {
    if (static_canonical.empty()) return {};
    // The path is normalised (no "..", no empty segments); dot files (.git, .env) are never
    // served, and the resolved file must stay under the root (symlinks included).
    std::filesystem::path p = static_canonical;
    for (const auto& seg : split_path(path)) {
        if (seg.front() == '.') return {};
        p /= seg;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) p /= "index.html";
    auto canon = std::filesystem::canonical(p, ec);
    if (ec || !std::filesystem::is_regular_file(canon, ec)) return {};
    return is_inside(static_canonical, canon) ? canon : std::filesystem::path();
}

bool Server::Impl::evict_oldest_idle() {
    // The sessions are held as shared_ptrs until the lock is released: dropping the last
    // reference runs ~Session, which takes the lock itself.
    std::vector<std::shared_ptr<Session>> alive;
    {
        std::lock_guard lock(conn_mu);
        alive.reserve(conns.size());
        for (const auto& w : conns)
            if (auto s = w.lock()) alive.push_back(std::move(s));
    }
    for (int attempt = 0; attempt < 8; ++attempt) {
        std::shared_ptr<Session> victim;
        int64_t oldest = 0;
        for (const auto& s : alive) {
            const int64_t since = s->idle_since();
            if (since > 0 && (oldest == 0 || since < oldest)) {
                oldest = since;
                victim = s;
            }
        }
        if (!victim) return false;
        if (!victim->claim(oldest)) continue;  // became busy, or another accept took it
        ++evicted_idle;
        ++evicting;
        victim->evict();
        return true;
    }
    return false;
}

void Server::Impl::do_accept() {
    acceptor.async_accept(asio::make_strand(io),
                          [this](beast::error_code ec, tcp::socket socket) { on_accepted(ec, std::move(socket)); });
}

void Server::Impl::on_accepted(beast::error_code ec, tcp::socket socket) {
    if (!acceptor.is_open() || ec == asio::error::operation_aborted) return;
    if (ec) {
        ++accept_errors;
        // Out of descriptors: accepting again at once would spin (the pending connection stays
        // in the backlog). Free one by closing the oldest idle connection, and pause briefly.
        const bool no_fds = ec == asio::error::no_descriptors ||
                            ec == beast::errc::too_many_files_open_in_system || ec == asio::error::no_buffer_space ||
                            ec == asio::error::no_memory;
        const int64_t now = steady_ns();
        if (now - last_accept_log_ns > 10'000'000'000LL) {
            last_accept_log_ns = now;
            spdlog::warn("accept on {}:{}: {} ({} connections open)", options.bind, bound_port, ec.message(),
                         connections_now());
        }
        if (no_fds) {
            evict_oldest_idle();
            accept_pause.expires_after(milliseconds(100));
            accept_pause.async_wait([this](beast::error_code e) {
                if (!e && acceptor.is_open()) do_accept();
            });
            return;
        }
        do_accept();
        return;
    }
    set_cloexec(socket.native_handle());
    ++connections_total;
    if (connections_now() >= max_connections && !evict_oldest_idle()) {
        // Every connection is busy: refuse this one rather than exceed the cap.
        ++refused_over_cap;
        beast::error_code ignored;
        socket.close(ignored);
    } else {
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        std::make_shared<Session>(std::move(socket), *this)->start();
    }
    do_accept();
}

// ---------------------------------------------------------------- server

Server::Server(ServerOptions options, Router router)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router))) {}

Server::~Server() {
    stop();
}

Status Server::start() {
    auto& o = impl_->options;
    const std::string where = "bind " + o.bind + ":" + std::to_string(o.port);
    beast::error_code ec;
    auto addr = asio::ip::make_address(o.bind, ec);
    if (ec) return Status::invalid(where + ": invalid address");
    tcp::endpoint ep(addr, o.port);
    impl_->acceptor.open(ep.protocol(), ec);
    if (ec) return Status::io_error(where + ": " + ec.message());
    set_cloexec(impl_->acceptor.native_handle());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    impl_->acceptor.bind(ep, ec);
    if (ec) {
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
        return Status::io_error(where + ": " + ec.message());
    }
    impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::io_error("listen " + o.bind + ":" + std::to_string(o.port) + ": " + ec.message());
    impl_->bound_port = impl_->acceptor.local_endpoint(ec).port();
    if (!o.static_root.empty()) {
        std::error_code fec;
        auto c = std::filesystem::canonical(o.static_root, fec);
        if (fec) return Status::invalid("static root " + o.static_root.string() + ": " + fec.message());
        impl_->static_canonical = c;
    }
    // The cap leaves fd_reserve descriptors for the process's own files, children and sockets.
    rlimit rl{};
    int from_limit = 1024;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        from_limit = static_cast<int>(std::min<rlim_t>(rl.rlim_cur, 1u << 20));
    int cap = std::max(8, from_limit - std::max(0, o.fd_reserve));
    if (o.max_connections > 0) cap = std::min(cap, o.max_connections);
    impl_->max_connections = cap;
    if (o.workers > 0) impl_->pool = std::make_unique<WorkPool>(o.workers, o.worker_queue);
    impl_->started = true;
    impl_->do_accept();
    return Status();
}

uint16_t Server::port() const { return impl_->bound_port; }

void Server::run() {
    if (!impl_->started) return;
    const int n = std::max(1, impl_->options.threads);
    std::vector<std::thread> extra;
    for (int i = 1; i < n; ++i) extra.emplace_back([this] { impl_->io.run(); });
    impl_->io.run();
    for (auto& t : extra) t.join();
}

void Server::stop() {
    if (!impl_) return;
    impl_->stopping = true;
    asio::post(impl_->io, [impl = impl_.get()] {
        beast::error_code ignored;
        impl->acceptor.close(ignored);
        impl->accept_pause.cancel();
    });
    // Open keep-alive connections would keep run() going; stop the loop outright. Sessions
    // still in flight are destroyed with the io_context (sockets closed).
    impl_->io.stop();
}

ServerStats Server::stats() const {
    ServerStats s;
    s.connections_now = static_cast<uint64_t>(impl_->connections_now());
    s.connections_total = impl_->connections_total;
    s.evicted_idle = impl_->evicted_idle;
    s.refused_over_cap = impl_->refused_over_cap;
    s.accept_errors = impl_->accept_errors;
    s.deferred_rejected = impl_->deferred_rejected;
    s.send_timeouts = impl_->send_timeouts;
    s.max_connections = impl_->max_connections;
    return s;
}

void Server::on_upgrade(const std::string& path, std::shared_ptr<UpgradeHandler> handler) {
    std::lock_guard lock(impl_->upgrade_mutex);
    Impl::UpgradeEntry e;
    e.handler = std::move(handler);
    impl_->upgrades[path] = std::move(e);
}

void Server::post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

boost::asio::io_context& io_context_of(Server& server) { return server.impl_->io; }

}  // namespace speeddata::http
