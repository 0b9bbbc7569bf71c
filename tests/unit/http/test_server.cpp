// The shared HTTP server over real loopback sockets: routing, errors, limits, token, static
// files, streaming, exceptions, port 0 and stop(). The client is plain POSIX sockets so the
// test does not depend on the code under test for its own requests.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/server.hpp"
#include "http/target.hpp"

namespace fs = std::filesystem;
using namespace speeddata::http;

namespace {

struct Reply {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-cased names
    std::string body;
    nlohmann::json json() const { return nlohmann::json::parse(body); }
};

// Sends raw bytes, reads until the server closes (Connection: close) and parses the reply.
Reply raw_request(uint16_t port, const std::string& bytes) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        throw std::runtime_error("connect failed");
    }
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t off = 0;
    while (off < bytes.size()) {
        ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;  // the server may answer 413 and close before reading everything
        off += static_cast<size_t>(n);
    }
    std::string in;
    char buf[65536];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    Reply r;
    auto end = in.find("\r\n\r\n");
    if (end == std::string::npos) return r;
    std::string head = in.substr(0, end);
    r.body = in.substr(end + 4);
    r.status = std::stoi(head.substr(9, 3));
    size_t pos = head.find("\r\n");
    while (pos != std::string::npos) {
        size_t next = head.find("\r\n", pos + 2);
        std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string k = line.substr(0, colon);
            for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            std::string v = line.substr(colon + 1);
            while (!v.empty() && v.front() == ' ') v.erase(0, 1);
            r.headers[k] = v;
        }
        pos = next;
    }
    return r;
}

Reply request(uint16_t port, const std::string& method, const std::string& target,
              const std::string& body = "", const std::string& extra_headers = "") {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + extra_headers;
    if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    return raw_request(port, req);
}

// A running server on a free port, stopped and joined at the end of the test.
struct Running {
    Server server;
    std::thread thread;
    Running(ServerOptions o, Router r) : server(std::move(o), std::move(r)) {
        auto st = server.start();
        if (!st.ok()) throw std::runtime_error(st.message());
        thread = std::thread([this] { server.run(); });
    }
    ~Running() {
        server.stop();
        thread.join();
    }
    uint16_t port() const { return server.port(); }
};

Router demo_router() {
    Router r;
    r.add("GET", "/api/v1/health", [](const Request&) { return Response::json(200, {{"ok", true}}); });
    r.add("GET", "/api/v1/channels/{name}", [](const Request& q) {
        return Response::json(200, {{"name", q.params.at("name")}});
    });
    r.add("DELETE", "/api/v1/channels/{name}", [](const Request& q) {
        return Response::json(200, {{"deleted", q.params.at("name")}});
    });
    r.add("GET", "/api/v1/channels/{name}/schema/{part}", [](const Request& q) {
        return Response::json(200, {{"name", q.params.at("name")}, {"part", q.params.at("part")}});
    });
    r.add("POST", "/api/v1/echo", [](const Request& q) {
        nlohmann::json j;
        j["body"] = q.body;
        j["query"] = q.query;
        j["content_type"] = q.headers.count("content-type") ? q.headers.at("content-type") : "";
        j["remote_set"] = !q.remote.empty();
        return Response::json(201, j);
    });
    r.add("GET", "/api/v1/boom", [](const Request&) -> Response { throw std::runtime_error("kaboom"); });
    r.add("GET", "/metrics", [](const Request&) {
        Response res;
        res.content_type = "text/plain; version=0.0.4";
        res.body = "x 1\n";
        return res;
    });
    return r;
}

}  // namespace

TEST(HttpServer, PortZeroGivesARealPortAndRoutesWithParams) {
    Running s(ServerOptions{}, demo_router());
    ASSERT_NE(s.port(), 0);
    auto r = request(s.port(), "GET", "/api/v1/health");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.json()["ok"], true);
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_EQ(r.headers["server"], "speeddata");

    r = request(s.port(), "GET", "/api/v1/channels/example");
    EXPECT_EQ(r.json()["name"], "example");
    r = request(s.port(), "GET", "/api/v1/channels/a%20b/schema/x");
    EXPECT_EQ(r.json()["name"], "a b");
    EXPECT_EQ(r.json()["part"], "x");
    r = request(s.port(), "GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "x 1\n");
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4");
}

