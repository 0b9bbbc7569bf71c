// Avro Object Container Files: header, blocks, codecs, and a reader that reports and skips
// damage instead of giving up.
#include "core/avro/container.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include <snappy.h>

#include "core/avro/codec.hpp"
#include "core/fd.hpp"

namespace speeddata::avro {

namespace {

constexpr char magic[4] = {'O', 'b', 'j', 1};

std::string errno_text(int err) { return std::strerror(err); }

// Reads up to n bytes at offset; returns bytes read (short only at end of file) or -errno.
ssize_t read_at(int fd, char* p, size_t n, uint64_t offset) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(offset + got));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (r == 0) break;
        got += static_cast<size_t>(r);
    }
    return static_cast<ssize_t>(got);
}

// Fills p with n bytes from the kernel's CSPRNG: sync markers must differ between files so
// that a scan for one file's marker never locks onto bytes copied from another.
void random_bytes(uint8_t* p, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = ::getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        got += static_cast<size_t>(r);
    }
    if (got < n) {  // no getrandom (very old kernel): std::random_device is /dev/urandom on Linux
        std::random_device rd;
        for (; got < n; ++got) p[got] = static_cast<uint8_t>(rd());
    }
}

struct ZstdCCtxFree {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct ZstdDCtxFree {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// ---- codecs ------------------------------------------------------------------------------

// Raw RFC 1951 deflate (no zlib header), as the spec requires.
Status deflate_compress(const uint8_t* in, size_t n, int level, std::string& out) {
    z_stream zs{};
    if (deflateInit2(&zs, level < 0 ? 6 : std::min(level, 9), Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return Status::error("deflate: init failed");
    }
    out.resize(deflateBound(&zs, static_cast<uLong>(n)));
    zs.next_in = const_cast<Bytef*>(in);
    zs.avail_in = static_cast<uInt>(n);
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int r = deflate(&zs, Z_FINISH);
    const size_t produced = zs.total_out;
    deflateEnd(&zs);
    if (r != Z_STREAM_END) return Status::error("deflate: compression failed");
    out.resize(produced);
    return {};
}

// Inflates raw deflate data into out; fails on corrupt or incomplete data and when the
// output would exceed max_out bytes (a bounded reader whatever the input claims).
Status deflate_decompress(std::string_view in, std::string& out, uint64_t max_out) {
    z_stream zs{};
    if (inflateInit2(&zs, -15) != Z_OK) return Status::error("deflate: init failed");
    out.resize(std::max<size_t>(in.size() * 4, 4096));
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    int r = Z_OK;
    while (true) {
        if (zs.total_out == out.size()) {
            if (out.size() >= max_out) {
                inflateEnd(&zs);
                return Status::error("deflate: data expands past the block size limit");
            }
            out.resize(std::min<uint64_t>(out.size() * 2, max_out));
        }
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + zs.total_out);
        zs.avail_out = static_cast<uInt>(out.size() - zs.total_out);
        r = inflate(&zs, Z_NO_FLUSH);
        if (r == Z_STREAM_END) break;
        if (r != Z_OK && r != Z_BUF_ERROR) break;
        if (r == Z_BUF_ERROR && zs.avail_in == 0) break;  // input ended before the stream did
    }
    const size_t produced = zs.total_out;
    const std::string msg = zs.msg ? zs.msg : "";
    inflateEnd(&zs);
    if (r != Z_STREAM_END) {
        return Status::error("deflate: " + (msg.empty() ? std::string("compressed data is incomplete") : msg));
    }
    out.resize(produced);
    return {};
}

void put_be32(std::string& out, uint32_t v) {
    out.push_back(static_cast<char>(v >> 24));
    out.push_back(static_cast<char>(v >> 16));
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v));
}

// zlib's CRC-32 (the one the snappy codec appends).
uint32_t crc32_of(const char* p, size_t n) {
    return static_cast<uint32_t>(crc32(0L, reinterpret_cast<const Bytef*>(p), static_cast<uInt>(n)));
}

