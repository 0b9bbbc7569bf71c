// Beast HTTP + WebSocket server of the stripchart. One io thread: sessions, the frame timer
// and the status timer all run on it, so the session set and queues need no locks.
#include "stripchart/server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <set>
#include <sstream>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/net/mcast_header.hpp"

namespace speeddata::stripchart {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class WsSession;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    Hub& hub;
    ServerOptions options;
    asio::io_context ioc{1};
    tcp::acceptor acceptor{ioc};
    asio::steady_timer frame_timer{ioc};
    asio::steady_timer status_timer{ioc};
    std::set<std::shared_ptr<WsSession>> sessions;
    uint64_t signals_version_sent = 0;
    std::shared_ptr<const std::string> signals_text;  // current "signals" message
    uint16_t bound_port = 0;
    std::atomic<uint64_t> frames_built{0}, messages_sent{0}, frames_dropped{0}, clients_total{0};
    std::atomic<size_t> clients_now{0}, queued_now{0};

    Impl(Hub& h, ServerOptions o) : hub(h), options(std::move(o)) {}
    void accept();
    void on_frame_tick();
    void on_status_tick();
    void refresh_signals();
    nlohmann::json stats() const {
        return {{"clients", clients_now.load()},       {"clients_total", clients_total.load()},
                {"frames_built", frames_built.load()}, {"messages_sent", messages_sent.load()},
                {"frames_dropped", frames_dropped.load()}, {"queued_messages", queued_now.load()},
                {"frame_rate", options.frame_rate},     {"client_queue_limit", options.client_queue_limit}};
    }
};

// One browser. Outgoing messages wait in a bounded queue; when it is full the oldest data
// frame not being written is dropped and the next frame's header says how many were.
class WsSession : public std::enable_shared_from_this<WsSession> {
public:
    WsSession(tcp::socket socket, std::shared_ptr<Server::Impl> srv) : ws_(std::move(socket)), srv_(std::move(srv)) {}

    void start(http::request<http::string_body> req) {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(http::field::server, "speeddata-stripchart");
        }));
        ws_.read_message_max(64 * 1024);
        ws_.async_accept(req, [self = shared_from_this()](beast::error_code ec) {
            if (ec) return;
            self->srv_->sessions.insert(self);
            self->srv_->clients_now = self->srv_->sessions.size();
            ++self->srv_->clients_total;
            self->send_hello();
            self->do_read();
        });
    }

    // Queues the frame's segments this client subscribed to (nothing when none).
    void push_frame(const std::shared_ptr<const Frame>& f) {
        if (closed_) return;
        Out o;
        o.frame = f;
        for (uint32_t i = 0; i < f->segments.size(); ++i) {
            uint32_t id = f->segments[i].signal_id;
            if (id < subscribed_.size() && subscribed_[id]) o.segments.push_back(i);
        }
        if (o.segments.empty()) return;
        size_t limit = srv_->options.client_queue_limit;
        if (q_.size() >= limit) {
            // Drop the oldest data frame that is not being written right now.
            auto it = std::find_if(q_.begin() + (writing_ ? 1 : 0), q_.end(), [](const Out& x) { return x.frame != nullptr; });
            if (it == q_.end()) {
                ++dropped_;
                ++srv_->frames_dropped;
                return;
            }
            q_.erase(it);
            ++dropped_;
            ++srv_->frames_dropped;
        }
        q_.push_back(std::move(o));
        write_next();
    }

    // Queues a control message; a status message replaces one still waiting (coalescing).
    void push_text(std::shared_ptr<const std::string> text, bool is_status) {
        if (closed_) return;
        if (is_status) {
            for (size_t i = writing_ ? 1 : 0; i < q_.size(); ++i) {
                if (q_[i].is_status) {
                    q_[i].text = std::move(text);
                    return;
                }
            }
        }
        // Control replies are not droppable; a client that keeps asking (pings) without
        // reading the answers is disconnected instead of growing the queue.
        if (q_.size() >= 2 * srv_->options.client_queue_limit + 8) {
            spdlog::warn("stripchart: closing a WebSocket client that does not read its replies");
            close();
            return;
        }
        Out o;
        o.text = std::move(text);
        o.is_status = is_status;
        q_.push_back(std::move(o));
        write_next();
    }

    // The signal list changed: names asked for earlier may now have ids.
    void resubscribe() { apply_subscription(); }
    size_t queued() const { return q_.size(); }

    void close() {
        closed_ = true;
        beast::error_code ec;
        beast::get_lowest_layer(ws_).socket().close(ec);
    }

