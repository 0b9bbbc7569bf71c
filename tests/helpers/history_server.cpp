// Test helper: GET /api/v1/series (src/history/routes.hpp) on a real http::Server at
// 127.0.0.1 until SIGTERM, for tests/integration/test_history.py (the stripchart server
// mounts the same route). Usage: history_server AVRO_PATH SUMMARY_PATH; prints "port N".
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "history/routes.hpp"
#include "http/server.hpp"

int main(int argc, char** argv) {
    using namespace speeddata;
    if (argc != 3) {
        std::cerr << "usage: history_server AVRO_PATH SUMMARY_PATH\n";
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    http::Router router;
    history::HistoryOptions opts;
    opts.avro_path = argv[1];
    opts.summary_path = argv[2];
    history::add_history_routes(router, opts);
    http::ServerOptions so;
    so.bind = "127.0.0.1";
    so.port = 0;
    so.threads = 2;
    so.workers = 2;  // the series route runs its queries on the worker pool (Response::later)
    http::Server server(so, std::move(router));
    Status st = server.start();
    if (!st.ok()) {
        std::cerr << st.message() << "\n";
        return 1;
    }
    std::cout << "port " << server.port() << std::endl;
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&set, &sig);
        server.stop();
    });
    server.run();
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    return 0;
}