TEST(HttpServer, QueryBodyAndHeadersReachTheHandler) {
    Running s(ServerOptions{}, demo_router());
    auto r = request(s.port(), "POST", "/api/v1/echo?a=1&b=x+y&c=%2F&a=2", R"({"k":1})",
                     "Content-Type: application/json\r\n");
    ASSERT_EQ(r.status, 201);
    auto j = r.json();
    EXPECT_EQ(j["body"], R"({"k":1})");
    EXPECT_EQ(j["query"]["a"], "2");
    EXPECT_EQ(j["query"]["b"], "x y");
    EXPECT_EQ(j["query"]["c"], "/");
    EXPECT_EQ(j["content_type"], "application/json");
    EXPECT_EQ(j["remote_set"], true);
}

TEST(HttpServer, NotFoundAndMethodNotAllowedAreJson) {
    Running s(ServerOptions{}, demo_router());
    auto r = request(s.port(), "GET", "/api/v1/nothing");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.json()["status"], 404);
    EXPECT_NE(r.json()["error"].get<std::string>().find("/api/v1/nothing"), std::string::npos);

    r = request(s.port(), "PUT", "/api/v1/channels/x", "{}");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.json()["status"], 405);
    EXPECT_EQ(r.headers["allow"], "GET, DELETE");
}

TEST(HttpServer, OversizedBodyGets413) {
    ServerOptions o;
    o.max_body_bytes = 1000;
    Running s(o, demo_router());
    auto r = request(s.port(), "POST", "/api/v1/echo", std::string(1001, 'x'));
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(r.json()["status"], 413);
    EXPECT_NE(r.json()["error"].get<std::string>().find("1000"), std::string::npos);
    // At the limit is fine.
    r = request(s.port(), "POST", "/api/v1/echo", std::string(1000, 'x'));
    EXPECT_EQ(r.status, 201);
    // Chunked bodies are limited too (no Content-Length up front).
    std::string chunked = "POST /api/v1/echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 3; ++i) chunked += "190\r\n" + std::string(400, 'y') + "\r\n";
    chunked += "0\r\n\r\n";
    r = raw_request(s.port(), chunked);
    EXPECT_EQ(r.status, 413);
}

TEST(HttpServer, BearerTokenGuardsApiButNotPublicPathsOrStatic) {
    auto root = fs::temp_directory_path() / ("sd_http_tok_" + std::to_string(::getpid()));
    fs::create_directories(root);
    std::ofstream(root / "index.html") << "<html>hi</html>";
    ServerOptions o;
    o.bearer_token = "s3cret";
    o.public_paths = {"/api/v1/health"};
    o.static_root = root;
    Running s(o, demo_router());
    auto r = request(s.port(), "GET", "/api/v1/channels/x");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.json()["status"], 401);
    EXPECT_EQ(r.headers["www-authenticate"], "Bearer");
    r = request(s.port(), "GET", "/api/v1/channels/x", "", "Authorization: Bearer wrong!\r\n");
    EXPECT_EQ(r.status, 401);
    r = request(s.port(), "GET", "/api/v1/channels/x", "", "Authorization: Bearer s3cret\r\n");
    EXPECT_EQ(r.status, 200);
    r = request(s.port(), "GET", "/api/v1/health");
    EXPECT_EQ(r.status, 200);
    r = request(s.port(), "GET", "/");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "<html>hi</html>");
    fs::remove_all(root);
}

