#include "pivot/varlen_columns.hpp"

#include "pivot/column_writer.hpp"

namespace speeddata::pivot {

Status VarlenColumns::write(Column& c, hid_t group, hid_t str_type, hid_t bytes_type, uint64_t at,
                            uint64_t rows, uint64_t chunk_rows, const ChunkFilters& filters,
                            ThreadPool& encoders) {
    uint64_t b = 0;
    if (c.kind == Kind::bytes) {
        vls_.resize(rows);
        for (uint64_t i = 0; i < rows; ++i) {
            vls_[i].p = c.wtext.data() + b;
            vls_[i].len = c.wends[i] - b - 1;  // without the NUL we added
            b = c.wends[i];
        }
        return write_scratch(c, group, bytes_type, vls_.data(), at, rows, chunk_rows, filters, encoders);
    }
    ptrs_.resize(rows);
    for (uint64_t i = 0; i < rows; ++i) {
        ptrs_[i] = c.wtext.data() + b;
        b = c.wends[i];
    }
    return write_scratch(c, group, str_type, ptrs_.data(), at, rows, chunk_rows, filters, encoders);
}

Status VarlenColumns::write_scratch(Column& c, hid_t group, hid_t mem_type, const void* buf, uint64_t at,
                                    uint64_t rows, uint64_t chunk_rows, const ChunkFilters& filters,
                                    ThreadPool& encoders) {
    if (!filters.deflate || rows == 0) return write_rows(c.dset.get(), mem_type, buf, at, rows, 0, 1, c.name);
    hsize_t dims = chunk_rows;
    h5::H5Id space(H5Screate_simple(1, &dims, nullptr));
    h5::H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE));
    H5Pset_chunk(dcpl.get(), 1, &dims);
    h5::H5Id dapl(H5Pcreate(H5P_DATASET_ACCESS));
    H5Pset_chunk_cache(dapl.get(), 0, 0, 1.0);  // straight to the file: read back below
    h5::H5Id file_type(H5Dget_type(c.dset.get()));
    h5::H5Id scratch(H5Dcreate_anon(group, file_type.get(), space.get(), dcpl.get(), dapl.get()));
    if (!scratch.valid()) return Status::error("HDF5: cannot create a scratch dataset for '" + c.name + "'");
    hsize_t start = 0, count = rows;
    H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr);
    h5::H5Id ms(H5Screate_simple(1, &count, nullptr));
    if (H5Dwrite(scratch.get(), mem_type, ms.get(), space.get(), H5P_DEFAULT, buf) < 0)
        return Status::error("HDF5: cannot write '" + c.name + "' (disk full?)");
    hsize_t origin = 0, bytes = 0;
    uint32_t mask = 0;
    if (H5Dget_chunk_storage_size(scratch.get(), &origin, &bytes) < 0 || bytes == 0)
        return Status::error("HDF5: cannot size the scratch chunk of '" + c.name + "'");
    c.wrefs.resize(bytes);
    c.refs_at = at;
    c.refs_rows = rows;
    if (H5Dread_chunk(scratch.get(), H5P_DEFAULT, &origin, &mask, c.wrefs.data()) < 0)
        return Status::error("HDF5: cannot read the scratch chunk of '" + c.name + "'");
    c.enc = encoders.submit([&c, f = filters] {  // deflate only: elem is 0
        return encode_chunk(c.wrefs.data(), c.wrefs.size(), c.wrefs.size(), 1, f, c.wenc);
    });
    return {};
}

Status VarlenColumns::write_pending(Column& c) {
    if (!c.enc.valid()) return {};
    Status st = c.enc.get();
    if (!st.ok()) return st.with_context("'" + c.name + "'");
    hsize_t total = c.refs_at + c.refs_rows, offset = c.refs_at;
    if (H5Dset_extent(c.dset.get(), &total) < 0) return Status::error("HDF5: cannot extend '" + c.name + "'");
    if (H5Dwrite_chunk(c.dset.get(), H5P_DEFAULT, 0, &offset, c.wenc.size(), c.wenc.data()) < 0)
        return Status::error("HDF5: cannot write '" + c.name + "' (disk full?)");
    return {};
}

}  // namespace speeddata::pivot