// Snappy data followed by the big-endian CRC32 of the uncompressed data.
Status snappy_compress(const uint8_t* in, size_t n, std::string& out) {
    out.resize(snappy::MaxCompressedLength(n));
    size_t produced = 0;
    snappy::RawCompress(reinterpret_cast<const char*>(in), n, out.data(), &produced);
    out.resize(produced);
    put_be32(out, crc32_of(reinterpret_cast<const char*>(in), n));
    return {};
}

// Uncompresses snappy data followed by its 4-byte CRC; fails on corrupt data, a CRC mismatch,
// or an uncompressed length over max_out.
Status snappy_decompress(std::string_view in, std::string& out, uint64_t max_out) {
    if (in.size() < 4) return Status::error("snappy: block shorter than its CRC");
    const std::string_view body = in.substr(0, in.size() - 4);
    size_t len = 0;
    if (!snappy::GetUncompressedLength(body.data(), body.size(), &len)) return Status::error("snappy: corrupt data");
    if (len > max_out) return Status::error("snappy: data expands past the block size limit");
    out.resize(len);
    if (!snappy::RawUncompress(body.data(), body.size(), out.data())) return Status::error("snappy: corrupt data");
    const auto* c = reinterpret_cast<const uint8_t*>(in.data() + body.size());
    const uint32_t want = (uint32_t{c[0]} << 24) | (uint32_t{c[1]} << 16) | (uint32_t{c[2]} << 8) | c[3];
    if (crc32_of(out.data(), out.size()) != want) return Status::error("snappy: CRC32 mismatch");
    return {};
}

// One zstandard frame (with its content size) of [in, in+n) into out.
Status zstd_compress(ZSTD_CCtx* cctx, const uint8_t* in, size_t n, int level, std::string& out) {
    out.resize(ZSTD_compressBound(n));
    size_t r = ZSTD_compressCCtx(cctx, out.data(), out.size(), in, n, level < 0 ? 3 : level);
    if (ZSTD_isError(r)) return Status::error(std::string("zstandard: ") + ZSTD_getErrorName(r));
    out.resize(r);
    return {};
}

// Streaming, so frames without a content size (some writers omit it) decode too, and the
// output is capped at max_out whatever the frame claims.
Status zstd_decompress(ZSTD_DCtx* dctx, std::string_view in, std::string& out, uint64_t max_out) {
    ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
    unsigned long long hint = ZSTD_getFrameContentSize(in.data(), in.size());
    size_t initial = (hint != ZSTD_CONTENTSIZE_UNKNOWN && hint != ZSTD_CONTENTSIZE_ERROR && hint <= max_out)
                         ? static_cast<size_t>(hint)
                         : std::max<size_t>(in.size() * 4, 4096);
    out.resize(std::max<size_t>(initial, 1));
    ZSTD_inBuffer ib{in.data(), in.size(), 0};
    size_t produced = 0;
    while (true) {
        if (produced == out.size()) {
            if (out.size() >= max_out) return Status::error("zstandard: data expands past the block size limit");
            out.resize(std::min<uint64_t>(out.size() * 2, max_out));
        }
        ZSTD_outBuffer ob{out.data() + produced, out.size() - produced, 0};
        const size_t last = ZSTD_decompressStream(dctx, &ob, &ib);
        if (ZSTD_isError(last)) return Status::error(std::string("zstandard: ") + ZSTD_getErrorName(last));
        produced += ob.pos;
        if (last == 0 && ib.pos == ib.size) break;  // frame complete, all input used
        if (ib.pos == ib.size && ob.pos < ob.size) {
            // Input used up with room left for output, yet the frame is not finished.
            return Status::error("zstandard: compressed data is incomplete");
        }
    }
    out.resize(produced);
    return {};
}

}  // namespace

Result<Codec> parse_codec(std::string_view name) {
    if (name == "null") return Codec::null_codec;
    if (name == "deflate") return Codec::deflate;
    if (name == "snappy") return Codec::snappy;
    if (name == "zstandard" || name == "zstd") return Codec::zstandard;
    return Status::error("unknown codec '" + std::string(name) + "' (expected null, deflate, snappy or zstandard)");
}

