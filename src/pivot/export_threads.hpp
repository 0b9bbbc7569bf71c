// The threads of one export, owned by it (as the relay's CacheWriter owns its writer thread):
// a pool that encodes chunks (hdf5.threads workers, chunk_codec.hpp) and the one thread that
// writes them and the other columns through HDF5 (column_writer.hpp), so decoding, encoding
// and HDF5 writing overlap. Made at the start of an export with that export's hdf5.threads
// and joined at its end: two exports never share or resize each other's pool, and no thread
// outlives its export.
#pragma once

#include "core/thread_pool.hpp"

namespace speeddata::pivot {

class ExportThreads {
public:
    // encoders: chunk-encoding threads (0 = one per hardware thread).
    explicit ExportThreads(unsigned encoders) : encoders_(encoders) {}
    ExportThreads(const ExportThreads&) = delete;
    ExportThreads& operator=(const ExportThreads&) = delete;

    ThreadPool& encoders() { return encoders_; }
    // One thread: HDF5 calls of a file stay in order, one at a time.
    ThreadPool& writer() { return writer_; }
    unsigned encoder_count() const { return encoders_.size(); }

private:
    // Declared in this order so the writer (whose tasks wait for encoded chunks) is joined
    // before the encoders.
    ThreadPool encoders_;
    ThreadPool writer_{1};
};

}  // namespace speeddata::pivot
