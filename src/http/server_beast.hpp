// The Beast side of the shared HTTP server: include this only where a WebSocket (or another
// protocol) takes over a connection, e.g. the stripchart's upgrade handler. Including it
// pulls in Boost.Beast (~12 s of compile time per translation unit).
#pragma once

#include <utility>  // first: Boost 1.74 asio under g++ 12 needs it (docs/ARCHITECTURE.md, pitfalls)

#include <atomic>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "http/server.hpp"

namespace speeddata::http {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

// An upgraded connection, handed over with everything the HTTP side had read:
//  * socket: its executor is a strand of the server's io_context, so async operations on it
//    run on the server's threads, one at a time;
//  * request: the parsed upgrade request (the bearer token, Host and Origin rules were
//    already applied to it);
//  * already_read: bytes the client sent after the request that arrived in the same read
//    (WebSocket frames sent without waiting for the handshake); they belong to the new
//    protocol (see websocket_handshake_bytes);
//  * slot: keep it for as long as the connection lives: it counts against the server's and
//    the handler's connection caps.
struct Upgraded {
    boost::asio::ip::tcp::socket socket;
    BeastRequest request;
    std::string already_read;
    std::shared_ptr<void> slot;
};

struct Server::UpgradeHandler {
    // Called on the connection's strand. It must not block: it runs on an io thread.
    std::function<void(Upgraded)> on_accept;
    // Most connections at once, counted in live; more upgrade requests get 503. Handlers that
    // are given the same live counter share the cap (the stripchart's /ws and its earlier
    // pages' WebSocket on / are one http.max_clients).
    int max_connections = 256;
    std::shared_ptr<std::atomic<int>> live = std::make_shared<std::atomic<int>>(0);
};

// The bytes to give websocket::stream::async_accept(buffers) when frames arrived with the
// request (the request serialized again, then those bytes); empty when nothing did, then
// async_accept(request) is the call. Beast reads the handshake from its own 1536-byte buffer,
// so more than that cannot be handed over (the caller refuses the connection).
inline std::string websocket_handshake_bytes(const Upgraded& u) {
    if (u.already_read.empty()) return {};
    std::ostringstream os;
    os << u.request.base();
    return os.str() + u.already_read;
}

// The io_context of a running server, for timers that must run on its threads.
boost::asio::io_context& io_context_of(Server& server);

}  // namespace speeddata::http
