#include "core/cache_layout.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <fstream>

#include "core/net/mcast_header.hpp"
#include "core/time.hpp"

namespace speeddata::cache {

using net::detail::get_le;
using net::detail::put_le;

void encode_index_entry(const IndexEntry& e, uint8_t out[index_entry_bytes]) {
    put_le<uint64_t>(out, e.offset);
    put_le<uint64_t>(out + 8, e.count);
    put_le<uint64_t>(out + 16, static_cast<uint64_t>(e.min_ns));
    put_le<uint64_t>(out + 24, static_cast<uint64_t>(e.max_ns));
    put_le<uint64_t>(out + 32, e.size);
}

IndexEntry decode_index_entry(const uint8_t in[index_entry_bytes]) {
    return {get_le<uint64_t>(in), get_le<uint64_t>(in + 8), static_cast<int64_t>(get_le<uint64_t>(in + 16)),
            static_cast<int64_t>(get_le<uint64_t>(in + 24)), get_le<uint64_t>(in + 32)};
}

std::string file_name(std::string_view channel, int64_t start_ns, unsigned stream) {
    std::string name = std::string(channel) + "_" + format_file_stamp(start_ns);
    if (stream > 0) name += "_s" + std::to_string(stream);
    return name + ".avro";
}

std::optional<int64_t> parse_file_name(std::string_view name, std::string_view channel) {
    auto p = parse_cache_name(name, channel);
    if (!p) return std::nullopt;
    return p->start_ns;
}

std::optional<ParsedName> parse_cache_name(std::string_view name, std::string_view channel) {
    // <channel>_YYYYmmddTHHMMSS.mmmZ.avro, or ..._s<K>.avro for stream K >= 1
    constexpr size_t stamp_len = 20;  // 20261124T080512.123Z
    if (name.size() < channel.size() + 1 + stamp_len + 5 || name.substr(0, channel.size()) != channel ||
        name[channel.size()] != '_' || name.substr(name.size() - 5) != ".avro")
        return std::nullopt;
    ParsedName out;
    std::string_view suffix = name.substr(channel.size() + 1 + stamp_len, name.size() - channel.size() - 1 - stamp_len - 5);
    if (!suffix.empty()) {
        // "_s" and 1..2 digits without a leading zero, 1..max_streams-1
        if (suffix.size() < 3 || suffix.size() > 4 || suffix[0] != '_' || suffix[1] != 's' || suffix[2] == '0')
            return std::nullopt;
        for (char c : suffix.substr(2)) {
            if (c < '0' || c > '9') return std::nullopt;
            out.stream = out.stream * 10 + static_cast<unsigned>(c - '0');
        }
        if (out.stream >= max_streams) return std::nullopt;
    }
    std::string_view s = name.substr(channel.size() + 1, stamp_len);
    auto digits = [&](size_t pos, size_t n, int& out) {
        out = 0;
        for (size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return false;
            out = out * 10 + (s[i] - '0');
        }
        return true;
    };
    std::tm tm{};
    int ms = 0;
    if (!digits(0, 4, tm.tm_year) || !digits(4, 2, tm.tm_mon) || !digits(6, 2, tm.tm_mday) || s[8] != 'T' ||
        !digits(9, 2, tm.tm_hour) || !digits(11, 2, tm.tm_min) || !digits(13, 2, tm.tm_sec) || s[15] != '.' ||
        !digits(16, 3, ms) || s[19] != 'Z')
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = ::timegm(&tm);
    out.start_ns = static_cast<int64_t>(t) * 1000000000 + static_cast<int64_t>(ms) * 1000000;
    return out;
}

std::vector<CacheFile> list_files(const std::filesystem::path& dir, std::string_view channel) {
    std::vector<CacheFile> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        auto name = e.path().filename().string();
        if (auto t = parse_cache_name(name, channel)) out.push_back({e.path(), t->start_ns, t->stream});
    }
    std::sort(out.begin(), out.end(), [](const CacheFile& a, const CacheFile& b) { return a.path < b.path; });
    return out;
}

std::vector<std::vector<CacheFile>> by_stream(const std::vector<CacheFile>& files) {
    std::vector<std::vector<CacheFile>> out;
    std::vector<unsigned> ids;
    for (const auto& f : files) {
        auto it = std::lower_bound(ids.begin(), ids.end(), f.stream);
        const auto at = static_cast<size_t>(it - ids.begin());
        if (it == ids.end() || *it != f.stream) {
            ids.insert(it, f.stream);
            out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), std::vector<CacheFile>{});
        }
        out[at].push_back(f);
    }
    return out;
}

std::vector<IndexEntry> read_index(const std::filesystem::path& p) {
    std::vector<IndexEntry> out;
    std::ifstream in(p, std::ios::binary);
    if (!in) return out;
    char magic[8];
    if (!in.read(magic, 8) || std::memcmp(magic, index_magic, 8) != 0) return out;
    uint8_t buf[index_entry_bytes];
    while (in.read(reinterpret_cast<char*>(buf), index_entry_bytes)) out.push_back(decode_index_entry(buf));
    return out;
}

}  // namespace speeddata::cache
