// One HDF5 dataset of a channel's export: what the column plan made of the schema (name,
// kind, attributes), the rows the decoder buffers for it (two sets: one being filled, one
// being written) and its dataset state (the writer's). Internal to src/pivot.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "core/avro/schema.hpp"
#include "core/status.hpp"
#include "pivot/hdf5.hpp"

namespace speeddata::pivot {

// A byte buffer whose resize() leaves new bytes uninitialised: a column's whole-chunk buffers
// cost memory only for the rows actually written (a small export of many columns stays small).
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
    template <typename U>
    struct rebind {
        using other = DefaultInitAllocator<U>;
    };
    DefaultInitAllocator() = default;
    template <typename U>
    DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
    template <typename U>
    void construct(U* p) noexcept {
        ::new (static_cast<void*>(p)) U;
    }
    template <typename U, typename... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
};
using Bytes = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

enum class Kind : uint8_t { i32, i64, f32, f64, boolean, string, bytes, fixed, enum_i32, array_num, json };

// Scalar columns (numbers, booleans, enums, masks): one element per row, stored at
// data[row * elem] in buffers sized for a whole chunk, and written as whole chunks encoded on
// the export's encoders (H5Dwrite_chunk). The other kinds go through H5Dwrite.
inline bool is_slot(Kind k) {
    switch (k) {
        case Kind::boolean: case Kind::i32: case Kind::i64: case Kind::f32: case Kind::f64: case Kind::enum_i32:
            return true;
        default: return false;
    }
}

// Strings, bytes and Avro JSON: one heap object per row (varlen_columns.hpp).
inline bool is_varlen(Kind k) { return k == Kind::string || k == Kind::bytes || k == Kind::json; }

struct Column {
    // From the plan (column_plan.hpp)
    std::string name;
    Kind kind = Kind::i64;
    std::string avro_type;             // attribute: what the values were in Avro
    std::vector<std::string> symbols;  // enum
    std::string valid_of;              // mask columns: the values dataset they qualify
    std::string mask_name;             // nullable values: their mask dataset
    avro::Type item_type = avro::Type::double_type;  // array_num
    size_t elem = 0;                   // bytes per element (fixed-size kinds, array items)
    uint64_t fixed_size = 0;           // fixed
    // Buffers of the rows not yet written (bounded by chunk_rows), filled by the decoder.
    Bytes data;                        // scalar values (slot); fixed values; array items
    std::string text;                  // string/bytes/json payloads, each NUL-terminated
    std::vector<uint64_t> ends;        // per row: end offset in text (bytes) / in data (array items)
    // The previous chunk's buffers, being written by the writer thread.
    Bytes wdata;
    std::string wtext;
    std::vector<uint64_t> wends;
    std::vector<uint8_t> wrefs;        // variable-length columns: the chunk of heap references
    uint64_t refs_at = 0, refs_rows = 0;  // ... its first row and row count
    std::vector<uint8_t> wenc;         // the encoded chunk of wdata (slot) or wrefs
    std::future<Status> enc;           // ... being encoded on the export's encoders
    // HDF5 state (column_writer.hpp)
    h5::H5Id dset;
    h5::H5Id len_dset;                 // arrays of varying length: "<name>__length"
    uint64_t width = 0;                // 2-D datasets: current second dimension
    int64_t first_len = -1;            // arrays: the first row's length
    bool varying = false;
};

}  // namespace speeddata::pivot