std::string_view codec_name(Codec c) {
    switch (c) {
        case Codec::null_codec: return "null";
        case Codec::deflate: return "deflate";
        case Codec::snappy: return "snappy";
        case Codec::zstandard: return "zstandard";
    }
    return "null";
}

// ---- BlockEncoder ------------------------------------------------------------------------

struct BlockEncoder::Impl {
    std::string schema_json;
    BlockEncoderOptions options;
    SyncMarker sync{};
    std::unique_ptr<ZSTD_CCtx, ZstdCCtxFree> zstd;
    std::string scratch;
};

BlockEncoder::BlockEncoder(const Schema& schema, BlockEncoderOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->schema_json = schema.json_text();
    impl_->options = std::move(options);
    random_bytes(impl_->sync.data(), impl_->sync.size());
    if (impl_->options.codec == Codec::zstandard) impl_->zstd.reset(ZSTD_createCCtx());
}

BlockEncoder::~BlockEncoder() = default;
BlockEncoder::BlockEncoder(BlockEncoder&&) noexcept = default;
BlockEncoder& BlockEncoder::operator=(BlockEncoder&&) noexcept = default;

std::string BlockEncoder::header() const {
    std::string out(magic, 4);
    std::vector<std::pair<std::string, std::string>> meta;
    meta.emplace_back("avro.schema", impl_->schema_json);
    meta.emplace_back("avro.codec", std::string(codec_name(impl_->options.codec)));
    for (const auto& [k, v] : impl_->options.metadata) {
        if (k != "avro.schema" && k != "avro.codec") meta.emplace_back(k, v);
    }
    append_long(out, static_cast<int64_t>(meta.size()));
    for (const auto& [k, v] : meta) {
        append_long(out, static_cast<int64_t>(k.size()));
        out += k;
        append_long(out, static_cast<int64_t>(v.size()));
        out += v;
    }
    append_long(out, 0);
    out.append(reinterpret_cast<const char*>(impl_->sync.data()), impl_->sync.size());
    return out;
}

const SyncMarker& BlockEncoder::sync() const { return impl_->sync; }

Status BlockEncoder::encode_block(std::span<const uint8_t> datums, uint64_t count, std::string& out) {
    out.clear();
    const uint8_t* data = datums.data();
    const size_t n = datums.size();
    if (count > n) {
        return Status::error("a block of " + std::to_string(count) + " datums in " + std::to_string(n) +
                             " bytes: datums of zero size cannot be stored (readers reject such a block)");
    }
    std::string_view payload;
    Status st;
    switch (impl_->options.codec) {
        case Codec::null_codec: payload = std::string_view(reinterpret_cast<const char*>(data), n); break;
        case Codec::deflate: st = deflate_compress(data, n, impl_->options.level, impl_->scratch); break;
        case Codec::snappy: st = snappy_compress(data, n, impl_->scratch); break;
        case Codec::zstandard:
            if (!impl_->zstd) return Status::error("zstandard: cannot create context");
            st = zstd_compress(impl_->zstd.get(), data, n, impl_->options.level, impl_->scratch);
            break;
    }
    if (!st) return st;
    if (impl_->options.codec != Codec::null_codec) payload = impl_->scratch;
    append_long(out, static_cast<int64_t>(count));
    append_long(out, static_cast<int64_t>(payload.size()));
    out.append(payload);
    out.append(reinterpret_cast<const char*>(impl_->sync.data()), impl_->sync.size());
    return {};
}

// ---- FileWriter --------------------------------------------------------------------------

struct FileWriter::Impl {
    std::string path;
    Fd fd;
    std::unique_ptr<BlockEncoder> encoder;
    std::unique_ptr<Validator> validator;
    std::string pending;
    uint64_t pending_count = 0;
    uint64_t appended = 0;
    size_t block_bytes = 64 * 1024;
    std::string block;
    bool closed = false;
};