private:
    struct Out {
        std::shared_ptr<const Frame> frame;       // data frame, or
        std::vector<uint32_t> segments;           // indexes of the subscribed segments
        std::shared_ptr<const std::string> text;  // control message (JSON)
        bool is_status = false;
    };

    void send_hello() {
        nlohmann::json hello = {{"type", "hello"},
                                {"protocol", 1},
                                {"frame_rate", srv_->options.frame_rate},
                                {"client_queue_limit", srv_->options.client_queue_limit},
                                {"server_time_ms", static_cast<double>(now_ns()) / 1e6}};
        push_text(std::make_shared<const std::string>(hello.dump()), false);
        if (srv_->signals_text) push_text(srv_->signals_text, false);
    }

    void do_read() {
        ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) return self->finish();
            std::string msg = beast::buffers_to_string(self->in_.data());
            self->in_.consume(self->in_.size());
            self->on_message(msg);
            self->do_read();
        });
    }

    void reply_error(const std::string& message) {
        nlohmann::json e = {{"type", "error"}, {"error", message}};
        push_text(std::make_shared<const std::string>(e.dump()), false);
    }

    void on_message(const std::string& text) {
        auto j = nlohmann::json::parse(text, nullptr, false);
        if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string())
            return reply_error("expected a JSON object with a \"type\"");
        std::string type = j["type"];
        if (type == "subscribe") {
            if (!j.contains("signals") || !j["signals"].is_array())
                return reply_error("subscribe: \"signals\" must be an array of signal names");
            wanted_.clear();
            for (const auto& s : j["signals"]) {
                if (!s.is_string()) return reply_error("subscribe: \"signals\" must be an array of signal names");
                wanted_.push_back(s.get<std::string>());
            }
            apply_subscription();
            nlohmann::json ack = {{"type", "subscribed"}, {"signals", wanted_}};
            push_text(std::make_shared<const std::string>(ack.dump()), false);
        } else if (type == "ping") {
            nlohmann::json pong = {{"type", "pong"}, {"server_time_ms", static_cast<double>(now_ns()) / 1e6}};
            if (j.contains("t")) pong["t"] = j["t"];
            push_text(std::make_shared<const std::string>(pong.dump()), false);
        } else {
            reply_error("unknown message type '" + type + "'");
        }
    }

    // Maps wanted_ ("ch.field", "ch.*", "*") onto signal ids.
    void apply_subscription() {
        auto sig = srv_->hub.signals_json();
        subscribed_.assign(sig["signals"].size(), false);
        for (const auto& s : sig["signals"]) {
            std::string name = s["name"], channel = s["channel"];
            for (const std::string& w : wanted_) {
                if (w == "*" || w == name || w == channel + ".*") {
                    subscribed_[s["id"].get<uint32_t>()] = true;
                    break;
                }
            }
        }
    }

    void write_next() {
        if (writing_ || q_.empty() || closed_) return;
        writing_ = true;
        Out& o = q_.front();
        bufs_.clear();
        if (o.frame) {
            // The header is per client (dropped count); the segments are shared.
            header_.resize(frame_header_bytes);
            auto* h = reinterpret_cast<uint8_t*>(header_.data());
            std::memcpy(h, "SDF1", 4);
            net::detail::put_le<uint32_t>(h + 4, o.frame->sequence);
            net::detail::put_le<uint32_t>(h + 8, static_cast<uint32_t>(o.segments.size()));
            net::detail::put_le<uint32_t>(h + 12, dropped_);
            dropped_ = 0;
            bufs_.push_back(asio::buffer(header_));
            for (uint32_t i : o.segments) bufs_.push_back(asio::buffer(*o.frame->segments[i].bytes));
            ws_.binary(true);
        } else {
            bufs_.push_back(asio::buffer(*o.text));
            ws_.text(true);
        }
        ws_.async_write(bufs_, [self = shared_from_this()](beast::error_code ec, size_t) {
            self->writing_ = false;
            if (ec) return self->finish();
            ++self->srv_->messages_sent;
            self->q_.pop_front();
            self->write_next();
        });
    }

    void finish() {
        closed_ = true;
        q_.clear();
        srv_->sessions.erase(shared_from_this());
        srv_->clients_now = srv_->sessions.size();
    }

    websocket::stream<beast::tcp_stream> ws_;
    std::shared_ptr<Server::Impl> srv_;
    beast::flat_buffer in_;
    std::deque<Out> q_;
    bool writing_ = false;
    bool closed_ = false;
    uint32_t dropped_ = 0;
    std::string header_;
    std::vector<asio::const_buffer> bufs_;
    std::vector<std::string> wanted_;
    std::vector<bool> subscribed_;
};