TEST(HttpServer, StaticFilesWithTypesAndNoTraversal) {
    auto base = fs::temp_directory_path() / ("sd_http_static_" + std::to_string(::getpid()));
    fs::create_directories(base / "www" / "sub");
    std::ofstream(base / "secret.txt") << "top secret";
    std::ofstream(base / "www" / "index.html") << "<h1>console</h1>";
    std::ofstream(base / "www" / "app.js") << "export const x = 1;";
    std::ofstream(base / "www" / "sub" / "style.css") << "body{}";
    fs::create_symlink(base / "secret.txt", base / "www" / "link.txt");
    ServerOptions o;
    o.static_root = base / "www";
    Running s(o, demo_router());

    auto r = request(s.port(), "GET", "/");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "<h1>console</h1>");
    EXPECT_EQ(r.headers["content-type"], "text/html; charset=utf-8");
    r = request(s.port(), "GET", "/app.js");
    EXPECT_EQ(r.headers["content-type"], "text/javascript; charset=utf-8");
    EXPECT_EQ(r.body, "export const x = 1;");
    r = request(s.port(), "GET", "/sub/style.css");
    EXPECT_EQ(r.headers["content-type"], "text/css; charset=utf-8");
    r = request(s.port(), "HEAD", "/app.js");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["content-length"], "19");
    EXPECT_EQ(r.body, "");

    for (const char* bad : {"/../secret.txt", "/%2e%2e/secret.txt", "/sub/../../secret.txt",
                            "/sub/%2E%2E/%2E%2E/secret.txt", "/link.txt", "/..%2fsecret.txt"}) {
        r = request(s.port(), "GET", bad);
        EXPECT_TRUE(r.status == 404 || r.status == 400) << bad << " -> " << r.status;
        EXPECT_EQ(r.body.find("top secret"), std::string::npos) << bad;
    }
    r = request(s.port(), "GET", "/missing.html");
    EXPECT_EQ(r.status, 404);
    fs::remove_all(base);
}

TEST(HttpServer, StreamsAFileAndDeletesItAfterwards) {
    auto path = fs::temp_directory_path() / ("sd_http_big_" + std::to_string(::getpid()) + ".h5");
    std::string content;
    content.reserve(5u << 20);
    for (size_t i = 0; content.size() < (5u << 20); ++i) content += std::to_string(i) + ",";
    std::ofstream(path, std::ios::binary) << content;
    Router r;
    r.add("GET", "/api/v1/export", [path](const Request&) {
        Response res;
        res.content_type = "application/x-hdf5";
        res.file = path;
        res.delete_file_after = true;
        res.headers.emplace_back("Content-Disposition", "attachment; filename=\"set.h5\"");
        return res;
    });
    ServerOptions o;
    o.threads = 2;
    Running s(o, std::move(r));
    auto rep = request(s.port(), "GET", "/api/v1/export");
    EXPECT_EQ(rep.status, 200);
    EXPECT_EQ(rep.headers["content-type"], "application/x-hdf5");
    EXPECT_EQ(rep.headers["content-disposition"], "attachment; filename=\"set.h5\"");
    EXPECT_EQ(rep.body.size(), content.size());
    EXPECT_TRUE(rep.body == content);
    for (int i = 0; i < 50 && fs::exists(path); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_FALSE(fs::exists(path));
}

TEST(HttpServer, HandlerExceptionBecomes500Json) {
    Running s(ServerOptions{}, demo_router());
    auto r = request(s.port(), "GET", "/api/v1/boom");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.json()["status"], 500);
    EXPECT_NE(r.json()["error"].get<std::string>().find("kaboom"), std::string::npos);
    // The server is still alive.
    EXPECT_EQ(request(s.port(), "GET", "/api/v1/health").status, 200);
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
    Running s(ServerOptions{}, demo_router());
    std::string two = "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
                      "GET /api/v1/channels/b HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(s.port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::send(fd, two.data(), two.size(), 0), static_cast<ssize_t>(two.size()));
    std::string in;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) in.append(buf, static_cast<size_t>(n));
    ::close(fd);
    EXPECT_NE(in.find("{\"ok\":true}"), std::string::npos);
    EXPECT_NE(in.find("{\"name\":\"b\"}"), std::string::npos);
}