FileWriter::FileWriter() : impl_(std::make_unique<Impl>()) {}
FileWriter::~FileWriter() {
    if (impl_) (void)close();
}
FileWriter::FileWriter(FileWriter&&) noexcept = default;
FileWriter& FileWriter::operator=(FileWriter&&) noexcept = default;

Result<FileWriter> FileWriter::create(const std::filesystem::path& path, const Schema& schema,
                                      BlockEncoderOptions options, size_t block_bytes) {
    FileWriter w;
    Impl& m = *w.impl_;
    m.path = path.string();
    m.block_bytes = std::max<size_t>(block_bytes, 1);
    int fd = ::open(m.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::error("open " + m.path + ": " + errno_text(errno));
    m.fd = Fd(fd);
    m.encoder = std::make_unique<BlockEncoder>(schema, std::move(options));
    m.validator = std::make_unique<Validator>(schema);
    const std::string h = m.encoder->header();
    if (int e = write_all(fd, h.data(), h.size())) return Status::error("write " + m.path + ": " + errno_text(e));
    return w;
}

// Checks the datum with the schema first: a tool must not be able to write a file that no
// reader can decode.
Status FileWriter::append(std::span<const uint8_t> datum) {
    Impl& m = *impl_;
    if (m.closed) return Status::error("append " + m.path + ": file is closed");
    ValidateResult r = m.validator->validate(datum.data(), datum.size());
    if (!r.ok()) {
        return Status::error("append " + m.path + ": datum does not match the schema: " +
                             std::string(decode_error_name(r.error)) + " at offset " + std::to_string(r.error_offset));
    }
    if (r.consumed != datum.size()) {
        return Status::error("append " + m.path + ": datum has " + std::to_string(datum.size() - r.consumed) +
                             " trailing bytes");
    }
    m.pending.append(reinterpret_cast<const char*>(datum.data()), datum.size());
    ++m.pending_count;
    ++m.appended;
    if (m.pending.size() >= m.block_bytes) return flush();
    return {};
}

Status FileWriter::flush() {
    Impl& m = *impl_;
    if (m.closed) return {};
    if (m.pending_count == 0) return {};
    Status st = m.encoder->encode_block(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(m.pending.data()), m.pending.size()), m.pending_count,
        m.block);
    if (!st) return st.with_context("write " + m.path);
    if (int e = write_all(m.fd.get(), m.block.data(), m.block.size())) {
        return Status::error("write " + m.path + ": " + errno_text(e));
    }
    m.pending.clear();
    m.pending_count = 0;
    return {};
}

Status FileWriter::close() {
    Impl& m = *impl_;
    if (m.closed) return {};
    Status st = flush();
    m.closed = true;
    if (int e = m.fd.close(); e != 0 && st) st = Status::error("close " + m.path + ": " + errno_text(e));
    return st;
}

// ---- FileReader --------------------------------------------------------------------------

struct FileReader::Impl {
    std::string path;
    FileReaderOptions options;
    Fd fd;
    Schema schema;
    Codec codec = Codec::null_codec;
    std::map<std::string, std::string> metadata;
    SyncMarker sync{};
    uint64_t header_size = 0;
    bool headerless = false;
    std::unique_ptr<Validator> validator;

    uint64_t pos = 0;          // where the next block starts (or where a resync scan resumes)
    bool scanning = false;     // looking for a sync marker after damage (at pos)
    uint64_t scan_origin = 0;  // where the damage that started the scan was found
    std::string scan_reason;
    bool scan_reported = false;  // the damage was already reported (the scan hit end of file)
    uint64_t reported_tail = UINT64_MAX;  // offset of the last reported incomplete block
    std::string raw;           // compressed block + sync marker
    std::string data;          // decompressed block
    std::unique_ptr<ZSTD_DCtx, ZstdDCtxFree> zstd;
    std::vector<std::string> problems;
    size_t problems_dropped = 0;

    void problem(std::string message) {
        // Bounded: a file of pure garbage must not grow this list without limit.
        constexpr size_t max_problems = 1000;
        if (problems.size() < max_problems) {
            problems.push_back(std::move(message));
        } else if (++problems_dropped == 1) {
            problems.push_back("(further problems not listed)");
        }
    }

