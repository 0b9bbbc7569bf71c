// Fuzz target: the container-file reader (src/core/avro/container.*). The input is a whole
// file (header, schema, codec, blocks), read through a memfd so that no disk is touched.
// The file is opened with the default options (datums validated, blocks up to 256 MiB) and
// every block is read and decoded the way `speeddata avro cat` and the pivot do: count
// datums, each decoded with the file's schema. Damaged blocks are reported and skipped (that
// is fine); a crash, leak, UB, unbounded memory or a hang is not.
// Properties:
//   * every block next_block() returns decodes: its count datums parse and use exactly its
//     bytes (the reader validated them);
//   * bytes after the header that give no block at all are reported in problems();
//   * reading ends: each next_block() call moves forward.
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "fuzz_check.hpp"

using namespace speeddata::avro;

namespace {

// A memfd holding the input, closed on destruction.
class MemFile {
public:
    MemFile(const uint8_t* data, size_t size) : fd_(::memfd_create("fuzz.avro", MFD_CLOEXEC)) {
        FUZZ_CHECK(fd_ >= 0);
        size_t done = 0;
        while (done < size) {
            const ssize_t n = ::write(fd_, data + done, size - done);
            FUZZ_CHECK(n > 0);
            done += static_cast<size_t>(n);
        }
    }
    ~MemFile() { ::close(fd_); }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;
    std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

private:
    int fd_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const MemFile file(data, size);
    auto reader = FileReader::open(file.path());
    if (!reader) {
        FUZZ_CHECK(!reader.message().empty());
        return 0;
    }
    const Schema& schema = reader->schema();
    Block block;
    uint64_t last_offset = 0;
    bool first = true;
    for (;;) {
        auto more = reader->next_block(block);
        FUZZ_CHECK(more.ok(), more.message());  // only I/O errors fail; a memfd has none
        if (!*more) break;
        FUZZ_CHECK(block.file_offset >= reader->header_size());
        FUZZ_CHECK(first || block.file_offset > last_offset);
        FUZZ_CHECK(block.file_offset < size);
        first = false;
        last_offset = block.file_offset;
        const auto* p = reinterpret_cast<const uint8_t*>(block.data.data());
        const auto* end = p + block.data.size();
        for (uint64_t i = 0; i < block.count; ++i) {
            auto v = decode(schema, p, end);
            FUZZ_CHECK(v.ok(), "block at " + std::to_string(block.file_offset) + ", datum " + std::to_string(i) +
                                   " of " + std::to_string(block.count) + ": " + v.message());
        }
        FUZZ_CHECK(p == end, std::to_string(end - p) + " bytes left after the block's datums");
    }
    FUZZ_CHECK(!first || size == reader->header_size() || !reader->problems().empty());
    return 0;
}
