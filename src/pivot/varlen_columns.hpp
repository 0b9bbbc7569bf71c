// The write path of variable-length columns (strings, bytes, Avro JSON). HDF5 puts each value
// in the file's global heap and a 16-byte reference to it in the chunk; with compression, it
// also deflates the chunk of references on the one HDF5 thread, which costs as much as the
// heap itself. So with compression the values go to the heap through an unfiltered scratch
// dataset: anonymous (never linked into the file) with a single chunk, written without the
// chunk cache. Its raw chunk of references is read back, encoded on the export's encoders
// like a scalar chunk, and written into the real dataset with H5Dwrite_chunk by the next
// write (write_pending), so that nobody waits for the encoding. Closing the scratch dataset
// frees its chunk for the next one; the heap objects stay (HDF5 never frees heap objects when
// it deletes a dataset), so the references stay valid. tests/unit/pivot checks that read-back.
#pragma once

#include <cstdint>
#include <vector>

#include "core/status.hpp"
#include "core/thread_pool.hpp"
#include "pivot/chunk_codec.hpp"
#include "pivot/column.hpp"

namespace speeddata::pivot {

class VarlenColumns {
public:
    // Writes the swapped-out rows of c (c.wtext, c.wends: `rows` rows at row `at`) with memory
    // type str_type (string, json) or bytes_type (bytes). filters: the dataset's; with
    // deflate, the values go through a scratch dataset of one chunk of chunk_rows rows in
    // group, and the chunk of references is left encoding on `encoders` for write_pending.
    Status write(Column& c, hid_t group, hid_t str_type, hid_t bytes_type, uint64_t at, uint64_t rows,
                 uint64_t chunk_rows, const ChunkFilters& filters, ThreadPool& encoders);

    // Writes the encoded chunk of references that write left behind for c, if any.
    static Status write_pending(Column& c);

private:
    Status write_scratch(Column& c, hid_t group, hid_t mem_type, const void* buf, uint64_t at, uint64_t rows,
                         uint64_t chunk_rows, const ChunkFilters& filters, ThreadPool& encoders);

    std::vector<const char*> ptrs_;  // scratch of the writer thread
    std::vector<hvl_t> vls_;
};

}  // namespace speeddata::pivot
