// Shared by the fuzz targets (tests/fuzz/*.cpp): the entry point's declaration and a check
// that stops the run. A failed check aborts, which libFuzzer reports as a crash with the
// input saved, and which fails the CTest replay of the corpus (replay_main.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* what, const std::string& detail) {
    std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    if (!detail.empty()) std::fprintf(stderr, "  %s\n", detail.c_str());
    std::abort();
}

inline std::string_view text_of(const uint8_t* data, size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// The repository's root (a compile definition), for the fixed schemas and config files.
inline std::string source_path(const char* rel) { return std::string(SPEEDDATA_SOURCE_DIR) + "/" + rel; }

}  // namespace fuzz

// CHECK(cond) or CHECK(cond, detail): detail is any std::string expression, evaluated only
// when the check fails.
#define FUZZ_CHECK(cond, ...)                                                               \
    do {                                                                                    \
        if (!(cond)) ::fuzz::fail(__FILE__, __LINE__, #cond, std::string{__VA_ARGS__}); \
    } while (0)
