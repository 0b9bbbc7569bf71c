// A bare UDP receiver: recvmmsg in batches, counts datagrams, bytes and kernel drops, does
// nothing else. It is the kernel's ceiling that the relay benchmark compares against, and
// the multicast listener that proves the relay's full-rate stream arrives.
//   udp_sink --port P [--group G] [--buffer BYTES] [--batch N] [--idle SECONDS]
// Prints one JSON line on exit (SIGTERM/SIGINT, or --idle seconds without data after the first).
#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/net/mcast_header.hpp"
#include "core/net/socket.hpp"
#include "core/time.hpp"
#include "recv_batch.hpp"

int main(int argc, char** argv) {
    CLI::App app{"bare recvmmsg receiver"};
    uint16_t port = 0;
    std::string group, bind = "127.0.0.1";
    size_t buffer = 8u << 20;
    unsigned batch = 64;
    double idle = 0;
    bool speeddata_records = false;
    app.add_option("--port", port)->required();
    app.add_option("--group", group, "join this multicast group on loopback");
    app.add_option("--bind", bind);
    app.add_option("--buffer", buffer);
    app.add_option("--batch", batch);
    app.add_option("--idle", idle, "exit after this many seconds without data (after the first datagram)");
    app.add_flag("--records", speeddata_records, "also sum the record counts of SpeedData multicast headers");
    CLI11_PARSE(app, argc, argv);

    using namespace speeddata;
    net::UdpReceiveOptions o;
    o.receive_buffer_bytes = buffer;
    auto fd = group.empty() ? net::udp_bind(bind, port, o) : net::multicast_listener(group, port, "127.0.0.1", o);
    if (!fd) {
        std::fprintf(stderr, "udp_sink: %s\n", fd.message().c_str());
        return 1;
    }
    bench::stop_on_signals();
    bench::RecvBatch rx(batch, 65536);
    uint64_t datagrams = 0, bytes = 0, records = 0;
    int64_t last_data = 0;
    std::printf("{\"ready\": true}\n");
    std::fflush(stdout);
    while (!bench::g_stop) {
        const int n = rx.receive(fd->get());
        const int64_t now = speeddata::monotonic_ns();
        if (n <= 0) {
            if (idle > 0 && last_data && now - last_data > static_cast<int64_t>(idle * 1e9)) break;
            continue;
        }
        last_data = now;
        for (int i = 0; i < n; ++i) {
            ++datagrams;
            bytes += rx.size(i);
            if (speeddata_records)
                if (auto h = net::parse_mcast_header(rx.data(i), rx.size(i))) records += h->record_count;
        }
    }
    const uint32_t drops = rx.kernel_drops();
    std::printf("{\"datagrams\": %llu, \"bytes\": %llu, \"records\": %llu, \"kernel_drops\": %u}\n",
                static_cast<unsigned long long>(datagrams), static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(records), drops);
    return 0;
}