    Result<uint64_t> file_size() const {
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return Status::error("stat " + path + ": " + errno_text(errno));
        return static_cast<uint64_t>(st.st_size);
    }

    // Offset of the first sync marker starting in [from, size - 16], or UINT64_MAX.
    Result<uint64_t> find_sync(uint64_t from, uint64_t size) {
        constexpr size_t chunk = 64 * 1024;
        std::string buf;
        buf.resize(chunk + sync.size());
        uint64_t at = from;
        while (at + sync.size() <= size) {
            const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - at));
            ssize_t got = read_at(fd.get(), buf.data(), want, at);
            if (got < 0) return Status::error("read " + path + ": " + errno_text(static_cast<int>(-got)));
            if (static_cast<size_t>(got) < sync.size()) break;
            const char* b = buf.data();
            const char* e = b + got;
            if (const void* hit = ::memmem(b, static_cast<size_t>(e - b), sync.data(), sync.size())) {
                return at + static_cast<uint64_t>(static_cast<const char*>(hit) - b);
            }
            // Keep the last 15 bytes: a marker may straddle two chunks.
            at += static_cast<uint64_t>(got) - (sync.size() - 1);
        }
        return UINT64_MAX;
    }
};

FileReader::FileReader() : impl_(std::make_unique<Impl>()) {}
FileReader::~FileReader() = default;
FileReader::FileReader(FileReader&&) noexcept = default;
FileReader& FileReader::operator=(FileReader&&) noexcept = default;

namespace {

// Parses the header in buf. Returns false with need_more set when buf ends too early.
struct HeaderParse {
    std::map<std::string, std::string> meta;
    SyncMarker sync{};
    uint64_t size = 0;
    bool need_more = false;
    std::string error;
};

HeaderParse parse_header(std::string_view buf) {
    HeaderParse h;
    const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
    const uint8_t* end = p + buf.size();
    const uint8_t* begin = p;
    auto more = [&] {
        h.need_more = true;
        return h;
    };
    if (buf.size() < 4) return more();
    if (std::memcmp(p, magic, 4) != 0) {
        h.error = "not an Avro container file (bad magic)";
        return h;
    }
    p += 4;
    while (true) {
        int64_t count;
        size_t n = read_long(p, end, count);
        if (n == 0) {
            if (end - p < 10) return more();
            h.error = "bad metadata block count";
            return h;
        }
        p += n;
        if (count == 0) break;
        if (count < 0) {
            if (count == INT64_MIN) {
                h.error = "bad metadata block count";
                return h;
            }
            count = -count;
            int64_t bytes;
            n = read_long(p, end, bytes);
            if (n == 0) {
                if (end - p < 10) return more();
                h.error = "bad metadata block size";
                return h;
            }
            p += n;
        }
        for (int64_t i = 0; i < count; ++i) {
            std::string kv[2];
            for (auto& s : kv) {
                int64_t len;
                n = read_long(p, end, len);
                if (n == 0) {
                    if (end - p < 10) return more();
                    h.error = "bad metadata length";
                    return h;
                }
                if (len < 0) {
                    h.error = "negative metadata length";
                    return h;
                }
                p += n;
                if (static_cast<uint64_t>(len) > static_cast<uint64_t>(end - p)) return more();
                s.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
                p += len;
            }
            h.meta[kv[0]] = std::move(kv[1]);
        }
    }
    if (end - p < 16) return more();
    std::memcpy(h.sync.data(), p, 16);
    p += 16;
    h.size = static_cast<uint64_t>(p - begin);
    return h;
}

}  // namespace

Result<FileReader> FileReader::open(const std::filesystem::path& path) { return open(path, FileReaderOptions{}); }