TEST(HttpServer, ConcurrentSlowHandlersRunInParallelWithThreads) {
    Router r;
    r.add("GET", "/api/v1/slow", [](const Request&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        return Response::json(200, {{"ok", true}});
    });
    ServerOptions o;
    o.threads = 4;
    Running s(o, std::move(r));
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i)
        clients.emplace_back([&] {
            if (request(s.port(), "GET", "/api/v1/slow").status == 200) ++ok;
        });
    for (auto& c : clients) c.join();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(ok.load(), 4);
    EXPECT_LT(ms, 1500);  // serial would take 2000 ms
}

TEST(HttpServer, BindErrorNamesAddressAndStopEndsRun) {
    Running a(ServerOptions{}, demo_router());
    ServerOptions o;
    o.port = a.port();
    Server b(o, demo_router());
    auto st = b.start();
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.message(), "bind 127.0.0.1:" + std::to_string(a.port()) + ": Address already in use");

    // stop() from another thread makes run() return even with an idle keep-alive client.
    Server c(ServerOptions{}, demo_router());
    ASSERT_TRUE(c.start().ok());
    std::thread t([&] { c.run(); });
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(c.port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto t0 = std::chrono::steady_clock::now();
    c.stop();
    t.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    ::close(fd);
}

TEST(HttpServer, PostRunsOnIoThread) {
    Running s(ServerOptions{}, demo_router());
    std::atomic<bool> ran{false};
    s.server.post([&] { ran = true; });
    for (int i = 0; i < 100 && !ran; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_TRUE(ran.load());
}

TEST(HttpServer, PercentDecode) {
    EXPECT_EQ(*percent_decode("a%20b+c", true), "a b c");
    EXPECT_EQ(*percent_decode("a+b", false), "a+b");
    EXPECT_EQ(*percent_decode("%2f%2F", false), "//");
    EXPECT_FALSE(percent_decode("%zz", false).ok());
    EXPECT_FALSE(percent_decode("%4", false).ok());
    EXPECT_FALSE(percent_decode("abc%", true).ok());
}

// ---------------------------------------------------------------- hardening (docs/security.md)

namespace {

// A connected socket to the server (close-on-exec, like every fd of the project).
int connect_to(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// True when the peer closed the connection within the timeout.
bool closed_by_peer(int fd, int timeout_ms) {
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0) return true;
        if (n < 0) return errno == ECONNRESET;
    }
}

Router mutating_router(std::atomic<int>& deletes) {
    Router r = demo_router();
    r.add("DELETE", "/api/v1/registry/{name}", [&deletes](const Request& q) {
        ++deletes;
        return Response::json(200, {{"deleted", q.params.at("name")}});
    });
    return r;
}

}  // namespace

