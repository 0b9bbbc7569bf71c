// The SpeedData multicast header that precedes the Avro datums of every multicast datagram.
// Byte layout (all integers little-endian), documented in docs/wire-format.md:
//
//   off size field
//    0   4   magic "SDM1" (0x53 0x44 0x4D 0x31)
//    4   1   version = 1
//    5   1   flags: bit 0 = decimated stream, bit 1 = minmax pairs (per field: earlier extreme, later one)
//    6   2   header_length: bytes from the datagram start to the first datum (28 + name)
//    8   8   schema fingerprint: CRC-64-AVRO of the schema's Parsing Canonical Form
//   16   8   sequence number: per channel and stream, starts at 0, +1 per datagram
//   24   2   record count: datums that follow, back to back
//   26   1   channel name length N (1..255)
//   27   1   reserved (0)
//   28   N   channel name, UTF-8
//
// A reader must skip to header_length (later versions may append fields before the name's
// end is reached only by bumping version; unknown flag bits must be ignored).
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace speeddata::net {

inline constexpr uint8_t mcast_magic[4] = {'S', 'D', 'M', '1'};
inline constexpr uint8_t mcast_version = 1;
inline constexpr size_t mcast_fixed_header = 28;
inline constexpr size_t mcast_max_header = mcast_fixed_header + 255;
inline constexpr uint8_t mcast_flag_decimated = 0x01;
inline constexpr uint8_t mcast_flag_minmax = 0x02;

struct McastHeader {
    uint8_t flags = 0;
    uint64_t fingerprint = 0;
    uint64_t sequence = 0;
    uint16_t record_count = 0;
    std::string_view channel;
    size_t header_length = 0;  // filled by parse/encode
};

namespace detail {
template <typename T>
inline void put_le(uint8_t* p, T v) {
    for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i));
}
template <typename T>
inline T get_le(const uint8_t* p) {
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return static_cast<T>(v);
}
}  // namespace detail

// Writes the header into out (room for mcast_max_header bytes); returns its length.
inline size_t encode_mcast_header(const McastHeader& h, uint8_t* out) {
    size_t n = h.channel.size() > 255 ? 255 : h.channel.size();
    std::memcpy(out, mcast_magic, 4);
    out[4] = mcast_version;
    out[5] = h.flags;
    detail::put_le<uint16_t>(out + 6, static_cast<uint16_t>(mcast_fixed_header + n));
    detail::put_le<uint64_t>(out + 8, h.fingerprint);
    detail::put_le<uint64_t>(out + 16, h.sequence);
    detail::put_le<uint16_t>(out + 24, h.record_count);
    out[26] = static_cast<uint8_t>(n);
    out[27] = 0;
    std::memcpy(out + mcast_fixed_header, h.channel.data(), n);
    return mcast_fixed_header + n;
}

// Only the sequence number and record count change from datagram to datagram.
inline void patch_mcast_header(uint8_t* header, uint64_t sequence, uint16_t record_count) {
    detail::put_le<uint64_t>(header + 16, sequence);
    detail::put_le<uint16_t>(header + 24, record_count);
}

// Parses a header; nullopt when the datagram is not a SpeedData multicast datagram.
inline std::optional<McastHeader> parse_mcast_header(const uint8_t* p, size_t size) {
    if (size < mcast_fixed_header || std::memcmp(p, mcast_magic, 4) != 0 || p[4] != mcast_version)
        return std::nullopt;
    McastHeader h;
    h.flags = p[5];
    h.header_length = detail::get_le<uint16_t>(p + 6);
    h.fingerprint = detail::get_le<uint64_t>(p + 8);
    h.sequence = detail::get_le<uint64_t>(p + 16);
    h.record_count = detail::get_le<uint16_t>(p + 24);
    size_t n = p[26];
    if (n == 0 || h.header_length < mcast_fixed_header + n || h.header_length > size) return std::nullopt;
    h.channel = std::string_view(reinterpret_cast<const char*>(p + mcast_fixed_header), n);
    return h;
}

}  // namespace speeddata::net
