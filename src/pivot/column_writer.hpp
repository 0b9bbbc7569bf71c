// A channel's columns into HDF5: creates the group and its extendable, chunked datasets (the
// filters of pivot.yaml hdf5.*, the attributes of docs/pivot.md) and writes each chunk of
// buffered rows. Scalar columns are written as whole chunks encoded on the export's encoders
// (H5Dwrite_chunk); strings, bytes and JSON through varlen_columns.hpp; fixed and arrays with
// H5Dwrite. write() and write_pending() run on the export's writer thread; the rest on the
// decoding thread while the writer is idle (HDF5 calls never overlap).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.hpp"
#include "pivot/chunk_codec.hpp"
#include "pivot/column.hpp"
#include "pivot/columns.hpp"
#include "pivot/export_threads.hpp"
#include "pivot/varlen_columns.hpp"

namespace speeddata::pivot {

class ColumnWriter {
public:
    ColumnWriter(const Hdf5Options& options, ExportThreads& threads) : options_(options), threads_(threads) {}

    Status open_group(hid_t file, const std::string& group_name);
    hid_t group() const { return group_.get(); }

    bool created() const { return created_; }
    // Creates the datasets with chunks of chunk_rows rows (arrays wait for their first write,
    // when a width is known).
    Status create(std::vector<Column>& cols, uint64_t chunk_rows);
    // Starts encoding the swapped-out chunks (wdata) of `rows` rows of the filtered scalar
    // columns on the encoders.
    void encode_slots(std::vector<Column>& cols, uint64_t rows);
    // Writes the swapped-out buffers (c.w*) of `rows` rows at row `at`, after what the
    // previous write left pending; the variable-length columns go first, while the encoders
    // finish the scalar ones.
    Status write(std::vector<Column>& cols, uint64_t at, uint64_t rows);
    // Writes what the last write left encoding (variable-length references); call at the end.
    Status write_pending(std::vector<Column>& cols);

    // A column's dataset filters: declared by create and applied by encode_chunk to the
    // chunks written directly, so the two can never disagree.
    ChunkFilters filters_of(const Column& c) const {
        return {.shuffle = options_.shuffle && c.elem > 1, .deflate = options_.gzip, .level = options_.gzip_level};
    }

private:
    Status create_dataset(const Column& c, int rank, uint64_t width, hid_t file_type, h5::H5Id& out,
                          const std::string& name);
    Status create_column(Column& c, uint64_t width);
    Status write_slot(Column& c);
    Status write_array(Column& c);
    hid_t slot_mem_type(const Column& c) const;

    const Hdf5Options options_;
    ExportThreads& threads_;
    h5::H5Id group_;
    h5::H5Id str_type_, bool_type_, bytes_type_;
    uint64_t chunk_rows_ = 0;
    bool created_ = false;
    uint64_t at_ = 0, rows_ = 0;  // the chunk being written: first row, row count
    std::vector<uint8_t> dense_;  // arrays: rows padded to the width (writer thread)
    VarlenColumns varlen_;
};

// Writes n rows from buf (memory type mt) at row `at` of a 1-D or 2-D dataset.
Status write_rows(hid_t dset, hid_t mt, const void* buf, uint64_t at, uint64_t n, uint64_t width, int rank,
                  const std::string& name);

}  // namespace speeddata::pivot