// One normalised path decides authorisation and routing: no spelling reaches the handler
// without the token (the router used to drop empty segments after an /api/ prefix check).
TEST(HttpHardening, NoPathSpellingSkipsTheToken) {
    std::atomic<int> deletes{0};
    ServerOptions o;
    o.bearer_token = "s3cret";
    o.public_paths = {"/api/v1/health"};
    Running s(o, mutating_router(deletes));
    for (const char* spelling : {"/api/v1/registry/x", "//api/v1/registry/x", "/%2fapi/v1/registry/x",
                                 "/%2Fapi%2Fv1%2Fregistry%2Fx", "/api//v1/registry/x", "/api/v1/./registry/x",
                                 "/x/../api/v1/registry/x", "/api/v1/registry/x/", "///api/v1/registry/x",
                                 "/api/v1/registry/%78"}) {
        auto r = request(s.port(), "DELETE", spelling);
        EXPECT_EQ(r.status, 401) << spelling;
    }
    EXPECT_EQ(deletes.load(), 0);
    // An unknown path or method is no way around it either.
    EXPECT_EQ(request(s.port(), "DELETE", "/no/such/thing").status, 401);
    EXPECT_EQ(request(s.port(), "PUT", "/api/v1/health", "{}").status, 401);
    // With the token, the odd spellings reach the one route.
    auto r = request(s.port(), "DELETE", "//api/v1/registry/x", "", "Authorization: Bearer s3cret\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.json()["deleted"], "x");
    r = request(s.port(), "DELETE", "/%2fapi/v1/./registry/%78", "", "Authorization: Bearer s3cret\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(deletes.load(), 2);
    // The public path stays public under any spelling.
    EXPECT_EQ(request(s.port(), "GET", "//api/v1/health").status, 200);
}

TEST(HttpHardening, ReadsOpenWhenNotProtectedButChangesNeedTheToken) {
    std::atomic<int> deletes{0};
    ServerOptions o;
    o.bearer_token = "s3cret";
    o.protect_reads = false;
    Running s(o, mutating_router(deletes));
    EXPECT_EQ(request(s.port(), "GET", "/api/v1/channels/x").status, 200);
    EXPECT_EQ(request(s.port(), "DELETE", "/api/v1/registry/x").status, 401);
    // The query-string token is for reads only (links, WebSockets), never for changes.
    EXPECT_EQ(request(s.port(), "DELETE", "/api/v1/registry/x?access_token=s3cret").status, 401);
    EXPECT_EQ(deletes.load(), 0);
}

TEST(HttpHardening, QueryTokenAcceptedForProtectedReads) {
    ServerOptions o;
    o.bearer_token = "s3cret";
    Running s(o, demo_router());
    EXPECT_EQ(request(s.port(), "GET", "/api/v1/channels/x").status, 401);
    EXPECT_EQ(request(s.port(), "GET", "/api/v1/channels/x?access_token=s3cret").status, 200);
    EXPECT_EQ(request(s.port(), "GET", "/api/v1/channels/x?access_token=s3cre").status, 401);
    EXPECT_EQ(request(s.port(), "GET", "/api/v1/channels/x", "", "Authorization: Bearer s3cret\r\n").status, 200);
}

// A page of another origin must not change anything (CSRF), and on a loopback bind a Host
// that is not the loopback is a DNS-rebinding attempt.
TEST(HttpHardening, CrossOriginChangesAndForeignHostsRefused) {
    std::atomic<int> deletes{0};
    Running s(ServerOptions{}, mutating_router(deletes));
    auto r = request(s.port(), "DELETE", "/api/v1/registry/x", "", "Origin: http://evil.example\r\n");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.json()["status"], 403);
    r = request(s.port(), "DELETE", "/api/v1/registry/x", "", "Origin: null\r\n");
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(deletes.load(), 0);
    // Same origin is fine (the console).
    r = request(s.port(), "DELETE", "/api/v1/registry/x", "", "Origin: http://localhost\r\n");
    EXPECT_EQ(r.status, 200);
    // Rebinding: the browser sends the attacker's host name.
    std::string req = "GET /api/v1/health HTTP/1.1\r\nHost: evil.example:8080\r\nConnection: close\r\n\r\n";
    EXPECT_EQ(raw_request(s.port(), req).status, 403);
    req = "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(s.port()) + "\r\nConnection: close\r\n\r\n";
    EXPECT_EQ(raw_request(s.port(), req).status, 200);
}

// Bad bytes in a request are the client's mistake: 400 with a JSON message, never a 500
// (nlohmann refuses to dump invalid UTF-8, which a 404 message used to quote).
TEST(HttpHardening, InvalidTargetsAre400Json) {
    Running s(ServerOptions{}, demo_router());
    for (const char* bad : {"/api/v1/%ff%fe", "/api/v1/channels/x?a=%C0%AF", "/api/v1/channels/%00",
                            "/api/v1/%zz", "/../etc/passwd", "/a%5c..%5c..%5cetc"}) {
        auto r = request(s.port(), "GET", bad);
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_EQ(r.json()["status"], 400) << bad;
    }
    // A handler's message with invalid UTF-8 is sent with replacement characters.
    auto resp = Response::error(404, std::string("no \xff\xfe here"));
    EXPECT_EQ(resp.status, 404);
    EXPECT_NE(resp.body.find("here"), std::string::npos);
}

// Exports and other long work run on the bounded worker pool: the io thread keeps answering,
// and a full queue answers 503 with Retry-After.
TEST(HttpHardening, DeferredWorkIsBoundedAndNeverBlocksIo) {
    std::atomic<int> done{0};
    Router r = demo_router();
    r.add("GET", "/api/v1/slow", [&done](const Request&) {
        return Response::later([&done] {
            std::this_thread::sleep_for(std::chrono::milliseconds(1000));
            ++done;
            return Response::json(200, {{"slow", true}});
        });
    });
    ServerOptions o;
    o.threads = 1;
    o.workers = 1;
    o.worker_queue = 1;
    Running s(o, std::move(r));
    std::vector<int> statuses(3);
    std::vector<std::string> retry(3);
    std::vector<std::thread> clients;
    for (int i = 0; i < 3; ++i) {
        clients.emplace_back([&, i] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50 * i));
            auto rep = request(s.port(), "GET", "/api/v1/slow");
            statuses[i] = rep.status;
            retry[i] = rep.headers["retry-after"];
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(request(s.port(), "GET", "/api/v1/health").status, 200);
    // Far less than the 1 s a job takes: the io thread did not wait for one.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(500));
    for (auto& c : clients) c.join();
    // One job runs, one waits in the queue, the third is refused. Which client is which
    // depends on when each got to the server (under QEMU the 50 ms head start is not enough).
    int ok = 0, refused = 0;
    for (int i = 0; i < 3; ++i) {
        if (statuses[i] == 200) ++ok;
        if (statuses[i] == 503) {
            ++refused;
            EXPECT_EQ(retry[i], "5");
        }
    }
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(refused, 1);
    EXPECT_EQ(done.load(), 2);
}

// At the connection cap a new client gets in: the connection idle the longest is closed.
TEST(HttpHardening, ConnectionCapClosesOldestIdleFirst) {
    ServerOptions o;
    o.max_connections = 8;
    Running s(o, demo_router());
    std::vector<int> idle;
    for (int i = 0; i < 20; ++i) idle.push_back(connect_to(s.port()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(request(s.port(), "GET", "/api/v1/health").status, 200);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
    // The first ones opened were closed by the server; the newest are still open.
    EXPECT_TRUE(closed_by_peer(idle.front(), 1000));
    EXPECT_FALSE(closed_by_peer(idle.back(), 200));
    EXPECT_GE(s.server.stats().evicted_idle, 12u);
    for (int fd : idle) ::close(fd);
}

// A client that sends its headers slowly (slowloris) or idles on a keep-alive connection is
// cut after header_timeout.
TEST(HttpHardening, SlowHeadersAreCutAtTheHeaderDeadline) {
    ServerOptions o;
    o.header_timeout = std::chrono::milliseconds(300);
    Running s(o, demo_router());
    int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    const std::string part = "GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n";
    ASSERT_EQ(::send(fd, part.data(), part.size(), MSG_NOSIGNAL), static_cast<ssize_t>(part.size()));
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(closed_by_peer(fd, 3000));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2000));
    ::close(fd);
}

// A download that stops moving is cut after send_timeout, and its temporary file removed.
TEST(HttpHardening, StalledDownloadIsCutAndItsFileRemoved) {
    auto path = fs::temp_directory_path() / ("sd_http_stall_" + std::to_string(::getpid()) + ".h5");
    std::ofstream(path, std::ios::binary) << std::string(64u << 20, 'x');
    Router r;
    r.add("GET", "/api/v1/export", [path](const Request&) {
        Response res;
        res.content_type = "application/x-hdf5";
        res.file = path;
        res.delete_file_after = true;
        return res;
    });
    ServerOptions o;
    o.send_timeout = std::chrono::milliseconds(300);
    Running s(o, std::move(r));
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(s.port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    const std::string req = "GET /api/v1/export HTTP/1.1\r\nHost: localhost\r\n\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    // Never read: the file must go within a few send_timeouts.
    for (int i = 0; i < 300 && fs::exists(path); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(fs::exists(path));
    EXPECT_GE(s.server.stats().send_timeouts, 1u);
    ::close(fd);
    std::error_code ec;
    fs::remove(path, ec);
}

// Every descriptor the server holds is close-on-exec, so no child inherits a listening socket.
TEST(HttpHardening, ServerSocketsAreCloseOnExec) {
    Running s(ServerOptions{}, demo_router());
    int fd = connect_to(s.port());
    ASSERT_GE(fd, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int sockets = 0;
    for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
        const int n = std::stoi(e.path().filename().string());
        std::error_code ec;
        auto target = fs::read_symlink(e.path(), ec);
        if (ec || target.string().rfind("socket:", 0) != 0) continue;
        ++sockets;
        const int flags = ::fcntl(n, F_GETFD);
        if (flags < 0) continue;  // the directory iterator's own fd, already closed
        EXPECT_TRUE(flags & FD_CLOEXEC) << "fd " << n << " (" << target << ") is inherited by children";
    }
    EXPECT_GE(sockets, 3);  // listener, the accepted connection, the client
    ::close(fd);
}

TEST(HttpHardening, ExposureNeedsATokenOrAnExplicitNone) {
    EXPECT_TRUE(check_exposure("127.0.0.1", "", "token", "x.yaml: http").ok());
    EXPECT_TRUE(check_exposure("0.0.0.0", "tok", "token", "x.yaml: http").ok());
    EXPECT_TRUE(check_exposure("0.0.0.0", "", "none", "x.yaml: http").ok());
    auto st = check_exposure("0.0.0.0", "", "token", "x.yaml: http");
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("x.yaml: http.bind is 0.0.0.0"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("auth.token_file"), std::string::npos);
}

// The stack's own pages on another port of the same host (the stripchart page calling the
// pivot) may call the API, with CORS for their origin; other origins still may not.
TEST(HttpHardening, SiblingOriginsGetCorsOthersDoNot) {
    std::atomic<int> deletes{0};
    Running s(ServerOptions{}, mutating_router(deletes));
    const std::string port = std::to_string(s.port());
    auto raw = [&](const std::string& method, const std::string& origin) {
        std::string req = method + " /api/v1/registry/x HTTP/1.1\r\nHost: 127.0.0.1:" + port +
                          "\r\nOrigin: " + origin + "\r\nConnection: close\r\n";
        if (method == "OPTIONS") req += "Access-Control-Request-Method: DELETE\r\n";
        return raw_request(s.port(), req + "\r\n");
    };
    auto r = raw("DELETE", "http://127.0.0.1:8081");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["access-control-allow-origin"], "http://127.0.0.1:8081");
    r = raw("OPTIONS", "http://127.0.0.1:8081");
    EXPECT_EQ(r.status, 204);
    EXPECT_NE(r.headers["access-control-allow-methods"].find("DELETE"), std::string::npos);
    EXPECT_NE(r.headers["access-control-allow-headers"].find("Authorization"), std::string::npos);
    // On a loopback bind, localhost pages are siblings too.
    EXPECT_EQ(raw("DELETE", "http://localhost:3000").status, 200);
    EXPECT_EQ(deletes.load(), 2);
    // Strangers: refused, and no CORS grant on a preflight.
    EXPECT_EQ(raw("DELETE", "http://evil.example:8081").status, 403);
    r = raw("OPTIONS", "http://evil.example");
    EXPECT_EQ(r.headers.count("access-control-allow-origin"), 0u);
    EXPECT_EQ(raw("DELETE", "null").status, 403);
    EXPECT_EQ(deletes.load(), 2);
}