Result<FileReader> FileReader::open(const std::filesystem::path& path, const FileReaderOptions& options) {
    FileReader r;
    Impl& m = *r.impl_;
    m.path = path.string();
    m.options = options;
    int fd = ::open(m.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::error("open " + m.path + ": " + errno_text(errno));
    m.fd = Fd(fd);
    {
        char first[4];
        ssize_t got = read_at(fd, first, sizeof first, 0);
        if (got < 0) return Status::error("read " + m.path + ": " + errno_text(static_cast<int>(-got)));
        const bool has_magic = got == 4 && std::memcmp(first, magic, 4) == 0;
        if (!has_magic && m.options.headerless_schema) {
            // The earlier relay's layout: blocks from byte 0 (an empty file is one it created
            // before its first datagram arrived).
            m.headerless = true;
            m.schema = *m.options.headerless_schema;
            m.sync = headerless_sync;
            if (m.options.validate_datums) m.validator = std::make_unique<Validator>(m.schema);
            return r;
        }
        if (!has_magic && got == 4) {
            // Say what it probably is: a bare block stream ending in the earlier relay's marker.
            std::string head(64 * 1024, '\0');
            ssize_t n = read_at(fd, head.data(), head.size(), 0);
            if (n > 0 && ::memmem(head.data(), static_cast<size_t>(n), headerless_sync.data(), headerless_sync.size())) {
                return Status::error(m.path + ": no Avro container header; it looks like a cache file of the earlier "
                                              "relay (bare blocks with its fixed sync marker): give its schema (--schema)");
            }
        }
    }
    // Read the header in growing pieces: it is usually a few KiB, but the schema is unbounded.
    constexpr uint64_t max_header = 64ULL << 20;
    std::string buf;
    HeaderParse h;
    for (uint64_t want = 64 * 1024;; want *= 4) {
        want = std::min(want, max_header);
        buf.resize(static_cast<size_t>(want));
        ssize_t got = read_at(fd, buf.data(), buf.size(), 0);
        if (got < 0) return Status::error("read " + m.path + ": " + errno_text(static_cast<int>(-got)));
        buf.resize(static_cast<size_t>(got));
        h = parse_header(buf);
        if (!h.need_more) break;
        if (static_cast<uint64_t>(got) < want) return Status::error(m.path + ": file ends inside the header");
        if (want == max_header) return Status::error(m.path + ": header larger than 64 MiB");
    }
    if (!h.error.empty()) return Status::error(m.path + ": " + h.error);
    auto sit = h.meta.find("avro.schema");
    if (sit == h.meta.end()) return Status::error(m.path + ": header has no avro.schema");
    ParseOptions po;
    po.validate_defaults = false;  // another writer's sloppy default does not make its data unreadable
    auto schema = Schema::parse(sit->second, po);
    if (!schema) return Status::error(m.path + ": avro.schema: " + schema.message());
    m.schema = std::move(*schema);
    if (auto cit = h.meta.find("avro.codec"); cit != h.meta.end() && !cit->second.empty()) {
        if (cit->second == "zstd") return Status::error(m.path + ": unsupported codec 'zstd'");
        auto c = parse_codec(cit->second);
        if (!c) return Status::error(m.path + ": unsupported codec '" + cit->second + "'");
        m.codec = *c;
    }
    m.metadata = std::move(h.meta);
    m.sync = h.sync;
    m.header_size = h.size;
    m.pos = h.size;
    if (m.options.validate_datums) m.validator = std::make_unique<Validator>(m.schema);
    if (m.codec == Codec::zstandard) m.zstd.reset(ZSTD_createDCtx());
    return r;
}

const Schema& FileReader::schema() const { return impl_->schema; }
Codec FileReader::codec() const { return impl_->codec; }
const std::map<std::string, std::string>& FileReader::metadata() const { return impl_->metadata; }
const SyncMarker& FileReader::sync() const { return impl_->sync; }
uint64_t FileReader::header_size() const { return impl_->header_size; }
bool FileReader::headerless() const { return impl_->headerless; }
const std::vector<std::string>& FileReader::problems() const { return impl_->problems; }

Status FileReader::seek(uint64_t file_offset) {
    Impl& m = *impl_;
    if (file_offset < m.header_size) {
        return Status::error("seek " + m.path + ": offset " + std::to_string(file_offset) + " is inside the header");
    }
    auto size = m.file_size();
    if (!size) return size.status();
    if (file_offset > *size) {
        return Status::error("seek " + m.path + ": offset " + std::to_string(file_offset) + " is past the end (" +
                             std::to_string(*size) + " bytes)");
    }
    m.pos = file_offset;
    m.scanning = false;
    return {};
}

// One block per call. The block's extent comes from its header varints; it is trusted only
// when the sync marker sits right after it. Otherwise the bytes are either a tail still being
// written (no later sync marker exists: report once, return false, retry from the same
// offset next time) or damage (scan forward for the next sync marker and resume after it).
// Damage inside a block whose marker matched (codec error, datums that do not validate)
// skips exactly that block.
Result<bool> FileReader::next_block(Block& out) {
    Impl& m = *impl_;
    const uint64_t max_block = m.options.max_block_bytes;
    for (;;) {
        auto fsize = m.file_size();
        if (!fsize) return fsize.status();
        const uint64_t size = *fsize;

        if (m.scanning) {
            auto found = m.find_sync(m.pos, size);
            if (!found) return found.status();
            if (*found == UINT64_MAX) {
                // No marker yet. Resume later from where a marker could still start, so that
                // data appended afterwards is found.
                if (size >= m.sync.size() - 1) m.pos = std::max(m.pos, size - (m.sync.size() - 1));
                if (!m.scan_reported) {
                    m.scan_reported = true;
                    m.problem("damaged block at offset " + std::to_string(m.scan_origin) + ": " + m.scan_reason +
                              "; no sync marker follows (skipped to the end of the file)");
                }
                return false;
            }
            const uint64_t next = *found + m.sync.size();
            if (m.scan_reported) {
                m.problem("resynchronised at offset " + std::to_string(next) + " after the damage at offset " +
                          std::to_string(m.scan_origin));
            } else m.problem("damaged block at offset " + std::to_string(m.scan_origin) + ": " + m.scan_reason +
                      "; skipped " + std::to_string(next - m.scan_origin) + " bytes to the next sync marker (offset " +
                      std::to_string(*found) + ")");
            m.scanning = false;
            m.pos = next;
            continue;
        }

        const uint64_t start = m.pos;
        if (start >= size) return false;
        auto damaged = [&](std::string reason) {
            m.scanning = true;
            m.scan_reported = false;
            m.scan_origin = start;
            m.scan_reason = std::move(reason);
            m.pos = start + 1;  // the scan starts inside the damaged block
        };
        auto incomplete = [&](const std::string& detail) {
            if (m.reported_tail != start) {
                m.reported_tail = start;
                m.problem("incomplete block at offset " + std::to_string(start) + ": " + detail +
                          " (a crash while writing, or a file still being written)");
            }
            return false;
        };

        // Block header: count and byte size varints.
        uint8_t hdr[20];
        ssize_t got = read_at(m.fd.get(), reinterpret_cast<char*>(hdr), sizeof hdr, start);
        if (got < 0) return Status::error("read " + m.path + ": " + errno_text(static_cast<int>(-got)));
        const uint8_t* hp = hdr;
        const uint8_t* he = hdr + got;
        int64_t count = 0, bytes = 0;
        size_t n1 = read_long(hp, he, count);
        size_t n2 = n1 ? read_long(hp + n1, he, bytes) : 0;
        if (n1 == 0 || n2 == 0) {
            // Either the file ends inside the varints or they are malformed.
            const bool cut = got < static_cast<ssize_t>(sizeof hdr) &&
                             (n1 == 0 ? he - hp < 10 : he - (hp + n1) < 10);
            if (cut) {
                // A later sync marker means these bytes are garbage, not a block being written.
                auto found = m.find_sync(start, size);
                if (!found) return found.status();
                if (*found == UINT64_MAX) return incomplete("the file ends inside the block header");
            }
            damaged("malformed block header");
            continue;
        }
        if (count < 0 || bytes < 0 || static_cast<uint64_t>(bytes) > max_block) {
            damaged("impossible block header (count " + std::to_string(count) + ", size " + std::to_string(bytes) + ")");
            continue;
        }
        const uint64_t data_at = start + n1 + n2;
        const uint64_t block_end = data_at + static_cast<uint64_t>(bytes) + m.sync.size();
        if (block_end > size) {
            auto found = m.find_sync(start, size);
            if (!found) return found.status();
            if (*found == UINT64_MAX) {
                return incomplete("the file ends after " + std::to_string(size - start) + " of its " +
                                  std::to_string(block_end - start) + " bytes");
            }
            damaged("block size " + std::to_string(bytes) + " runs past the next sync marker");
            continue;
        }

        m.raw.resize(static_cast<size_t>(bytes) + m.sync.size());
        got = read_at(m.fd.get(), m.raw.data(), m.raw.size(), data_at);
        if (got < 0) return Status::error("read " + m.path + ": " + errno_text(static_cast<int>(-got)));
        if (static_cast<size_t>(got) < m.raw.size()) {
            // The file shrank under us (truncated by its writer); treat as incomplete.
            return incomplete("the file ends inside the block");
        }
        if (std::memcmp(m.raw.data() + bytes, m.sync.data(), m.sync.size()) != 0) {
            damaged("sync marker mismatch at offset " + std::to_string(data_at + static_cast<uint64_t>(bytes)));
            continue;
        }
        // From here the block's extent is trusted (its sync marker matched): damage inside it
        // is skipped by moving straight to its end.
        const std::string_view payload(m.raw.data(), static_cast<size_t>(bytes));
        std::string_view data;
        Status st;
        switch (m.codec) {
            case Codec::null_codec: data = payload; break;
            case Codec::deflate: st = deflate_decompress(payload, m.data, max_block); break;
            case Codec::snappy: st = snappy_decompress(payload, m.data, max_block); break;
            case Codec::zstandard:
                st = m.zstd ? zstd_decompress(m.zstd.get(), payload, m.data, max_block)
                            : Status::error("zstandard: cannot create context");
                break;
        }
        if (!st) {
            m.problem("damaged block at offset " + std::to_string(start) + ": " + st.message() + "; skipped " +
                      std::to_string(block_end - start) + " bytes");
            m.pos = block_end;
            continue;
        }
        if (m.codec != Codec::null_codec) data = m.data;
        // As for array counts (validator.cpp): a datum takes at least one byte, even one of
        // a zero-size type such as null, so that a few bytes cannot claim 2^60 datums and
        // make every reader (avro cat, the pivot) loop.
        if (static_cast<uint64_t>(count) > data.size()) {
            m.problem("damaged block at offset " + std::to_string(start) + ": " + std::to_string(count) +
                      " datums in " + std::to_string(data.size()) + " bytes; skipped " +
                      std::to_string(block_end - start) + " bytes");
            m.pos = block_end;
            continue;
        }
        if (m.validator) {
            const auto* p = reinterpret_cast<const uint8_t*>(data.data());
            const auto* e = p + data.size();
            std::string why;
            for (int64_t i = 0; i < count; ++i) {
                ValidateResult r = m.validator->validate(p, static_cast<size_t>(e - p));
                if (!r.ok()) {
                    why = "datum " + std::to_string(i) + " of " + std::to_string(count) + ": " +
                          std::string(decode_error_name(r.error)) + " at byte " +
                          std::to_string(static_cast<size_t>(p - reinterpret_cast<const uint8_t*>(data.data())) + r.error_offset) +
                          " of the block's data";
                    break;
                }
                if (r.consumed == 0) break;  // a zero-size schema (null): every datum is empty
                p += r.consumed;
            }
            if (why.empty() && p != e) {
                why = std::to_string(e - p) + " bytes left over after its " + std::to_string(count) + " datums";
            }
            if (!why.empty()) {
                m.problem("damaged block at offset " + std::to_string(start) + ": " + why + "; skipped " +
                          std::to_string(block_end - start) + " bytes");
                m.pos = block_end;
                continue;
            }
        }
        out.count = static_cast<uint64_t>(count);
        out.data = data;
        out.file_offset = start;
        m.pos = block_end;
        return true;
    }
}

}  // namespace speeddata::avro
