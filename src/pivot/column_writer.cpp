#include "pivot/column_writer.hpp"

#include <algorithm>
#include <cstring>

namespace speeddata::pivot {

using avro::Type;

namespace {

hid_t mem_type_of(Type t) {
    switch (t) {
        case Type::int_type: return H5T_NATIVE_INT32;
        case Type::long_type: return H5T_NATIVE_INT64;
        case Type::float_type: return H5T_NATIVE_FLOAT;
        case Type::double_type: return H5T_NATIVE_DOUBLE;
        default: return H5T_NATIVE_UINT8;
    }
}

hid_t file_type_of(Type t) {
    switch (t) {
        case Type::int_type: return H5T_STD_I32LE;
        case Type::long_type: return H5T_STD_I64LE;
        case Type::float_type: return H5T_IEEE_F32LE;
        case Type::double_type: return H5T_IEEE_F64LE;
        default: return H5T_STD_U8LE;
    }
}

}  // namespace

Status write_rows(hid_t dset, hid_t mt, const void* buf, uint64_t at, uint64_t n, uint64_t width, int rank,
                  const std::string& name) {
    hsize_t total[2] = {at + n, width};
    if (H5Dset_extent(dset, total) < 0) return Status::error("HDF5: cannot extend '" + name + "'");
    if (n == 0) return {};
    h5::H5Id fs(H5Dget_space(dset));
    hsize_t start[2] = {at, 0}, count[2] = {n, width};
    H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, start, nullptr, count, nullptr);
    h5::H5Id ms(H5Screate_simple(rank, count, nullptr));
    if (H5Dwrite(dset, mt, ms.get(), fs.get(), H5P_DEFAULT, buf) < 0)
        return Status::error("HDF5: cannot write '" + name + "' (disk full?)");
    return {};
}

