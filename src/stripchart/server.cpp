// The stripchart's WebSocket sessions on the shared HTTP server (src/http), which serves the
// pages and the JSON API and hands upgraded sockets over, as Boost.Beast's chat-multi example
// does. One io thread: sessions, the frame timer and the status timer all run on it, so the
// session set and queues need no locks.
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
#include "http/api_docs.hpp"
#include "http/server_beast.hpp"
#include "http/target.hpp"

namespace speeddata::stripchart {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class WsSession;
class LegacySession;

// Accepts a WebSocket on a socket the HTTP server handed over. Frames that arrived in the same
// read as the upgrade request go to the WebSocket, not to the floor: the handshake is read
// back from the bytes handed over, kept in `handshake` (the session's) until the accept ends.
template <class Stream, class Upgrade, class Handler>
void accept_upgrade(Stream& ws, const Upgrade& u, std::string& handshake, Handler&& on_accept) {
    handshake = speeddata::http::websocket_handshake_bytes(u);
    if (handshake.empty()) {
        ws.async_accept(u.request, std::forward<Handler>(on_accept));
    } else {
        ws.async_accept(asio::buffer(handshake), std::forward<Handler>(on_accept));
    }
}

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
    Hub& hub;
    ServerOptions options;
    // The shared HTTP server (src/http): static files, the JSON API, limits, the token; it
    // hands upgraded sockets to WsSession. One io thread: sessions and timers need no locks.
    std::unique_ptr<speeddata::http::Server> http;
    std::optional<asio::steady_timer> frame_timer;
    std::optional<asio::steady_timer> status_timer;
    std::set<std::shared_ptr<WsSession>> sessions;
    std::set<std::shared_ptr<LegacySession>> legacy_sessions;  // earlier pages on "/"
    std::atomic<uint64_t> legacy_sent{0}, legacy_dropped{0}, legacy_total{0};
    uint64_t signals_version_sent = 0;
    uint64_t tags_version_sent = 0;
    std::shared_ptr<const std::string> signals_text;  // current "signals" message
    uint16_t bound_port = 0;
    std::atomic<uint64_t> frames_built{0}, messages_sent{0}, frames_dropped{0}, clients_total{0};
    std::atomic<size_t> clients_now{0}, queued_now{0};

    Impl(Hub& h, ServerOptions o) : hub(h), options(std::move(o)) {}
    speeddata::http::Router routes();
    void on_frame_tick();
    void legacy_count_changed();
    void on_status_tick();
    void refresh_signals();
    nlohmann::json stats() const {
        nlohmann::json h;
        if (http) {
            auto st = http->stats();
            h = {{"connections", st.connections_now}, {"max_connections", st.max_connections},
                 {"evicted_idle", st.evicted_idle}, {"refused_over_cap", st.refused_over_cap}};
        }
        return {{"clients", clients_now.load()},       {"clients_total", clients_total.load()}, {"http", h},
                {"frames_built", frames_built.load()}, {"messages_sent", messages_sent.load()},
                {"frames_dropped", frames_dropped.load()}, {"queued_messages", queued_now.load()},
                {"frame_rate", options.frame_rate},     {"client_queue_limit", options.client_queue_limit},
                {"legacy_clients", legacy_sessions.size()}, {"legacy_clients_total", legacy_total.load()},
                {"legacy_records_sent", legacy_sent.load()}, {"legacy_records_dropped", legacy_dropped.load()}};
    }
};

// One browser. Outgoing messages wait in a bounded queue; when it is full the oldest data
// frame not being written is dropped and the next frame's header says how many were.
class WsSession : public std::enable_shared_from_this<WsSession> {
public:
    WsSession(speeddata::http::Upgraded& u, std::shared_ptr<Server::Impl> srv)
        : ws_(std::move(u.socket)), srv_(std::move(srv)), slot_(std::move(u.slot)) {}

