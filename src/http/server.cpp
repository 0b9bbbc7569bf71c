// Implementation of the shared HTTP server (server.hpp) on Boost.Beast. This is one of the
// only two translation units that include Beast (the other is the stripchart's WebSocket
// code), because each costs ~12 s to compile.
#include <utility>  // first: Boost 1.74 asio under g++ 12 needs it (DESIGN.md pitfalls)

#include "http/server.hpp"
#include "http/server_beast.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <system_error>
#include <thread>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

namespace speeddata::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// ---------------------------------------------------------------- helpers

const std::string* Request::param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? nullptr : &it->second;
}

Response Response::json(int status, const nlohmann::json& body) {
    Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = body.dump();
    return r;
}

Response Response::error(int status, const std::string& message) {
    return json(status, nlohmann::json{{"error", message}, {"status", status}});
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string url_decode(const std::string& s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%' && i + 2 < s.size()) {
            int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 2;
                continue;
            }
            out.push_back(c);  // a lone '%' stays as written
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// Splits "/a/b/c" into {"a","b","c"}; empty segments (double or trailing slashes) dropped.
static std::vector<std::string> split_path(const std::string& path) {
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

// ---------------------------------------------------------------- router

void Router::add(const std::string& method, const std::string& pattern, Handler handler) {
    routes_.push_back(Route{method, split_path(pattern), std::move(handler)});
}

// True when the route's segments match the path's; fills params for "{name}" segments.
static bool match_route(const std::vector<std::string>& pattern, const std::vector<std::string>& segs,
                        std::map<std::string, std::string>& params) {
    if (pattern.size() != segs.size()) return false;
    std::map<std::string, std::string> got;
    for (size_t i = 0; i < pattern.size(); ++i) {
        const std::string& p = pattern[i];
        if (p.size() >= 2 && p.front() == '{' && p.back() == '}') {
            got[p.substr(1, p.size() - 2)] = url_decode(segs[i], false);
        } else if (p != segs[i]) {
            return false;
        }
    }
    params = std::move(got);
    return true;
}

Response Router::dispatch(Request& req) const {
    const auto segs = split_path(req.path);
    std::vector<std::string> allowed;
    // HEAD is answered by the GET handler (the body is dropped when sending).
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    for (const auto& route : routes_) {
        std::map<std::string, std::string> params;
        if (!match_route(route.segments, segs, params)) continue;
        if (route.method != method) {
            allowed.push_back(route.method);
            continue;
        }
        req.params = std::move(params);
        try {
            return route.handler(req);
        } catch (const std::exception& e) {
            return Response::error(500, std::string("internal error: ") + e.what());
        } catch (...) {
            return Response::error(500, "internal error: unknown exception");
        }
    }
    if (!allowed.empty()) {
        std::string allow;
        for (const auto& m : allowed) {
            if (allow.find(m) != std::string::npos) continue;
            if (!allow.empty()) allow += ", ";
            allow += m;
        }
        Response r = Response::error(405, "method " + req.method + " not allowed on " + req.path +
                                              " (allowed: " + allow + ")");
        r.headers.emplace_back("Allow", allow);
        return r;
    }
    return Response::error(404, "not found: " + req.path);
}

// ---------------------------------------------------------------- server internals

static const char* content_type_for(const std::filesystem::path& p) {
    static const std::map<std::string, const char*> types = {
        {".html", "text/html; charset=utf-8"}, {".htm", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"}, {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"}, {".json", "application/json"},
        {".avsc", "application/json"}, {".svg", "image/svg+xml"}, {".png", "image/png"},
        {".jpg", "image/jpeg"}, {".jpeg", "image/jpeg"}, {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"}, {".md", "text/plain; charset=utf-8"},
        {".map", "application/json"}, {".woff2", "font/woff2"}, {".wasm", "application/wasm"},
        {".h5", "application/x-hdf5"}, {".hdf5", "application/x-hdf5"},
    };
    std::string ext = p.extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = types.find(ext);
    return it == types.end() ? "application/octet-stream" : it->second;
}

struct Server::Impl {
    // Everything sessions touch is declared before io so that it outlives the sessions the
    // io_context destroys with its pending handlers.
    ServerOptions options;
    Router router;
    uint16_t bound_port = 0;
    bool started = false;
    std::atomic<bool> stopping{false};
    std::mutex upgrade_mutex;
    std::map<std::string, std::shared_ptr<UpgradeHandler>> upgrades;
    std::filesystem::path static_canonical;
    // Open connections; new ones beyond the limit are closed at once (bounded resources).
    std::atomic<int> connections{0};
    static constexpr int max_connections = 1024;
    asio::io_context io;
    tcp::acceptor acceptor{io};

    Impl(ServerOptions o, Router r) : options(std::move(o)), router(std::move(r)) {}

    void do_accept();
    bool token_ok(const Request& req) const;
    // Resolves a static file for a GET/HEAD path, or an empty path when there is none.
    std::filesystem::path static_file(const std::string& path) const;
};

namespace {

// One HTTP/1.1 connection: read a request, answer, repeat while keep-alive.
class Session : public std::enable_shared_from_this<Session> {
public:
    Session(tcp::socket socket, Server::Impl& server) : stream_(std::move(socket)), server_(server) {
        ++server_.connections;
    }
    ~Session() { --server_.connections; }

    void start() { read(); }

private:
    void read() {
        parser_.emplace();
        parser_->body_limit(server_.options.max_body_bytes);
        parser_->header_limit(64 * 1024);
        stream_.expires_after(std::chrono::seconds(60));
        bhttp::async_read_header(stream_, buffer_, *parser_,
                                 [self = shared_from_this()](beast::error_code ec, size_t) {
                                     self->on_header(ec);
                                 });
    }

    void on_header(beast::error_code ec) {
        if (ec == bhttp::error::body_limit) {
            // Beast rejects a Content-Length over the limit while parsing the header.
            send_simple(Response::error(413, "request body exceeds the limit of " +
                                                 std::to_string(server_.options.max_body_bytes) + " bytes"),
                        false);
            return;
        }
        if (ec) {
            if (ec == bhttp::error::header_limit) {
                send_simple(Response::error(431, "request header fields too large"), false);
            } else if (ec != bhttp::error::end_of_stream && ec != asio::error::operation_aborted &&
                       ec != beast::error::timeout && ec != asio::error::connection_reset &&
                       ec != asio::error::eof) {
                send_simple(Response::error(400, "bad request: " + ec.message()), false);
            }
            return;
        }
        // Refuse oversized bodies before reading them (Content-Length known up front).
        auto len = parser_->content_length();
        if (len && *len > server_.options.max_body_bytes) {
            send_simple(Response::error(413, "request body of " + std::to_string(*len) +
                                                 " bytes exceeds the limit of " +
                                                 std::to_string(server_.options.max_body_bytes) +
                                                 " bytes"),
                        false);
            return;
        }
        bhttp::async_read(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec2, size_t) { self->on_read(ec2); });
    }

    void on_read(beast::error_code ec) {
        if (ec == bhttp::error::body_limit) {
            send_simple(Response::error(413, "request body exceeds the limit of " +
                                                 std::to_string(server_.options.max_body_bytes) + " bytes"),
                        false);
            return;
        }
        if (ec) {
            if (ec != bhttp::error::end_of_stream && ec != beast::error::timeout &&
                ec != asio::error::operation_aborted)
                send_simple(Response::error(400, "bad request: " + ec.message()), false);
            return;
        }
        handle(parser_->release());
    }

    void handle(BeastRequest breq) {
        Request req;
        req.method = std::string(breq.method_string());
        req.target = std::string(breq.target());
        std::string raw_path = req.target;
        std::string query;
        if (auto q = raw_path.find('?'); q != std::string::npos) {
            query = raw_path.substr(q + 1);
            raw_path.resize(q);
        }
        req.path = url_decode(raw_path, false);
        size_t i = 0;
        while (i <= query.size() && !query.empty()) {
            size_t j = query.find('&', i);
            if (j == std::string::npos) j = query.size();
            std::string kv = query.substr(i, j - i);
            if (!kv.empty()) {
                auto eq = kv.find('=');
                if (eq == std::string::npos)
                    req.query[url_decode(kv)] = "";
                else
                    req.query[url_decode(kv.substr(0, eq))] = url_decode(kv.substr(eq + 1));
            }
            i = j + 1;
        }
        for (const auto& f : breq) {
            std::string name(f.name_string());
            for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            req.headers[name] = std::string(f.value());
        }
        req.body = std::move(breq.body());
        beast::error_code ec;
        auto ep = stream_.socket().remote_endpoint(ec);
        if (!ec) req.remote = ep.address().to_string() + ":" + std::to_string(ep.port());

        const bool is_api = req.path.rfind("/api/", 0) == 0 || req.path == "/api";
        if (is_api && !server_.token_ok(req)) {
            Response r = Response::error(401, "missing or invalid bearer token (Authorization: Bearer <token>)");
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            send(std::move(r), breq.keep_alive(), req.method == "HEAD");
            return;
        }

        if (beast::websocket::is_upgrade(breq)) {
            std::shared_ptr<Server::UpgradeHandler> h;
            {
                std::lock_guard lock(server_.upgrade_mutex);
                auto it = server_.upgrades.find(req.path);
                if (it != server_.upgrades.end()) h = it->second;
            }
            if (h && h->on_accept) {
                stream_.expires_never();
                try {
                    h->on_accept(stream_.release_socket(), std::move(breq));
                } catch (...) {
                    // The handler owns the socket now; nothing to answer on.
                }
                return;
            }
        }

        const bool keep_alive = breq.keep_alive();
        const bool head = req.method == "HEAD";
        if (!is_api && (req.method == "GET" || head)) {
            auto file = server_.static_file(req.path);
            if (!file.empty()) {
                Response r;
                r.file = file;
                r.content_type = content_type_for(file);
                send(std::move(r), keep_alive, head);
                return;
            }
        }
        Response r = server_.router.dispatch(req);
        send(std::move(r), keep_alive, head);
    }

    template <class Msg>
    void finish_headers(Msg& msg, const Response& r, bool keep_alive) {
        msg.set(bhttp::field::server, server_.options.server_name);
        msg.set(bhttp::field::content_type, r.content_type);
        for (const auto& [k, v] : r.headers) msg.set(k, v);
        msg.keep_alive(keep_alive);
    }

    // Sends a response whose connection closes afterwards (errors before a request was read).
    // The unread request body is drained afterwards so that a client still sending it gets
    // the answer instead of a broken pipe.
    void send_simple(Response r, bool keep_alive) {
        drain_ = true;
        send(std::move(r), keep_alive, false);
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
        stream_.expires_after(std::chrono::seconds(60));
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

    void send_file(Response r, bool keep_alive, bool head) {
        beast::error_code ec;
        bhttp::file_body::value_type body;
        body.open(r.file.c_str(), beast::file_mode::scan, ec);
        if (ec) {
            if (r.delete_file_after) {
                std::error_code rm;
                std::filesystem::remove(r.file, rm);
            }
            send(Response::error(ec == beast::errc::no_such_file_or_directory ? 404 : 500,
                                 "open " + r.file.string() + ": " + ec.message()),
                 keep_alive, head);
            return;
        }
        auto res = std::make_shared<bhttp::response<bhttp::file_body>>();
        res->result(static_cast<unsigned>(r.status));
        res->version(11);
        finish_headers(*res, r, keep_alive);
        const auto size = body.size();
        res->body() = std::move(body);
        res->content_length(size);
        auto remove_path = r.delete_file_after ? r.file : std::filesystem::path();
        // A big export over a slow link may take long: no deadline for file bodies.
        stream_.expires_never();
        auto done = [self = shared_from_this(), res, keep_alive, remove_path](beast::error_code ec2, size_t) {
            if (!remove_path.empty()) {
                res->body().close();
                std::error_code rm;
                std::filesystem::remove(remove_path, rm);
            }
            self->after_write(ec2, keep_alive);
        };
        if (head) {
            auto sr = std::make_shared<bhttp::response_serializer<bhttp::file_body>>(*res);
            bhttp::async_write_header(stream_, *sr,
                                      [sr, done = std::move(done)](beast::error_code e, size_t n) { done(e, n); });
            return;
        }
        bhttp::async_write(stream_, *res, std::move(done));
    }

    void after_write(beast::error_code ec, bool keep_alive) {
        if (ec || !keep_alive || server_.stopping) {
            beast::error_code ignored;
            stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
            if (!ec && drain_ && !server_.stopping) {
                // Bounded: at most 5 s and 256 MiB, then the connection closes regardless.
                stream_.expires_after(std::chrono::seconds(5));
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
};

}  // namespace

bool Server::Impl::token_ok(const Request& req) const {
    if (options.bearer_token.empty()) return true;
    for (const auto& p : options.public_paths)
        if (req.path == p) return true;
    auto it = req.headers.find("authorization");
    if (it == req.headers.end()) return false;
    const std::string expected = "Bearer " + options.bearer_token;
    const std::string& got = it->second;
    // Constant-time comparison: the token is a secret.
    if (got.size() != expected.size()) return false;
    unsigned diff = 0;
    for (size_t i = 0; i < got.size(); ++i) diff |= static_cast<unsigned>(got[i] ^ expected[i]);
    return diff == 0;
}

std::filesystem::path Server::Impl::static_file(const std::string& path) const {
    if (static_canonical.empty()) return {};
    // Reject any ".." segment outright, then verify the resolved file stays under the root
    // (symlinks included).
    for (const auto& seg : split_path(path))
        if (seg == ".." || seg.find('\\') != std::string::npos || seg.find('\0') != std::string::npos) return {};
    std::filesystem::path rel;
    for (const auto& seg : split_path(path)) rel /= seg;
    std::filesystem::path p = static_canonical / rel;
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) p /= "index.html";
    if (!std::filesystem::is_regular_file(p, ec)) return {};
    auto canon = std::filesystem::canonical(p, ec);
    if (ec) return {};
    auto root = static_canonical.string();
    auto c = canon.string();
    if (c.size() <= root.size() || c.compare(0, root.size(), root) != 0 || c[root.size()] != '/') return {};
    return canon;
}

void Server::Impl::do_accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
        } else if (connections.load() >= max_connections) {
            beast::error_code ignored;
            socket.close(ignored);
        } else {
            std::make_shared<Session>(std::move(socket), *this)->start();
        }
        if (acceptor.is_open()) do_accept();
    });
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
    if (ec) return Status::error(where + ": invalid address");
    tcp::endpoint ep(addr, o.port);
    impl_->acceptor.open(ep.protocol(), ec);
    if (ec) return Status::error(where + ": " + ec.message());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    impl_->acceptor.bind(ep, ec);
    if (ec) {
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
        return Status::error(where + ": " + ec.message());
    }
    impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::error("listen " + o.bind + ":" + std::to_string(o.port) + ": " + ec.message());
    impl_->bound_port = impl_->acceptor.local_endpoint(ec).port();
    if (!o.static_root.empty()) {
        std::error_code fec;
        auto c = std::filesystem::canonical(o.static_root, fec);
        if (fec) return Status::error("static root " + o.static_root.string() + ": " + fec.message());
        impl_->static_canonical = c;
    }
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
    });
    // Open keep-alive connections would keep run() going; stop the loop outright. Sessions
    // still in flight are destroyed with the io_context (sockets closed).
    impl_->io.stop();
}

void Server::on_upgrade(const std::string& path, std::shared_ptr<UpgradeHandler> handler) {
    std::lock_guard lock(impl_->upgrade_mutex);
    impl_->upgrades[path] = std::move(handler);
}

void Server::post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

}  // namespace speeddata::http