namespace {

std::string content_type(const std::filesystem::path& p) {
    std::string e = p.extension().string();
    if (e == ".html") return "text/html; charset=utf-8";
    if (e == ".js") return "text/javascript; charset=utf-8";
    if (e == ".css") return "text/css; charset=utf-8";
    if (e == ".json") return "application/json";
    if (e == ".svg") return "image/svg+xml";
    if (e == ".png") return "image/png";
    if (e == ".ico") return "image/x-icon";
    if (e == ".md" || e == ".txt") return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

std::string json_error(int status, const std::string& message) {
    return nlohmann::json{{"error", message}, {"status", status}}.dump();
}

// One HTTP connection: plain requests until it asks for a WebSocket upgrade.
class HttpSession : public std::enable_shared_from_this<HttpSession> {
public:
    HttpSession(tcp::socket s, std::shared_ptr<Server::Impl> srv) : stream_(std::move(s)), srv_(std::move(srv)) {}
    void start() { do_read(); }

private:
    void do_read() {
        parser_.emplace();
        parser_->body_limit(64 * 1024);
        stream_.expires_after(std::chrono::seconds(60));
        http::async_read(stream_, buf_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec == http::error::body_limit) return self->send(self->simple(413, json_error(413, "request body over 64 KiB"), "application/json", 11, false));
            if (ec) return;
            self->on_request(self->parser_->release());
        });
    }

    http::response<http::string_body> simple(int status, std::string body, const std::string& type, unsigned version, bool keep) {
        http::response<http::string_body> res{static_cast<http::status>(status), version};
        res.set(http::field::server, "speeddata-stripchart");
        res.set(http::field::content_type, type);
        res.set(http::field::cache_control, "no-cache");
        res.set(http::field::access_control_allow_origin, "*");
        res.keep_alive(keep);
        res.body() = std::move(body);
        res.prepare_payload();
        return res;
    }

    void on_request(http::request<http::string_body> req) {
        if (websocket::is_upgrade(req)) {
            stream_.expires_never();
            std::make_shared<WsSession>(stream_.release_socket(), srv_)->start(std::move(req));
            return;
        }
        unsigned v = req.version();
        bool keep = req.keep_alive();
        std::string target(req.target());
        std::string path = target.substr(0, target.find('?'));
        bool head = req.method() == http::verb::head;
        if (req.method() != http::verb::get && !head) {
            auto r = simple(405, json_error(405, "method not allowed; use GET"), "application/json", v, keep);
            r.set(http::field::allow, "GET, HEAD");
            return send(std::move(r));
        }
        if (path.rfind("/api/", 0) == 0) {
            if (path == "/api/v1/signals") return send(simple(200, srv_->hub.signals_json().dump(), "application/json", v, keep));
            if (path == "/api/v1/status") {
                auto s = srv_->hub.status_json();
                s["server"] = srv_->stats();
                return send(simple(200, s.dump(), "application/json", v, keep));
            }
            if (path == "/api/v1/health") return send(simple(200, R"({"status":"ok"})", "application/json", v, keep));
            return send(simple(404, json_error(404, "no such API path: " + path), "application/json", v, keep));
        }
        // Static files: no traversal out of web_root.
        std::string rel = path == "/" ? "index.html" : path.substr(1);
        if (rel.find("..") != std::string::npos || rel.find('\0') != std::string::npos || srv_->options.web_root.empty())
            return send(simple(404, json_error(404, "not found: " + path), "application/json", v, keep));
        std::filesystem::path file = srv_->options.web_root / rel;
        std::ifstream in(file, std::ios::binary);
        if (!in || std::filesystem::is_directory(file))
            return send(simple(404, json_error(404, "not found: " + path), "application/json", v, keep));
        std::ostringstream ss;
        ss << in.rdbuf();
        auto r = simple(200, ss.str(), content_type(file), v, keep);
        if (head) {
            r.body().clear();
            r.content_length(ss.str().size());
        }
        send(std::move(r));
    }

