// The shared HTTP server over real loopback sockets: routing, errors, limits, token, static
// files, streaming, exceptions, port 0 and stop(). The client is plain POSIX sockets so the
// test does not depend on the code under test for its own requests.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/server.hpp"

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
    std::string chunked = "POST /api/v1/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
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
        EXPECT_EQ(r.status, 404) << bad;
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
    std::string two = "GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"
                      "GET /api/v1/channels/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
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

TEST(HttpServer, UrlDecode) {
    EXPECT_EQ(url_decode("a%20b+c"), "a b c");
    EXPECT_EQ(url_decode("a+b", false), "a+b");
    EXPECT_EQ(url_decode("%zz%4"), "%zz%4");
    EXPECT_EQ(url_decode("%2f%2F"), "//");
}
