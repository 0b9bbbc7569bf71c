// HDF5's shuffle + deflate filter pipeline, done outside HDF5: the pivot encodes each full
// chunk of a fixed-size column on one of the export's encoders (export_threads.hpp) (libdeflate, several times faster than
// zlib, and several chunks at once) and hands the encoded bytes to H5Dwrite_chunk. The bytes
// are exactly what the dataset's filter pipeline (H5Pset_shuffle, H5Pset_deflate) decodes,
// so any HDF5 reader (h5py, h5dump, MATLAB) reads them as ordinary gzip+shuffle chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/status.hpp"

namespace speeddata::pivot {

// HDF5's shuffle filter layout: byte k of element i goes to out[k * n + i].
void shuffle_bytes(const uint8_t* in, uint8_t* out, size_t n, size_t elem);
void unshuffle_bytes(const uint8_t* in, uint8_t* out, size_t n, size_t elem);

struct ChunkFilters {
    bool shuffle = false;  // the dataset has the shuffle filter (only when elem > 1)
    bool deflate = false;  // the dataset has the deflate filter
    int level = 4;         // deflate level 0..9
};

// Encodes one chunk of n elements of elem bytes as the dataset's filters would: shuffle,
// then a zlib stream (RFC 1950, as HDF5's deflate filter writes). Only the first `rows`
// elements are read from `in`; the rest of the chunk (a last, partial chunk) is zeros.
// out gets exactly the encoded bytes (with no filter: the chunk itself). The staging
// buffers are per thread, so memory stays at one chunk per encoding thread.
Status encode_chunk(const uint8_t* in, size_t rows, size_t n, size_t elem, const ChunkFilters& filters,
                    std::vector<uint8_t>& out);

}  // namespace speeddata::pivot