    void start(speeddata::http::Upgraded& u) {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(bhttp::field::server, "speeddata-stripchart");
        }));
        ws_.read_message_max(64 * 1024);
        auto on_accept = [self = shared_from_this()](beast::error_code ec) {
            if (ec) return;
            self->srv_->sessions.insert(self);
            self->srv_->clients_now = self->srv_->sessions.size();
            ++self->srv_->clients_total;
            self->send_hello();
            self->do_read();
        };
        accept_upgrade(ws_, u, handshake_, std::move(on_accept));
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
            spdlog::warn("closing a WebSocket client that does not read its replies");
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
        if (srv_->options.tags)
            if (auto t = srv_->options.tags->message()) push_text(t, false);
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

    // Maps wanted_ ("ch.field", "ch.*", "*") onto signal ids. Signals newly subscribed get
    // the hub's recent samples first (a backfill frame, sequence 0): the samples of frames
    // already built, which this client was not sent, so there is no gap and no duplicate.
    void apply_subscription() {
        const std::vector<SignalInfo> sig = srv_->hub.signals();
        std::vector<bool> before = std::move(subscribed_);
        uint32_t max_id = 0;
        for (const auto& s : sig) max_id = std::max(max_id, s.id + 1);
        subscribed_.assign(max_id, false);
        std::vector<uint32_t> added;
        for (const auto& s : sig) {
            const uint32_t id = s.id;
            for (const std::string& w : wanted_) {
                const bool whole_channel = w.size() == s.channel.size() + 2 && w.ends_with(".*") &&
                                           std::string_view(w).substr(0, s.channel.size()) == s.channel;
                if (w == "*" || w == s.name || whole_channel) {
                    subscribed_[id] = true;
                    if (id >= before.size() || !before[id]) added.push_back(id);
                    break;
                }
            }
        }
        if (!added.empty())
            if (auto f = srv_->hub.backfill_frame(added)) push_frame(f);
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
    std::shared_ptr<void> slot_;  // counts against the server's connection caps
    std::string handshake_;
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

// One earlier (v0.6) page on "/": every record as one flat JSON text message, as the earlier
// server.js sent them (docs/stripchart.md, "Earlier pages"). The texts are the hub's, encoded
// once per record for every such client; this client's queue holds whole batches (one frame
// period's records) and, like /ws, drops the oldest batch not being written when it is full.
class LegacySession : public std::enable_shared_from_this<LegacySession> {
public:
    LegacySession(speeddata::http::Upgraded& u, std::shared_ptr<Server::Impl> srv, std::vector<std::string> channels)
        : ws_(std::move(u.socket)), srv_(std::move(srv)), slot_(std::move(u.slot)), channels_(std::move(channels)) {}

    void start(speeddata::http::Upgraded& u) {
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(bhttp::field::server, "speeddata-stripchart");
        }));
        ws_.read_message_max(64 * 1024);
        ws_.text(true);
        auto on_accept = [self = shared_from_this()](beast::error_code ec) {
            if (ec) return;
            self->srv_->legacy_sessions.insert(self);
            ++self->srv_->legacy_total;
            self->srv_->legacy_count_changed();
            self->do_read();
        };
        accept_upgrade(ws_, u, handshake_, std::move(on_accept));
    }

    void push(const std::shared_ptr<const LegacyBatch>& b) {
        if (closed_) return;
        if (q_.size() >= srv_->options.client_queue_limit) {
            // Drop the oldest batch that is not being written right now.
            const size_t at = writing_ ? 1 : 0;
            if (q_.size() <= at) {
                srv_->legacy_dropped += b->size();  // only the batch being written is queued
                return;
            }
            srv_->legacy_dropped += q_[at]->size();
            q_.erase(q_.begin() + static_cast<std::ptrdiff_t>(at));
            if (at == 0) next_ = 0;
        }
        q_.push_back(b);
        write_next();
    }

    void close() {
        closed_ = true;
        beast::error_code ec;
        beast::get_lowest_layer(ws_).socket().close(ec);
    }

private:
    // The earlier pages send nothing; reading keeps ping/close handling going.
    void do_read() {
        ws_.async_read(in_, [self = shared_from_this()](beast::error_code ec, size_t) {
            if (ec) return self->finish();
            self->in_.consume(self->in_.size());
            self->do_read();
        });
    }

    bool wanted(const LegacyBatch& b, size_t i) const {
        if (channels_.empty()) return true;
        return std::find(channels_.begin(), channels_.end(), b.channel_of(i)) != channels_.end();
    }

    void write_next() {
        if (writing_ || closed_) return;
        while (!q_.empty()) {
            const LegacyBatch& b = *q_.front();
            while (next_ < b.size() && !wanted(b, next_)) ++next_;
            if (next_ < b.size()) break;
            q_.pop_front();
            next_ = 0;
        }
        if (q_.empty()) return;
        writing_ = true;
        // Held until the write completes, whatever happens to the queue meanwhile.
        inflight_ = q_.front();
        const std::string_view text = inflight_->record(next_);
        ws_.async_write(asio::buffer(text.data(), text.size()), [self = shared_from_this()](beast::error_code ec, size_t) {
            self->writing_ = false;
            self->inflight_.reset();
            if (ec) return self->finish();
            ++self->srv_->legacy_sent;
            ++self->next_;
            self->write_next();
        });
    }

    void finish() {
        if (finished_) return;
        finished_ = true;
        closed_ = true;
        q_.clear();
        srv_->legacy_sessions.erase(shared_from_this());
        srv_->legacy_count_changed();
    }

    websocket::stream<beast::tcp_stream> ws_;
    std::shared_ptr<Server::Impl> srv_;
    std::shared_ptr<void> slot_;
    std::vector<std::string> channels_;  // ?channel=a,b: only these channels' records
    std::string handshake_;
    beast::flat_buffer in_;
    std::deque<std::shared_ptr<const LegacyBatch>> q_;
    std::shared_ptr<const LegacyBatch> inflight_;  // the batch of the record being written
    size_t next_ = 0;  // next record of q_.front()
    bool writing_ = false;
    bool closed_ = false;
    bool finished_ = false;
};

