// UDP and multicast sockets with error messages that name the call, the address and the
// OS error ("bind 127.0.0.1:26000: Address already in use").
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>
#include <utility>

#include "core/fd.hpp"
#include "core/status.hpp"

namespace speeddata::net {

using speeddata::Fd;  // core/fd.hpp

// "<what>: <strerror(errno)>" for the current errno.
std::string errno_message(const std::string& what);
std::string errno_message(const std::string& what, int err);

// Parses a dotted IPv4 address and port into a sockaddr_in.
Result<sockaddr_in> ipv4_address(const std::string& address, uint16_t port);
std::string to_string(const sockaddr_in& a);  // "127.0.0.1:26000"

struct UdpReceiveOptions {
    // Requested SO_RCVBUF in bytes; as root SO_RCVBUFFORCE lifts net.core.rmem_max.
    size_t receive_buffer_bytes = 8u << 20;
    bool report_drops = true;  // SO_RXQ_OVFL: kernel drop counter in each datagram's cmsg
    int receive_timeout_ms = 100;  // SO_RCVTIMEO, so loops can check for shutdown
    // SO_REUSEPORT: several sockets (threads) of one process share the port. The kernel only
    // lets sockets of the same user join such a group.
    bool reuse_port = false;
};

// Binds a UDP socket for receiving. Returns the fd; effective buffer size via out param.
Result<Fd> udp_bind(const std::string& address, uint16_t port, const UdpReceiveOptions& options,
                    size_t* effective_buffer = nullptr);

// Makes the kernel spread the datagrams arriving at a SO_REUSEPORT group of `sockets` sockets
// over them at random (a classic BPF program, SO_ATTACH_REUSEPORT_CBPF), instead of by the
// hash of the sender's address: one fast source is then shared by every socket too.
Status spread_at_random(int fd, unsigned sockets);

// A socket that sends multicast out of the given interface address (IP_MULTICAST_IF is
// always set explicitly, never left to the routing table), with TTL and loopback.
Result<Fd> multicast_sender(const std::string& interface_address, int ttl, bool loop,
                            size_t send_buffer_bytes = 4u << 20);

// Joins group:port on the given interface (for listeners: stripchart, tests, benchmarks).
Result<Fd> multicast_listener(const std::string& group, uint16_t port,
                              const std::string& interface_address,
                              const UdpReceiveOptions& options);

// MTU of the interface that has this IPv4 address, or 0 when no interface has it.
size_t interface_mtu(const std::string& interface_address);

// Returns true when addr is an IPv4 multicast address (224.0.0.0/4).
bool is_multicast(const std::string& address);

}  // namespace speeddata::net
