// The Beast side of the shared HTTP server: include this only where a WebSocket (or another
// protocol) takes over a connection, e.g. the stripchart's upgrade handler. Including it
// pulls in Boost.Beast (~12 s of compile time per translation unit).
#pragma once

#include <utility>  // first: Boost 1.74 asio under g++ 12 needs it (DESIGN.md pitfalls)

#include <functional>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>

#include "http/server.hpp"

namespace speeddata::http {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Called on one of the server's io threads with the accepted socket (its executor is the
// server's io_context, so async operations on it run on the server's threads) and the parsed
// upgrade request; the callback owns the connection from then on, e.g.
//   boost::beast::websocket::stream<boost::beast::tcp_stream> ws(std::move(socket));
//   ws.async_accept(request, ...);
// The server has already checked the bearer token if the path is under /api/ and not public.
// It must not block for long: it runs on an io thread.
struct Server::UpgradeHandler {
    std::function<void(boost::asio::ip::tcp::socket socket, BeastRequest request)> on_accept;
};

}  // namespace speeddata::http
