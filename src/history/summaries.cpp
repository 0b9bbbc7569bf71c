#include "history/summaries.hpp"

#include <sys/stat.h>

#include <bit>
#include <cstring>

namespace speeddata::history {

namespace fs = std::filesystem;

std::optional<FileIdentity> identity_of(const fs::path& p) {
    struct stat st{};
    if (::stat(p.c_str(), &st) != 0) return std::nullopt;
    return FileIdentity{static_cast<uint64_t>(st.st_size),
                        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
                        static_cast<uint64_t>(st.st_ino)};
}

namespace {

static_assert(std::endian::native == std::endian::little, "the sidecar is read and written as host integers");

constexpr char sidecar_magic[8] = {'S', 'D', 'S', 'U', 'M', 1, 0, 0};

void put_u64(std::string& s, uint64_t v) {
    for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put_i64(std::string& s, int64_t v) { put_u64(s, static_cast<uint64_t>(v)); }
void put_f64(std::string& s, double v) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    put_u64(s, u);
}

// FNV-1a over 64-bit little-endian words (the last one zero-padded): a sidecar is read whole
// at every restart, so the check runs at memory speed rather than a byte at a time.
uint64_t fnv1a(const char* p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, p + i, 8);
        h = (h ^ w) * 1099511628211ULL;
    }
    if (i < n) {
        uint64_t w = 0;
        std::memcpy(&w, p + i, n - i);
        h = (h ^ w) * 1099511628211ULL;
    }
    return h;
}

struct Cursor {
    const char* p;
    const char* end;
    bool ok = true;
    uint64_t u64() {
        if (end - p < 8) { ok = false; return 0; }
        uint64_t v;
        std::memcpy(&v, p, 8);  // little-endian on disk; the targets are little-endian
        p += 8;
        return v;
    }
    int64_t i64() { return static_cast<int64_t>(u64()); }
    double f64() {
        uint64_t u = u64();
        double d;
        std::memcpy(&d, &u, 8);
        return d;
    }
    std::string str(size_t n) {
        if (static_cast<size_t>(end - p) < n) { ok = false; return {}; }
        std::string s(p, n);
        p += n;
        return s;
    }
};

void put_agg(std::string& s, const Agg& a) {
    put_u64(s, a.count);
    put_f64(s, a.min);
    put_i64(s, a.t_min);
    put_f64(s, a.max);
    put_i64(s, a.t_max);
    put_f64(s, a.first);
    put_i64(s, a.t_first);
    put_f64(s, a.last);
    put_i64(s, a.t_last);
}

Agg get_agg(Cursor& c) {
    Agg a;
    a.count = c.u64();
    a.min = c.f64();
    a.t_min = c.i64();
    a.max = c.f64();
    a.t_max = c.i64();
    a.first = c.f64();
    a.t_first = c.i64();
    a.last = c.f64();
    a.t_last = c.i64();
    return a;
}

}  // namespace

std::string encode_sidecar(const FileSummaries& f, const std::vector<std::shared_ptr<const BlockSummary>>& blocks) {
    std::string s(sidecar_magic, 8);
    put_u64(s, f.identity.size);
    put_i64(s, f.identity.mtime_ns);
    put_u64(s, f.fields.size());
    for (const auto& [name, kind] : f.fields) {
        put_u64(s, name.size());
        s += name;
        put_u64(s, static_cast<uint64_t>(kind));
    }
    put_u64(s, blocks.size());
    for (const auto& b : blocks) {
        put_u64(s, b->entry.offset);
        put_u64(s, b->entry.count);
        put_i64(s, b->entry.min_ns);
        put_i64(s, b->entry.max_ns);
        put_u64(s, b->entry.size);
        put_u64(s, b->records);
        put_u64(s, b->segments.size());
        for (size_t g = 0; g < b->segments.size(); ++g) {
            const Segment& seg = b->segments[g];
            put_u64(s, seg.offset);
            put_u64(s, seg.records);
            put_i64(s, seg.t_min);
            put_i64(s, seg.t_max);
            for (size_t k = 0; k < b->fields; ++k) put_agg(s, b->agg(g, k));
        }
    }
    put_u64(s, fnv1a(s.data(), s.size()));
    return s;
}

std::optional<FileSummaries> decode_sidecar(const std::string& s, const FileIdentity& id,
                                            const std::vector<cache::IndexEntry>& index) {
    if (s.size() < 16 || std::memcmp(s.data(), sidecar_magic, 8) != 0) return std::nullopt;
    Cursor tail{s.data() + s.size() - 8, s.data() + s.size()};
    if (tail.u64() != fnv1a(s.data(), s.size() - 8)) return std::nullopt;
    Cursor c{s.data() + 8, s.data() + s.size() - 8};
    FileSummaries f;
    f.closed = true;
    f.persisted = true;
    f.identity.size = c.u64();
    f.identity.mtime_ns = c.i64();
    f.identity.inode = id.inode;
    if (!c.ok || f.identity != id) return std::nullopt;
    uint64_t nf = c.u64();
    if (!c.ok || nf > 100000) return std::nullopt;
    for (uint64_t i = 0; i < nf; ++i) {
        uint64_t len = c.u64();
        if (!c.ok || len > 100000) return std::nullopt;
        std::string name = c.str(len);
        uint64_t k = c.u64();
        if (!c.ok || k < 1 || k > 4) return std::nullopt;
        f.fields.emplace_back(std::move(name), static_cast<Kind>(k));
    }
    uint64_t nb = c.u64();
    if (!c.ok || nb != index.size()) return std::nullopt;
    for (uint64_t i = 0; i < nb; ++i) {
        auto b = std::make_shared<BlockSummary>();
        b->fields = nf;
        b->entry.offset = c.u64();
        b->entry.count = c.u64();
        b->entry.min_ns = c.i64();
        b->entry.max_ns = c.i64();
        b->entry.size = c.u64();
        b->records = c.u64();
        uint64_t ns = c.u64();
        if (!c.ok || ns > b->entry.count + 1) return std::nullopt;
        b->segments.resize(ns);
        b->aggs.reserve(ns * nf);
        for (auto& seg : b->segments) {
            seg.offset = static_cast<uint32_t>(c.u64());
            seg.records = static_cast<uint32_t>(c.u64());
            seg.t_min = c.i64();
            seg.t_max = c.i64();
            for (uint64_t k = 0; k < nf; ++k) b->aggs.push_back(get_agg(c));
        }
        if (!c.ok || !same_entry(b->entry, index[i])) return std::nullopt;
        f.bytes += summary_bytes(*b);
        f.blocks.emplace(b->entry.offset, std::move(b));
    }
    if (c.p != c.end) return std::nullopt;
    return f;
}



}  // namespace speeddata::history
