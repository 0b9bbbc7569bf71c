#include "core/net/socket.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

namespace speeddata::net {

std::string errno_message(const std::string& what, int err) {
    return what + ": " + std::strerror(err);
}
std::string errno_message(const std::string& what) { return errno_message(what, errno); }

Result<sockaddr_in> ipv4_address(const std::string& address, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, address.c_str(), &a.sin_addr) != 1)
        return Status::error("'" + address + "' is not an IPv4 address");
    return a;
}

std::string to_string(const sockaddr_in& a) {
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

size_t interface_mtu(const std::string& interface_address) {
    in_addr want{};
    if (::inet_pton(AF_INET, interface_address.c_str(), &want) != 1) return 0;
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) != 0) return 0;
    size_t mtu = 0;
    for (ifaddrs* i = list; i && mtu == 0; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
        if (reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr != want.s_addr) continue;
        Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        ifreq req{};
        std::strncpy(req.ifr_name, i->ifa_name, IFNAMSIZ - 1);
        if (fd.valid() && ::ioctl(fd.get(), SIOCGIFMTU, &req) == 0) mtu = static_cast<size_t>(req.ifr_mtu);
    }
    ::freeifaddrs(list);
    return mtu;
}

bool is_multicast(const std::string& address) {
    in_addr a{};
    if (::inet_pton(AF_INET, address.c_str(), &a) != 1) return false;
    return IN_MULTICAST(ntohl(a.s_addr));
}

// Sets the receive buffer, preferring SO_RCVBUFFORCE (root) so the request is not silently
// capped at net.core.rmem_max; bursts are what lose data at the default size.
static void set_receive_buffer(int fd, size_t bytes, size_t* effective) {
    int v = static_cast<int>(bytes);
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
    if (effective) {
        int got = 0;
        socklen_t len = sizeof got;
        ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len);
        *effective = static_cast<size_t>(got) / 2;  // the kernel reports twice the request
    }
}

static Status apply_receive_options(int fd, const UdpReceiveOptions& o, size_t* effective) {
    set_receive_buffer(fd, o.receive_buffer_bytes, effective);
    if (o.report_drops) {
        int one = 1;
        if (::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) != 0) {
            // qemu-user (make test-arm64, docs/raspberry-pi.md) does not emulate this option:
            // receive without the kernel's drop count rather than not at all. Real Linux kernels
            // have it, so anything else is still an error.
            if (errno != ENOPROTOOPT) return Status::error(errno_message("setsockopt SO_RXQ_OVFL"));
            static std::atomic<bool> warned{false};
            if (!warned.exchange(true))
                spdlog::warn("setsockopt SO_RXQ_OVFL: {}: datagrams the kernel drops are not counted (kernel_drops stays 0)",
                             std::strerror(ENOPROTOOPT));
        }
    }
    if (o.receive_timeout_ms > 0) {
        timeval tv{o.receive_timeout_ms / 1000, (o.receive_timeout_ms % 1000) * 1000};
        if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
            return Status::error(errno_message("setsockopt SO_RCVTIMEO"));
    }
    return {};
}

Result<Fd> udp_bind(const std::string& address, uint16_t port, const UdpReceiveOptions& options,
                    size_t* effective_buffer) {
    auto addr = ipv4_address(address, port);
    if (!addr) return Status::error("bind " + address + ":" + std::to_string(port) + ": " + addr.message());
    Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Status::error(errno_message("socket"));
    if (auto s = apply_receive_options(fd.get(), options, effective_buffer); !s) return s;
    if (options.reuse_port) {
        int one = 1;
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
            return Status::error(errno_message("setsockopt SO_REUSEPORT"));
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0)
        return Status::error(errno_message("bind " + to_string(*addr)));
    return fd;
}

Status spread_at_random(int fd, unsigned sockets) {
    // A = random u32; A %= sockets; return A (the index of the group's socket to deliver to).
    sock_filter code[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)},
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, sockets},
        {BPF_RET | BPF_A, 0, 0, 0},
    };
    sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
    if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0)
        return Status::error(errno_message("setsockopt SO_ATTACH_REUSEPORT_CBPF"));
    return {};
}

Result<Fd> multicast_sender(const std::string& interface_address, int ttl, bool loop,
                            size_t send_buffer_bytes) {
    Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Status::error(errno_message("socket"));
    in_addr ifaddr{};
    if (::inet_pton(AF_INET, interface_address.c_str(), &ifaddr) != 1)
        return Status::error("multicast interface '" + interface_address + "' is not an IPv4 address");
    if (::setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof ifaddr) != 0) {
        // qemu-user 7.2 (Debian 12's, make test-arm64) does not emulate IP_MULTICAST_IF. The
        // interface stays pinned all the same: Linux sends multicast from a socket bound to a
        // local address (and without IP_MULTICAST_IF) out of the interface that owns it.
        if (errno != ENOPROTOOPT) return Status::error(errno_message("setsockopt IP_MULTICAST_IF " + interface_address));
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_addr = ifaddr;
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0)
            return Status::error(errno_message("setsockopt IP_MULTICAST_IF " + interface_address +
                                               " unsupported, and bind to it"));
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true))
            spdlog::warn("setsockopt IP_MULTICAST_IF: {}: multicast pinned to {} by binding to it instead",
                         std::strerror(ENOPROTOOPT), interface_address);
    }
    unsigned char t = static_cast<unsigned char>(ttl);
    if (::setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_TTL, &t, sizeof t) != 0)
        return Status::error(errno_message("setsockopt IP_MULTICAST_TTL"));
    unsigned char l = loop ? 1 : 0;
    if (::setsockopt(fd.get(), IPPROTO_IP, IP_MULTICAST_LOOP, &l, sizeof l) != 0)
        return Status::error(errno_message("setsockopt IP_MULTICAST_LOOP"));
    int sb = static_cast<int>(send_buffer_bytes);
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, &sb, sizeof sb) != 0)
        ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
    return fd;
}

Result<Fd> multicast_listener(const std::string& group, uint16_t port,
                              const std::string& interface_address,
                              const UdpReceiveOptions& options) {
    auto addr = ipv4_address(group, port);
    if (!addr) return Status::error("multicast group: " + addr.message());
    Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Status::error(errno_message("socket"));
    int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (auto s = apply_receive_options(fd.get(), options, nullptr); !s) return s;
    // Binding to the group address (not INADDR_ANY) keeps other groups on the same port out.
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0)
        return Status::error(errno_message("bind " + to_string(*addr)));
    ip_mreq m{};
    m.imr_multiaddr = addr->sin_addr;
    if (::inet_pton(AF_INET, interface_address.c_str(), &m.imr_interface) != 1)
        return Status::error("multicast interface '" + interface_address + "' is not an IPv4 address");
    if (::setsockopt(fd.get(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) != 0)
        return Status::error(errno_message("join " + group + " on " + interface_address));
    return fd;
}

}  // namespace speeddata::net
