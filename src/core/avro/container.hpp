// Avro Object Container Files: block encoding for writers, a reader that survives damage.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/avro/schema.hpp"
#include "core/status.hpp"

namespace speeddata::avro {

enum class Codec : uint8_t { null_codec, deflate, snappy, zstandard };
// "null", "deflate", "snappy", "zstandard" (also accepts "zstd").
Result<Codec> parse_codec(std::string_view name);
std::string_view codec_name(Codec c);  // the spec's name, e.g. "zstandard"

using SyncMarker = std::array<uint8_t, 16>;

struct BlockEncoderOptions {
    Codec codec = Codec::null_codec;
    // Codec level; -1 picks the library default (deflate 6, zstandard 3). Ignored by null/snappy.
    int level = -1;
    // Extra file metadata (the "avro.*" keys are set by the encoder).
    std::map<std::string, std::string> metadata;
};

// Produces the bytes of a container file; the caller does the I/O, so it controls what
// happens on a write error (the relay truncates back to the last good block).
class BlockEncoder {
public:
    // A fresh random sync marker is drawn for each encoder (one per file).
    BlockEncoder(const Schema& schema, BlockEncoderOptions options);
    ~BlockEncoder();
    BlockEncoder(BlockEncoder&&) noexcept;
    BlockEncoder& operator=(BlockEncoder&&) noexcept;

    // File header: magic, metadata map (avro.schema, avro.codec, extras), sync marker.
    std::string header() const;
    const SyncMarker& sync() const;

    // Encodes one block holding `count` datums whose binary encodings are concatenated in
    // `datums`, into `out` (replaced): count, byte size, (compressed) data, sync marker.
    Status encode_block(std::span<const uint8_t> datums, uint64_t count, std::string& out);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Convenience writer for tools and tests: buffers datums and writes blocks of about
// block_bytes uncompressed bytes.
class FileWriter {
public:
    static Result<FileWriter> create(const std::filesystem::path& path, const Schema& schema,
                                     BlockEncoderOptions options, size_t block_bytes = 64 * 1024);
    ~FileWriter();
    FileWriter(FileWriter&&) noexcept;
    FileWriter& operator=(FileWriter&&) noexcept;

    Status append(std::span<const uint8_t> datum);  // one binary-encoded datum
    Status flush();                                  // writes the pending block, if any
    Status close();                                  // flush + close; idempotent

private:
    FileWriter();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct Block {
    uint64_t count = 0;          // datums in the block
    std::string_view data;       // decompressed datums, valid until the next next_block()
    uint64_t file_offset = 0;    // offset of the block's count varint in the file
};

// The sync marker that ends every block of the earlier (v0.6) relay's cache files. Those
// files have no container header: from byte 0 they are blocks of one datum each (count 1,
// byte size, the datagram as received, this marker), null codec; docs/upgrading.md.
inline constexpr SyncMarker headerless_sync = {0xa4, 0x8a, 0x1e, 0x90, 0x05, 0x04, 0x24, 0x78,
                                               0x0a, 0x68, 0x33, 0x7f, 0xc2, 0x50, 0x95, 0x63};

// Knobs for FileReader (an addition; open(path) uses the defaults).
struct FileReaderOptions {
    // Check every datum of every block with the schema's Validator; a block whose datums do
    // not parse is reported and skipped like any other damage. Default on: otherwise a
    // corrupt null-codec block would only be noticed by whoever decodes it.
    bool validate_datums = true;
    // Largest block accepted, compressed or not, in bytes (default 256 MiB). A bigger
    // declared size is treated as damage, which keeps memory bounded.
    uint64_t max_block_bytes = 256ULL << 20;
    // The schema of a file without a container header (the earlier relay's cache files, see
    // headerless_sync). Used only when the file does not start with the Avro magic: it is
    // then read as blocks from byte 0, null codec, ending in headerless_sync, with damage
    // skipped as in any file. A file with a header is read with its own schema regardless.
    std::optional<Schema> headerless_schema;
};

// Reads a container file block by block. A damaged block (bad sync marker, corrupt
// compressed data, impossible sizes) is reported in problems() and skipped by scanning for
// the next sync marker; a block cut off at the end of the file (a crash while writing, or a
// file still being written) ends the iteration and is reported.
class FileReader {
public:
    static Result<FileReader> open(const std::filesystem::path& path);
    static Result<FileReader> open(const std::filesystem::path& path, const FileReaderOptions& options);
    ~FileReader();
    FileReader(FileReader&&) noexcept;
    FileReader& operator=(FileReader&&) noexcept;

    const Schema& schema() const;
    Codec codec() const;
    const std::map<std::string, std::string>& metadata() const;
    const SyncMarker& sync() const;
    uint64_t header_size() const;  // offset of the first block (0 for a headerless file)
    // True for a file read without a container header (FileReaderOptions::headerless_schema);
    // its metadata() is then empty.
    bool headerless() const;

    // Positions the reader at a block start (an offset returned in Block::file_offset).
    Status seek(uint64_t file_offset);
    // Fills out with the next good block; returns false at the end of the file. On a file
    // that another process is appending to, false means "no complete block yet": calling
    // again later continues from the same place and picks up blocks written since.
    Result<bool> next_block(Block& out);
    // Human-readable reports of skipped damage and truncation, with offsets.
    const std::vector<std::string>& problems() const;

private:
    FileReader();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace speeddata::avro