    void send(http::response<http::string_body> res) {
        auto sp = std::make_shared<http::response<http::string_body>>(std::move(res));
        bool keep = sp->keep_alive();
        http::async_write(stream_, *sp, [self = shared_from_this(), sp, keep](beast::error_code ec, size_t) {
            if (ec || !keep) {
                beast::error_code e2;
                self->stream_.socket().shutdown(tcp::socket::shutdown_send, e2);
                return;
            }
            self->do_read();
        });
    }

    beast::tcp_stream stream_;
    std::shared_ptr<Server::Impl> srv_;
    beast::flat_buffer buf_;
    std::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void Server::Impl::accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket s) {
        if (!self->acceptor.is_open()) return;
        if (!ec) {
            s.set_option(tcp::no_delay(true), ec);
            std::make_shared<HttpSession>(std::move(s), self)->start();
        }
        self->accept();
    });
}

void Server::Impl::refresh_signals() {
    uint64_t v = hub.signals_version();
    if (v == signals_version_sent && signals_text) return;
    signals_version_sent = v;
    signals_text = std::make_shared<const std::string>(hub.signals_json().dump());
    for (const auto& s : sessions) {
        s->resubscribe();
        s->push_text(signals_text, false);
    }
}

void Server::Impl::on_frame_tick() {
    refresh_signals();
    if (auto f = hub.take_frame()) {
        ++frames_built;
        // Copy: a failed write may remove a session from the set while we iterate.
        std::vector<std::shared_ptr<WsSession>> list(sessions.begin(), sessions.end());
        for (const auto& s : list) s->push_frame(f);
    }
    size_t q = 0;
    for (const auto& s : sessions) q += s->queued();
    queued_now = q;
    auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / options.frame_rate));
    frame_timer.expires_at(frame_timer.expiry() + period);
    if (frame_timer.expiry() < std::chrono::steady_clock::now()) frame_timer.expires_after(period);
    frame_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->on_frame_tick();
    });
}

void Server::Impl::on_status_tick() {
    if (!sessions.empty()) {
        auto s = hub.status_json();
        s["server"] = stats();
        s["server_time_ms"] = static_cast<double>(now_ns()) / 1e6;
        auto text = std::make_shared<const std::string>(s.dump());
        std::vector<std::shared_ptr<WsSession>> list(sessions.begin(), sessions.end());
        for (const auto& c : list) c->push_text(text, true);
    }
    status_timer.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / options.status_rate)));
    status_timer.async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->on_status_tick();
    });
}

Server::Server(Hub& hub, ServerOptions options) : impl_(std::make_shared<Impl>(hub, std::move(options))) {}
Server::~Server() = default;

Status Server::start() {
    beast::error_code ec;
    auto addr = asio::ip::make_address(impl_->options.bind, ec);
    if (ec) return Status::error(fmt::format("http.bind '{}': {}", impl_->options.bind, ec.message()));
    tcp::endpoint ep(addr, impl_->options.port);
    auto where = fmt::format("bind {}:{}", impl_->options.bind, impl_->options.port);
    impl_->acceptor.open(ep.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl_->acceptor.bind(ep, ec);
    if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::error(where + ": " + ec.message());
    impl_->bound_port = impl_->acceptor.local_endpoint().port();
    impl_->accept();
    impl_->frame_timer.expires_after(std::chrono::milliseconds(1));
    impl_->frame_timer.async_wait([self = impl_](beast::error_code e) {
        if (!e) self->on_frame_tick();
    });
    impl_->status_timer.expires_after(std::chrono::milliseconds(1));
    impl_->status_timer.async_wait([self = impl_](beast::error_code e) {
        if (!e) self->on_status_tick();
    });
    return {};
}

uint16_t Server::port() const { return impl_->bound_port; }

void Server::run() {
    impl_->ioc.run();
    // Break the session <-> server reference cycle once the loop is over.
    for (const auto& s : impl_->sessions) s->close();
    impl_->sessions.clear();
}

void Server::stop() {
    asio::post(impl_->ioc, [self = impl_] {
        beast::error_code ec;
        self->acceptor.close(ec);
        self->frame_timer.cancel();
        self->status_timer.cancel();
        for (const auto& s : self->sessions) s->close();
        self->ioc.stop();
    });
}

nlohmann::json Server::stats() const { return impl_->stats(); }

}  // namespace speeddata::stripchart