// The hub encodes records for earlier pages only while one is connected.
void Server::Impl::legacy_count_changed() { hub.set_legacy(!legacy_sessions.empty()); }

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
    if (auto b = hub.take_legacy()) {
        std::vector<std::shared_ptr<LegacySession>> list(legacy_sessions.begin(), legacy_sessions.end());
        for (const auto& s : list) s->push(b);
    }
    size_t q = 0;
    for (const auto& s : sessions) q += s->queued();
    queued_now = q;
    auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / options.frame_rate));
    frame_timer->expires_at(frame_timer->expiry() + period);
    if (frame_timer->expiry() < std::chrono::steady_clock::now()) frame_timer->expires_after(period);
    frame_timer->async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->on_frame_tick();
    });
}

void Server::Impl::on_status_tick() {
    if (options.tags && options.tags->version() != tags_version_sent) {
        tags_version_sent = options.tags->version();
        if (auto t = options.tags->message()) {
            std::vector<std::shared_ptr<WsSession>> list(sessions.begin(), sessions.end());
            for (const auto& c : list) c->push_text(t, false);
        }
    }
    if (!sessions.empty()) {
        auto s = hub.status_json();
        s["server"] = stats();
        s["server_time_ms"] = static_cast<double>(now_ns()) / 1e6;
        auto text = std::make_shared<const std::string>(s.dump());
        std::vector<std::shared_ptr<WsSession>> list(sessions.begin(), sessions.end());
        for (const auto& c : list) c->push_text(text, true);
    }
    status_timer->expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(1.0 / options.status_rate)));
    status_timer->async_wait([self = shared_from_this()](beast::error_code ec) {
        if (!ec) self->on_status_tick();
    });
}

speeddata::http::Router Server::Impl::routes() {
    using speeddata::http::Request;
    using speeddata::http::Response;
    speeddata::http::Router r;
    // Routes hold a weak reference: the router lives in the HTTP server, which Impl owns.
    std::weak_ptr<Impl> weak = weak_from_this();
    r.add("GET", "/api/v1/health", [](const Request&) { return Response::json(200, {{"status", "ok"}, {"service", "stripchart"}}); },
          speeddata::http::Access::open);
    r.add("GET", "/api/v1/signals", [weak](const Request&) {
        auto self = weak.lock();
        return self ? Response::json(200, self->hub.signals_json()) : Response::error(503, "stopping");
    });
    r.add("GET", "/api/v1/status", [weak](const Request&) {
        auto self = weak.lock();
        if (!self) return Response::error(503, "stopping");
        auto s = self->hub.status_json();
        s["server"] = self->stats();
        return Response::json(200, s);
    });
    r.add("GET", "/api/v1/config", [weak](const Request&) {
        auto self = weak.lock();
        if (!self) return Response::error(503, "stopping");
        nlohmann::json c = self->options.page_config;
        c["tags"] = self->options.tags != nullptr;
        c["dashboards"] = !self->options.dashboards_dir.empty();
        return Response::json(200, c);
    });
    r.add("GET", "/api/v1/dashboards", [weak](const Request&) {
        auto self = weak.lock();
        if (!self) return Response::error(503, "stopping");
        if (self->options.dashboards_dir.empty()) return Response::json(200, {{"dashboards", nlohmann::json::array()}});
        return Response::json(200, list_dashboards(self->options.dashboards_dir));
    });
    r.add("GET", "/api/v1/dashboards/{name}", [weak](const Request& req) {
        auto self = weak.lock();
        if (!self) return Response::error(503, "stopping");
        std::string name = req.params.at("name");
        if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) name.resize(name.size() - 5);
        auto d = read_dashboard(self->options.dashboards_dir, name);
        if (!d) return Response::from_status(d.status());
        return Response::json(200, *d);
    });
    // A plain GET of the WebSocket path (an upgrade never reaches the router): say what it is
    // rather than 404, so the index and the OpenAPI document can list it.
    r.add("GET", "/ws", [](const Request&) {
        Response resp = Response::error(426, "/ws is a WebSocket: connect with a WebSocket client (docs/stripchart.md)");
        resp.headers.emplace_back("Upgrade", "websocket");
        return resp;
    });
    for (const auto& route : options.extra_routes) route(r);
    // Last: the index lists the routes added before it. GET / stays the dashboard page when
    // there is one.
    speeddata::http::add_api_docs(r, {"stripchart", speeddata::http::serves_index_page(options.web_root),
                                      !options.token.empty(), options.protect_reads});
    return r;
}

