// Avro records -> HDF5 columns: one channel's schema compiled into a decoding plan that
// appends each datum's fields to per-signal column buffers, flushed chunk by chunk into
// extendable HDF5 datasets (so memory stays bounded by chunk_rows whatever the range).
// Parts: column_plan.* (schema -> columns and decode steps), columns.cpp (decoding, the chunk
// pipeline), column_writer.* (HDF5 datasets), varlen_columns.* (strings, bytes, JSON),
// chunk_codec.* (filters outside HDF5), export_threads.hpp (the threads).
//
// Type mapping (docs/pivot.md, "Type mapping"):
//   boolean                 -> 1-D bool (h5py's 8-bit enum FALSE/TRUE)
//   int, long, float, double-> 1-D int32, int64, float32, float64 (little-endian)
//   string                  -> 1-D variable-length UTF-8 string
//   bytes                   -> 1-D variable-length sequence of uint8
//   enum                    -> 1-D int32 symbol index; attribute "symbols" = the symbol table
//   fixed(n)                -> 2-D uint8 [rows, n]
//   array of numbers/bools  -> 2-D [rows, width]; width = longest array seen; when lengths
//                              vary, shorter rows are zero-padded and "<name>__length" (int32)
//                              holds each row's length
//   record                  -> flattened: one dataset per leaf, "<field>.<subfield>"
//   union [null, T]         -> T's dataset(s) (zero/empty where null) + "<name>__valid" (bool)
//   other unions, maps, arrays of non-numbers -> 1-D UTF-8 strings holding the Avro JSON
//                              encoding of the value (attribute avro_type = "json")
//   null                    -> no dataset
// The channel's time field becomes the dataset "time": int64 ns since the Unix epoch.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/avro/schema.hpp"
#include "core/status.hpp"
#include "core/time.hpp"
#include "pivot/hdf5.hpp"

namespace speeddata::pivot {

class ExportThreads;

// Dataset layout options (pivot.yaml hdf5.*).
struct Hdf5Options {
    bool gzip = true;          // hdf5.compression gzip (else none)
    int gzip_level = 1;        // hdf5.compression_level 0..9
    bool shuffle = true;       // hdf5.shuffle
    uint64_t chunk_rows = 65536;  // hdf5.chunk_rows: rows per chunk and per write
    unsigned threads = 0;      // hdf5.threads: chunk-encoding threads of an export (0 = per core)
};

// Separator between a record field and its sub-fields in dataset names.
inline constexpr char field_separator = '.';

class ChannelColumns {
public:
    // Compiles schema (a record) for one channel. time_field: the abscissa's top-level field
    // name; its values are converted to ns with time_unit (unknown: inferred per value).
    // signals: top-level field names to keep (empty = all); the time field is always kept.
    // Errors name the missing signal or the unusable time field. threads: the export's
    // encoders and writer thread (export_threads.hpp), which must outlive the columns;
    // nullptr: the columns start their own, of options.threads encoders.
    static Result<std::unique_ptr<ChannelColumns>> create(const avro::Schema& schema,
                                                          const std::string& time_field,
                                                          TimeUnit time_unit,
                                                          const std::vector<std::string>& signals,
                                                          const Hdf5Options& options,
                                                          ExportThreads* threads = nullptr);
    ~ChannelColumns();

    // Reads the time stamp (ns) of the datum at p without decoding the rest; false when
    // the datum is malformed.
    bool peek_time(const uint8_t* p, const uint8_t* end, int64_t& time_ns) const;
    // Skips one datum; nullptr when malformed.
    const uint8_t* skip(const uint8_t* p, const uint8_t* end) const;
    // Decodes one datum into the column buffers (one row); returns the position after it,
    // or nullptr when malformed (the partial row is rolled back). Flushes a full chunk to
    // the datasets, so the group must have been opened (open_group) before.
    const uint8_t* append(const uint8_t* p, const uint8_t* end, Status& io_status);

    // Creates the channel's group and datasets in file.
    Status open_group(hid_t file, const std::string& group_name);
    // Writes the buffered rows; call once at the end.
    Status finish();
    hid_t group() const;
    uint64_t rows() const;
    int64_t first_time_ns() const;
    int64_t last_time_ns() const;
    // Dataset names in creation order (for tests and logs).
    std::vector<std::string> dataset_names() const;

    struct Impl;

private:
    explicit ChannelColumns(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace speeddata::pivot
