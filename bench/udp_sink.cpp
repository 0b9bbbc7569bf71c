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
#include "relay/cache_writer.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }
}  // namespace

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
    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    const size_t slot = 65536;
    std::vector<uint8_t> buf(slot * batch);
    std::vector<mmsghdr> msgs(batch);
    std::vector<iovec> iov(batch);
    const size_t cbytes = CMSG_SPACE(sizeof(uint32_t));
    std::vector<uint8_t> control(cbytes * batch);
    uint64_t datagrams = 0, bytes = 0, records = 0;
    uint32_t drops = 0;
    int64_t last_data = 0;
    std::printf("{\"ready\": true}\n");
    std::fflush(stdout);
    while (!g_stop) {
        for (unsigned i = 0; i < batch; ++i) {
            iov[i] = {&buf[i * slot], slot};
            msgs[i].msg_hdr = msghdr{};
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_control = &control[i * cbytes];
            msgs[i].msg_hdr.msg_controllen = cbytes;
        }
        int n = ::recvmmsg(fd->get(), msgs.data(), batch, MSG_WAITFORONE, nullptr);
        int64_t now = relay::monotonic_ns();
        if (n <= 0) {
            if (idle > 0 && last_data && now - last_data > static_cast<int64_t>(idle * 1e9)) break;
            continue;
        }
        last_data = now;
        for (int i = 0; i < n; ++i) {
            ++datagrams;
            bytes += msgs[i].msg_len;
            if (speeddata_records)
                if (auto h = net::parse_mcast_header(&buf[i * slot], msgs[i].msg_len)) records += h->record_count;
            for (cmsghdr* c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) std::memcpy(&drops, CMSG_DATA(c), 4);
        }
    }
    std::printf("{\"datagrams\": %llu, \"bytes\": %llu, \"records\": %llu, \"kernel_drops\": %u}\n",
                static_cast<unsigned long long>(datagrams), static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(records), drops);
    return 0;
}