Status ColumnWriter::open_group(hid_t file, const std::string& group_name) {
    group_ = h5::H5Id(H5Gcreate2(file, group_name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    if (!group_.valid()) return Status::error("HDF5: cannot create group '" + group_name + "'");
    str_type_ = h5::vlen_utf8_type();
    bool_type_ = h5::bool_type();
    bytes_type_ = h5::H5Id(H5Tvlen_create(H5T_NATIVE_UINT8));
    return {};
}

Status ColumnWriter::create(std::vector<Column>& cols, uint64_t chunk_rows) {
    chunk_rows_ = chunk_rows;
    for (Column& c : cols) {
        if (c.kind == Kind::array_num) continue;  // made at its first write, when a width is known
        Status st = create_column(c, 0);
        if (!st.ok()) return st;
    }
    created_ = true;
    return {};
}

Status ColumnWriter::create_dataset(const Column& c, int rank, uint64_t width, hid_t file_type, h5::H5Id& out,
                                    const std::string& name) {
    hsize_t dims[2] = {0, width};
    hsize_t maxd[2] = {H5S_UNLIMITED, H5S_UNLIMITED};
    h5::H5Id space(H5Screate_simple(rank, dims, maxd));
    h5::H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
    uint64_t row_bytes = std::max<uint64_t>(1, width) * std::max<size_t>(1, c.elem);
    hsize_t chunk[2] = {chunk_rows_, std::max<uint64_t>(1, width)};
    if (rank == 2) chunk[0] = std::max<uint64_t>(1, std::min<uint64_t>(chunk_rows_, (1u << 20) / row_bytes));
    H5Pset_chunk(dcpl.get(), rank, chunk);
    const ChunkFilters f = filters_of(c);
    if (f.shuffle) H5Pset_shuffle(dcpl.get());
    if (f.deflate) H5Pset_deflate(dcpl.get(), static_cast<unsigned>(f.level));
    out = h5::H5Id(H5Dcreate2(group_.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, dcpl.get(),
                              H5P_DEFAULT));
    if (!out.valid()) return Status::error("HDF5: cannot create dataset '" + name + "'");
    return {};
}

Status ColumnWriter::create_column(Column& c, uint64_t width) {
    Status st;
    switch (c.kind) {
        case Kind::boolean: st = create_dataset(c, 1, 0, bool_type_.get(), c.dset, c.name); break;
        case Kind::i32: case Kind::enum_i32: st = create_dataset(c, 1, 0, H5T_STD_I32LE, c.dset, c.name); break;
        case Kind::i64: st = create_dataset(c, 1, 0, H5T_STD_I64LE, c.dset, c.name); break;
        case Kind::f32: st = create_dataset(c, 1, 0, H5T_IEEE_F32LE, c.dset, c.name); break;
        case Kind::f64: st = create_dataset(c, 1, 0, H5T_IEEE_F64LE, c.dset, c.name); break;
        case Kind::string: case Kind::json: st = create_dataset(c, 1, 0, str_type_.get(), c.dset, c.name); break;
        case Kind::bytes: st = create_dataset(c, 1, 0, bytes_type_.get(), c.dset, c.name); break;
        case Kind::fixed: st = create_dataset(c, 2, c.fixed_size, H5T_STD_U8LE, c.dset, c.name); break;
        case Kind::array_num:
            c.width = width;
            st = create_dataset(c, 2, width, c.item_type == Type::boolean ? bool_type_.get() : file_type_of(c.item_type),
                                c.dset, c.name);
            break;
    }
    if (!st.ok()) return st;
    hid_t d = c.dset.get();
    Status a = h5::set_attr(d, "avro_type", c.avro_type);
    if (a.ok() && !c.symbols.empty()) a = h5::set_attr(d, "symbols", c.symbols);
    if (a.ok() && !c.valid_of.empty()) a = h5::set_attr(d, "valid_of", c.valid_of);
    if (a.ok() && !c.mask_name.empty()) a = h5::set_attr(d, "valid_mask", c.mask_name);
    if (a.ok() && c.name == "time") a = h5::set_attr(d, "unit", "ns since the Unix epoch (UTC)");
    return a;
}

void ColumnWriter::encode_slots(std::vector<Column>& cols, uint64_t rows) {
    for (Column& c : cols) {
        const ChunkFilters f = filters_of(c);
        if (!is_slot(c.kind) || rows == 0 || (!f.shuffle && !f.deflate)) continue;  // unfiltered: as it is
        // (a last, partial chunk is still a whole chunk on disk: the encoder pads it)
        c.enc = threads_.encoders().submit([&c, f, rows, n = chunk_rows_] {
            return encode_chunk(c.wdata.data(), rows, n, c.elem, f, c.wenc);
        });
    }
}

hid_t ColumnWriter::slot_mem_type(const Column& c) const {
    switch (c.kind) {
        case Kind::boolean: return bool_type_.get();
        case Kind::i32: case Kind::enum_i32: return H5T_NATIVE_INT32;
        case Kind::f32: return H5T_NATIVE_FLOAT;
        case Kind::f64: return H5T_NATIVE_DOUBLE;
        default: return H5T_NATIVE_INT64;
    }
}

// A scalar column's swapped-out chunk (encoded on the encoders, or raw when the dataset has
// no filter) as one whole chunk at row at_.
Status ColumnWriter::write_slot(Column& c) {
    hsize_t total = at_ + rows_;
    if (H5Dset_extent(c.dset.get(), &total) < 0) return Status::error("HDF5: cannot extend '" + c.name + "'");
    if (rows_ == 0) return {};
    const void* chunk = c.wdata.data();
    size_t bytes = chunk_rows_ * c.elem;
    if (c.enc.valid()) {
        Status st = c.enc.get();
        if (!st.ok()) return st.with_context("'" + c.name + "'");
        chunk = c.wenc.data();
        bytes = c.wenc.size();
    } else if (rows_ < chunk_rows_) {
        // Unfiltered last chunk: HDF5 pads it.
        return write_rows(c.dset.get(), slot_mem_type(c), c.wdata.data(), at_, rows_, 0, 1, c.name);
    }
    hsize_t offset = at_;
    if (H5Dwrite_chunk(c.dset.get(), H5P_DEFAULT, 0, &offset, bytes, chunk) < 0)
        return Status::error("HDF5: cannot write '" + c.name + "' (disk full?)");
    return {};
}

Status ColumnWriter::write(std::vector<Column>& cols, uint64_t at, uint64_t rows) {
    Status pending = write_pending(cols);
    if (!pending.ok()) return pending;
    at_ = at;
    rows_ = rows;
    for (Column& c : cols) {
        if (is_slot(c.kind)) continue;
        Status st;
        if (c.kind == Kind::fixed) {
            st = write_rows(c.dset.get(), H5T_NATIVE_UINT8, c.wdata.data(), at_, rows_, c.fixed_size, 2, c.name);
        } else if (is_varlen(c.kind)) {
            st = varlen_.write(c, group_.get(), str_type_.get(), bytes_type_.get(), at_, rows_, chunk_rows_,
                               filters_of(c), threads_.encoders());
        } else if (c.kind == Kind::array_num) {
            st = write_array(c);
        }
        if (!st.ok()) return st;
        c.wdata.clear();
        c.wtext.clear();
        c.wends.clear();
    }
    for (Column& c : cols) {
        if (!is_slot(c.kind)) continue;
        Status st = write_slot(c);
        if (!st.ok()) return st;
    }
    return {};
}

Status ColumnWriter::write_pending(std::vector<Column>& cols) {
    for (Column& c : cols) {
        if (is_slot(c.kind)) continue;
        Status st = VarlenColumns::write_pending(c);
        if (!st.ok()) return st;
    }
    return {};
}

// Arrays of numbers: a 2-D dataset as wide as the longest array so far (rows zero-padded),
// and "<name>__length" once lengths vary.
Status ColumnWriter::write_array(Column& c) {
    uint64_t maxlen = 0, b = 0;
    for (uint64_t i = 0; i < rows_; ++i) {
        uint64_t len = c.wends[i] - b;
        b = c.wends[i];
        maxlen = std::max(maxlen, len);
        if (c.first_len < 0) c.first_len = static_cast<int64_t>(len);
        if (static_cast<int64_t>(len) != c.first_len) c.varying = true;
    }
    if (!c.dset.valid()) {
        Status st = create_column(c, maxlen);
        if (!st.ok()) return st;
    }
    uint64_t w = std::max(c.width, maxlen);
    if (w != c.width) c.width = w;
    hid_t mt = c.item_type == Type::boolean ? bool_type_.get() : mem_type_of(c.item_type);
    dense_.assign(rows_ * w * c.elem, 0);
    b = 0;
    for (uint64_t i = 0; i < rows_; ++i) {
        uint64_t len = c.wends[i] - b;
        std::memcpy(dense_.data() + i * w * c.elem, c.wdata.data() + b * c.elem, len * c.elem);
        b = c.wends[i];
    }
    Status st = write_rows(c.dset.get(), mt, dense_.data(), at_, rows_, w, 2, c.name);
    if (!st.ok()) return st;
    if (c.varying) {
        std::string ln = c.name + "__length";
        if (!c.len_dset.valid()) {
            Column tmp;
            tmp.elem = 4;
            st = create_dataset(tmp, 1, 0, H5T_STD_I32LE, c.len_dset, ln);
            if (!st.ok()) return st;
            st = h5::set_attr(c.dset.get(), "length_dataset", ln);
            if (!st.ok()) return st;
            // Rows written before lengths started to vary all had the first length.
            std::vector<int32_t> fill(std::min<uint64_t>(at_, options_.chunk_rows), static_cast<int32_t>(c.first_len));
            for (uint64_t at = 0; at < at_; at += fill.size()) {
                uint64_t n = std::min<uint64_t>(fill.size(), at_ - at);
                st = write_rows(c.len_dset.get(), H5T_NATIVE_INT32, fill.data(), at, n, 0, 1, ln);
                if (!st.ok()) return st;
            }
        }
        std::vector<int32_t> lens(rows_);
        b = 0;
        for (uint64_t i = 0; i < rows_; ++i) {
            lens[i] = static_cast<int32_t>(c.wends[i] - b);
            b = c.wends[i];
        }
        st = write_rows(c.len_dset.get(), H5T_NATIVE_INT32, lens.data(), at_, rows_, 0, 1, ln);
    }
    return st;
}

}  // namespace speeddata::pivot