Server::Server(Hub& hub, ServerOptions options) : impl_(std::make_shared<Impl>(hub, std::move(options))) {}
Server::~Server() = default;

Status Server::start() {
    auto& o = impl_->options;
    speeddata::http::ServerOptions so;
    so.bind = o.bind;
    so.port = o.port;
    so.bearer_token = o.token;
    so.protect_reads = o.protect_reads;
    so.public_paths = {"/api/v1/health"};
    // Own pages (also opened from disk) may read the live API and history cross-origin; the
    // data is the same the WebSocket serves to any page.
    so.cors_read_paths = {"/api/v1/signals", "/api/v1/status", "/api/v1/series", "/api/v1/config",
                          "/api/v1/dashboards"};
    so.static_root = o.web_root;
    so.threads = 1;
    // History queries (Response::later) run on these, never on the one io thread that feeds
    // every client's live frames.
    so.workers = 2;
    so.worker_queue = 32;
    so.max_body_bytes = 64 * 1024;
    so.server_name = "speeddata-stripchart";
    impl_->http = std::make_unique<speeddata::http::Server>(so, impl_->routes());
    auto ws = std::make_shared<speeddata::http::Server::UpgradeHandler>();
    ws->max_connections = o.max_clients;
    std::weak_ptr<Impl> weak = impl_;
    ws->on_accept = [weak](speeddata::http::Upgraded u) {
        auto self = weak.lock();
        if (!self) return;
        if (!u.already_read.empty() && speeddata::http::websocket_handshake_bytes(u).size() > 1536) return;
        auto session = std::make_shared<WsSession>(u, self);
        session->start(u);
    };
    impl_->http->on_upgrade("/ws", ws);
    // The earlier pages' WebSocket: the earlier server.js served it on the root path
    // (frontend.js connects to ws://localhost:8081). GET / without an upgrade is still the
    // dashboard page.
    auto legacy = std::make_shared<speeddata::http::Server::UpgradeHandler>();
    legacy->max_connections = o.max_clients;
    legacy->live = ws->live;  // one http.max_clients for both WebSockets
    legacy->on_accept = [weak](speeddata::http::Upgraded u) {
        auto self = weak.lock();
        if (!self) return;
        if (!u.already_read.empty() && speeddata::http::websocket_handshake_bytes(u).size() > 1536) return;
        std::vector<std::string> channels;
        if (auto t = speeddata::http::parse_target(std::string(u.request.target())); t.ok()) {
            if (auto it = t->query.find("channel"); it != t->query.end()) {
                std::string_view list = it->second;
                while (!list.empty()) {
                    const size_t comma = list.find(',');
                    std::string_view item = list.substr(0, comma);
                    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
                    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
                    if (!item.empty()) channels.emplace_back(item);
                    if (comma == std::string_view::npos) break;
                    list.remove_prefix(comma + 1);
                }
            }
        }
        auto session = std::make_shared<LegacySession>(u, self, std::move(channels));
        session->start(u);
    };
    impl_->http->on_upgrade("/", legacy);
    if (auto st = impl_->http->start(); !st.ok()) return st;
    auto& io = speeddata::http::io_context_of(*impl_->http);
    impl_->frame_timer.emplace(io);
    impl_->status_timer.emplace(io);
    impl_->frame_timer->expires_after(std::chrono::milliseconds(1));
    impl_->frame_timer->async_wait([self = impl_](beast::error_code e) {
        if (!e) self->on_frame_tick();
    });
    impl_->status_timer->expires_after(std::chrono::milliseconds(1));
    impl_->status_timer->async_wait([self = impl_](beast::error_code e) {
        if (!e) self->on_status_tick();
    });
    return {};
}

uint16_t Server::port() const { return impl_->http ? impl_->http->port() : 0; }

void Server::run() {
    if (!impl_->http) return;
    impl_->http->run();
    // Break the session <-> server reference cycle once the loop is over.
    for (const auto& s : impl_->sessions) s->close();
    impl_->sessions.clear();
    for (const auto& s : impl_->legacy_sessions) s->close();
    impl_->legacy_sessions.clear();
    impl_->frame_timer.reset();
    impl_->status_timer.reset();
}

void Server::stop() {
    if (!impl_->http) return;
    impl_->http->post([self = impl_] {
        if (self->frame_timer) self->frame_timer->cancel();
        if (self->status_timer) self->status_timer->cancel();
        for (const auto& s : self->sessions) s->close();
        for (const auto& s : self->legacy_sessions) s->close();
    });
    impl_->http->stop();
}

nlohmann::json Server::stats() const { return impl_->stats(); }

}  // namespace speeddata::stripchart
