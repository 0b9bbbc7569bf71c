#include "pivot/chunk_codec.hpp"

#include <libdeflate.h>

#include <array>
#include <cstring>
#include <memory>

namespace speeddata::pivot {

void shuffle_bytes(const uint8_t* in, uint8_t* out, size_t n, size_t elem) {
    // One output plane at a time: sequential writes, strided reads (about twice as fast as
    // scattering each element's bytes).
    for (size_t k = 0; k < elem; ++k) {
        uint8_t* o = out + k * n;
        const uint8_t* p = in + k;
        for (size_t i = 0; i < n; ++i) o[i] = p[i * elem];
    }
}

void unshuffle_bytes(const uint8_t* in, uint8_t* out, size_t n, size_t elem) {
    for (size_t k = 0; k < elem; ++k) {
        const uint8_t* p = in + k * n;
        uint8_t* o = out + k;
        for (size_t i = 0; i < n; ++i) o[i * elem] = p[i];
    }
}

namespace {

struct CompressorDeleter {
    void operator()(libdeflate_compressor* c) const { libdeflate_free_compressor(c); }
};

// One compressor per level and thread (a libdeflate compressor is not thread-safe, and
// allocating one costs more than compressing a small chunk).
libdeflate_compressor* compressor(int level) {
    thread_local std::array<std::unique_ptr<libdeflate_compressor, CompressorDeleter>, 10> per_level;
    if (level < 0 || level > 9) return nullptr;
    auto& c = per_level[static_cast<size_t>(level)];
    if (!c) c.reset(libdeflate_alloc_compressor(level));
    return c.get();
}

}  // namespace

Status encode_chunk(const uint8_t* in, size_t rows, size_t n, size_t elem, const ChunkFilters& filters,
                    std::vector<uint8_t>& out) {
    if (rows > n) return Status::error("chunk: " + std::to_string(rows) + " rows in a chunk of " + std::to_string(n));
    const size_t bytes = n * elem;
    thread_local std::vector<uint8_t> staged;  // the chunk as the deflate step sees it
    const uint8_t* src = in;
    if (filters.shuffle && elem > 1 && n > 1) {
        staged.resize(bytes);
        shuffle_bytes(in, staged.data(), rows, elem);  // planes of `rows` bytes...
        if (rows < n) {
            // ...spread to planes of n bytes, from the last plane down (no overlap), zero-padded.
            for (size_t k = elem; k-- > 0;) {
                std::memmove(staged.data() + k * n, staged.data() + k * rows, rows);
                std::memset(staged.data() + k * n + rows, 0, n - rows);
            }
        }
        src = staged.data();
    } else if (rows < n) {
        staged.resize(bytes);
        std::memcpy(staged.data(), in, rows * elem);
        std::memset(staged.data() + rows * elem, 0, bytes - rows * elem);
        src = staged.data();
    }
    if (!filters.deflate) {
        out.assign(src, src + bytes);
        return {};
    }
    libdeflate_compressor* c = compressor(filters.level);
    if (!c) return Status::error("deflate: cannot make a compressor of level " + std::to_string(filters.level));
    thread_local std::vector<uint8_t> packed;
    packed.resize(libdeflate_zlib_compress_bound(c, bytes));
    size_t size = libdeflate_zlib_compress(c, src, bytes, packed.data(), packed.size());
    if (size == 0) return Status::error("deflate: compression failed");
    out.assign(packed.data(), packed.data() + size);
    return {};
}

}  // namespace speeddata::pivot
