// A small RAII layer over the HDF5 C API: every hid_t is owned by exactly one H5Id, closed
// with the right H5*close when it goes out of scope. Errors come back as Status, never as
// HDF5's printed error stack (turned off once by quiet_errors()).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace speeddata::h5 {

// Owns one HDF5 identifier of any kind; closes it with H5Oclose/H5Fclose/... as its type says.
class H5Id {
public:
    H5Id() = default;
    explicit H5Id(hid_t id) : id_(id) {}
    ~H5Id() { reset(); }
    H5Id(const H5Id&) = delete;
    H5Id& operator=(const H5Id&) = delete;
    H5Id(H5Id&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)) {}
    H5Id& operator=(H5Id&& o) noexcept {
        if (this != &o) {
            reset();
            id_ = std::exchange(o.id_, H5I_INVALID_HID);
        }
        return *this;
    }
    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }
    // Closes the identifier now; returns false when HDF5 reported an error while closing
    // (for a file: the final flush failed).
    bool reset() {
        if (id_ < 0) return true;
        herr_t r = 0;
        switch (H5Iget_type(id_)) {
            case H5I_FILE: r = H5Fclose(id_); break;
            case H5I_GROUP: r = H5Gclose(id_); break;
            case H5I_DATASET: r = H5Dclose(id_); break;
            case H5I_DATASPACE: r = H5Sclose(id_); break;
            case H5I_DATATYPE: r = H5Tclose(id_); break;
            case H5I_ATTR: r = H5Aclose(id_); break;
            case H5I_GENPROP_LST: r = H5Pclose(id_); break;
            default: r = H5Idec_ref(id_); break;
        }
        id_ = H5I_INVALID_HID;
        return r >= 0;
    }

private:
    hid_t id_ = H5I_INVALID_HID;
};

// Turns off HDF5's automatic printing of error stacks (we report our own messages).
inline void quiet_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Variable-length UTF-8 string type.
inline H5Id vlen_utf8_type() {
    H5Id t(H5Tcopy(H5T_C_S1));
    H5Tset_size(t.get(), H5T_VARIABLE);
    H5Tset_cset(t.get(), H5T_CSET_UTF8);
    return t;
}

// h5py's boolean: an 8-bit enum {FALSE = 0, TRUE = 1} (numpy bool on reading).
inline H5Id bool_type() {
    H5Id t(H5Tenum_create(H5T_NATIVE_INT8));
    int8_t v = 0;
    H5Tenum_insert(t.get(), "FALSE", &v);
    v = 1;
    H5Tenum_insert(t.get(), "TRUE", &v);
    return t;
}

// Writes a scalar string attribute (variable-length UTF-8).
inline Status set_attr(hid_t obj, const char* name, std::string_view value) {
    H5Id type = vlen_utf8_type();
    H5Id space(H5Screate(H5S_SCALAR));
    H5Id attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    if (!attr.valid()) return Status::error(std::string("HDF5: cannot create attribute ") + name);
    std::string s(value);
    const char* p = s.c_str();
    if (H5Awrite(attr.get(), type.get(), &p) < 0)
        return Status::error(std::string("HDF5: cannot write attribute ") + name);
    return {};
}

// Writes a scalar int64 attribute.
inline Status set_attr(hid_t obj, const char* name, int64_t value) {
    H5Id space(H5Screate(H5S_SCALAR));
    H5Id attr(H5Acreate2(obj, name, H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT));
    if (!attr.valid() || H5Awrite(attr.get(), H5T_NATIVE_INT64, &value) < 0)
        return Status::error(std::string("HDF5: cannot write attribute ") + name);
    return {};
}

// Writes a 1-D attribute of variable-length UTF-8 strings (e.g. an enum's symbol table).
inline Status set_attr(hid_t obj, const char* name, const std::vector<std::string>& values) {
    H5Id type = vlen_utf8_type();
    hsize_t n = values.size();
    H5Id space(H5Screate_simple(1, &n, nullptr));
    H5Id attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    if (!attr.valid()) return Status::error(std::string("HDF5: cannot create attribute ") + name);
    std::vector<const char*> ptrs;
    ptrs.reserve(values.size());
    for (const auto& v : values) ptrs.push_back(v.c_str());
    if (!values.empty() && H5Awrite(attr.get(), type.get(), ptrs.data()) < 0)
        return Status::error(std::string("HDF5: cannot write attribute ") + name);
    return {};
}

}  // namespace speeddata::h5
