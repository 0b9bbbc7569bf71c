// The least work any relay must do, as the relay benchmark's same-run baseline:
// recvmmsg batches of 64 -> one writev of the batch to a file -> sendmmsg of every datagram
// to the multicast group, packed into outgoing datagrams exactly as `speeddata relay` packs
// its full-rate stream (the relay's own FullPacker). No validation, no decimation, no
// blocks, no index: each outgoing header's record count is the number of source datagrams.
//   min_relay --port P --file PATH [--group G --mcast-port M] [--pack BYTES] [--buffer BYTES]
// Prints one JSON line on exit (SIGTERM/SIGINT).
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <fcntl.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/avro/codec.hpp"
#include "core/net/mcast_header.hpp"
#include "core/net/socket.hpp"
#include "recv_batch.hpp"
#include "relay/packers.hpp"

int main(int argc, char** argv) {
    CLI::App app{"minimal relay (benchmark baseline)"};
    uint16_t port = 0, mcast_port = 6000;
    std::string file, group = "239.1.1.1", bind = "127.0.0.1";
    size_t buffer = 8u << 20, pack = 0;
    unsigned batch = 64;
    app.add_option("--port", port)->required();
    app.add_option("--file", file)->required();
    app.add_option("--group", group);
    app.add_option("--mcast-port", mcast_port);
    app.add_option("--pack", pack, "full-rate packing limit (default: loopback MTU - 28, as the relay)");
    app.add_option("--buffer", buffer);
    app.add_option("--batch", batch);
    CLI11_PARSE(app, argc, argv);

    using namespace speeddata;
    net::UdpReceiveOptions o;
    o.receive_buffer_bytes = buffer;
    auto sock = net::udp_bind(bind, port, o);
    auto tx = net::multicast_sender("127.0.0.1", 1, true);
    auto dest = net::ipv4_address(group, mcast_port);
    if (!sock || !tx || !dest) {
        std::fprintf(stderr, "min_relay: %s\n", !sock ? sock.message().c_str() : !tx ? tx.message().c_str() : dest.message().c_str());
        return 1;
    }
    Fd out(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out.valid()) {
        std::perror("min_relay: open");
        return 1;
    }
    bench::stop_on_signals();

    if (pack == 0) {
        size_t mtu = net::interface_mtu("127.0.0.1");
        pack = mtu > 28 ? mtu - 28 : 1472;
    }
    // The packer needs a splitter only for datagrams too big for a header; any schema does.
    auto schema = avro::Schema::parse(R"({"type":"record","name":"b","fields":[{"name":"x","type":"bytes"}]})");
    avro::Validator splitter(*schema);
    net::McastHeader h;
    h.channel = "baseline";
    relay::FullPacker packer(h, pack, batch, splitter, *dest);

    bench::RecvBatch rx(batch, relay::max_udp_payload + 1);
    std::vector<iovec> wiov(batch);
    uint64_t datagrams = 0, bytes = 0, written = 0, write_errors = 0, mcast_sent = 0, mcast_errors = 0;
    std::printf("{\"ready\": true}\n");
    std::fflush(stdout);
    while (!bench::g_stop) {
        const int n = rx.receive(sock->get());
        if (n <= 0) continue;
        size_t batch_bytes = 0;
        for (int i = 0; i < n; ++i) {
            const size_t len = rx.size(i);
            wiov[static_cast<size_t>(i)] = {rx.data(i), len};
            batch_bytes += len;
            packer.add(rx.data(i), len, 1);
        }
        datagrams += static_cast<uint64_t>(n);
        bytes += batch_bytes;
        ssize_t w = ::writev(out.get(), wiov.data(), n);
        if (w > 0) written += static_cast<uint64_t>(w);
        if (w != static_cast<ssize_t>(batch_bytes)) ++write_errors;
        mcast_sent += relay::send_messages(tx->get(), packer.finish(), mcast_errors);
        packer.clear();
    }
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    const double cpu = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                       static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    std::printf("{\"datagrams\": %llu, \"bytes\": %llu, \"written\": %llu, \"write_errors\": %llu, "
                "\"multicast_datagrams\": %llu, \"multicast_errors\": %llu, \"kernel_drops\": %u, \"cpu_s\": %.6f, "
                "\"max_rss_kib\": %ld}\n",
                static_cast<unsigned long long>(datagrams), static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(written), static_cast<unsigned long long>(write_errors),
                static_cast<unsigned long long>(mcast_sent), static_cast<unsigned long long>(mcast_errors), rx.kernel_drops(),
                cpu, ru.ru_maxrss);
    return 0;
}
