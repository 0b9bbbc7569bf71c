// Decimated multicast datagrams as a relay sends them, fed to a Hub: shared by the hub and
// the earlier-page JSON tests.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/net/mcast_header.hpp"
#include "stripchart/hub.hpp"

namespace speeddata::stripchart::hub_test {

inline std::string datagram(uint64_t fp, uint64_t seq, const std::vector<std::string>& records,
                            std::string_view channel = "ch") {
    uint8_t h[net::mcast_max_header];
    net::McastHeader mh;
    mh.flags = net::mcast_flag_decimated;
    mh.fingerprint = fp;
    mh.sequence = seq;
    mh.record_count = static_cast<uint16_t>(records.size());
    mh.channel = channel;
    size_t n = net::encode_mcast_header(mh, h);
    std::string out(reinterpret_cast<char*>(h), n);
    for (const auto& r : records) out += r;
    return out;
}

inline void ingest(Hub& hub, const std::string& d) { hub.ingest(reinterpret_cast<const uint8_t*>(d.data()), d.size()); }

}  // namespace speeddata::stripchart::hub_test
