// `speeddata avro cat|write|info`: read and write Avro container files from the command line.
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/avro/schema.hpp"
#include "core/text.hpp"

namespace speeddata::cli {

namespace {

using nlohmann::json;

std::string hex(const uint8_t* p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (size_t i = 0; i < n; ++i) {
        s.push_back(digits[p[i] >> 4]);
        s.push_back(digits[p[i] & 15]);
    }
    return s;
}

// Prints problems[from..] to stderr as "speeddata avro <cmd>: <path>: <problem>".
void report(const std::string& cmd, const std::string& path, const std::vector<std::string>& problems, size_t& from) {
    for (; from < problems.size(); ++from) {
        std::cerr << "speeddata avro " << cmd << ": " << path << ": " << problems[from] << "\n";
    }
}

// Reader options: the schema for files without a container header (the earlier relay's).
avro::FileReaderOptions reader_options(const std::string& cmd, const std::string& schema_path) {
    avro::FileReaderOptions o;
    if (!schema_path.empty()) {
        auto s = avro::Schema::load(schema_path);
        if (!s) fail(cmd, "--schema: " + s.message(), 2);
        o.headerless_schema = std::move(*s);
    }
    return o;
}

// Prints every record of the file as a JSON line; returns false when anything was wrong.
bool cat_file(const std::string& path, const avro::FileReaderOptions& options) {
    auto reader = avro::FileReader::open(path, options);
    if (!reader) {
        std::cerr << "speeddata avro cat: " << reader.message() << "\n";
        return false;
    }
    const avro::Schema& schema = reader->schema();
    bool ok = true;
    size_t reported = 0;
    std::string out;
    avro::Block block;
    for (;;) {
        auto more = reader->next_block(block);
        if (!more) {
            std::cerr << "speeddata avro cat: " << more.message() << "\n";
            ok = false;
            break;
        }
        if (!*more) break;
        const auto* p = reinterpret_cast<const uint8_t*>(block.data.data());
        const auto* end = p + block.data.size();
        for (uint64_t i = 0; i < block.count; ++i) {
            auto v = avro::decode(schema, p, end);
            if (!v) {
                std::cerr << "speeddata avro cat: " << path << ": block at offset " << block.file_offset << ", datum " << i
                          << ": " << v.message() << "\n";
                ok = false;
                break;
            }
            avro::append_json(schema, *v, out);
            out.push_back('\n');
            if (out.size() > (1 << 16)) {
                std::fwrite(out.data(), 1, out.size(), stdout);
                out.clear();
            }
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        out.clear();
        if (reader->problems().size() > reported) {
            std::fflush(stdout);  // keep stdout and stderr in file order when both are a terminal
            report("cat", path, reader->problems(), reported);
            ok = false;
        }
    }
    std::fflush(stdout);
    if (reader->problems().size() > reported) {
        report("cat", path, reader->problems(), reported);
        ok = false;
    }
    return ok;
}

struct WriteOptions {
    std::string schema_path;
    std::string codec = "null";
    int level = -1;
    size_t block_bytes = 64 * 1024;
    std::string output;
    std::vector<std::string> meta;
};

void run_write(const WriteOptions& o) {
    const std::string cmd = "avro write";
    auto schema = avro::Schema::load(o.schema_path);
    if (!schema) fail(cmd, schema.message());
    auto codec = avro::parse_codec(o.codec);
    if (!codec) fail(cmd, codec.message());
    avro::BlockEncoderOptions eo;
    eo.codec = *codec;
    eo.level = o.level;
    for (const auto& kv : o.meta) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) fail(cmd, "--meta expects KEY=VALUE, got '" + kv + "'");
        eo.metadata[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    auto writer = avro::FileWriter::create(o.output, *schema, eo, o.block_bytes);
    if (!writer) fail(cmd, writer.message());
    // On any error the partial output is removed: a half-converted file is worse than none.
    auto abandon = [&](const std::string& message) {
        (void)writer->close();
        std::error_code ec;
        std::filesystem::remove(o.output, ec);
        fail(cmd, message);
    };
    std::string line, datum;
    size_t line_no = 0;
    while (std::getline(std::cin, line)) {
        ++line_no;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        json j;
        try {
            j = json::parse(line);
        } catch (const json::exception& e) {
            abandon("stdin line " + std::to_string(line_no) + ": invalid JSON: " + e.what());
        }
        auto v = avro::from_json(*schema, j);
        if (!v) abandon("stdin line " + std::to_string(line_no) + ": " + v.message());
        datum.clear();
        if (auto st = avro::encode(*schema, *v, datum); !st) abandon("stdin line " + std::to_string(line_no) + ": " + st.message());
        if (auto st = writer->append({reinterpret_cast<const uint8_t*>(datum.data()), datum.size()}); !st) {
            abandon(st.message());
        }
    }
    if (std::cin.bad()) abandon("reading stdin failed");
    if (auto st = writer->close(); !st) abandon(st.message());
}

void run_info(const std::string& path, const avro::FileReaderOptions& options) {
    auto reader = avro::FileReader::open(path, options);
    if (!reader) fail("avro info", reader.message());
    json info;
    info["path"] = path;
    const auto& meta = reader->metadata();
    auto it = meta.find("avro.schema");
    const std::string& schema_text = it != meta.end() ? it->second : reader->schema().json_text();
    try {
        info["schema"] = json::parse(schema_text);
    } catch (const json::exception&) {
        info["schema"] = schema_text;
    }
    info["headerless"] = reader->headerless();
    info["fingerprint"] = hex16(reader->schema().fingerprint());  // as the API and the HDF5 attributes write it
    info["codec"] = std::string(avro::codec_name(reader->codec()));
    json m = json::object();
    for (const auto& [k, v] : meta) {
        if (k != "avro.schema") m[k] = v;
    }
    info["metadata"] = m;
    info["sync"] = hex(reader->sync().data(), reader->sync().size());
    info["header_bytes"] = reader->header_size();
    uint64_t blocks = 0, records = 0, data_bytes = 0;
    avro::Block block;
    for (;;) {
        auto more = reader->next_block(block);
        if (!more) fail("avro info", more.message());
        if (!*more) break;
        ++blocks;
        records += block.count;
        data_bytes += block.data.size();
    }
    info["blocks"] = blocks;
    info["records"] = records;
    info["data_bytes"] = data_bytes;
    info["problems"] = reader->problems();
    std::cout << info.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

}  // namespace

void add_avro_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("avro", "Read and write Avro container files");
    cmd->require_subcommand(1);

    static constexpr const char* schema_help =
        "Schema (.avsc) of files without a container header (the earlier relay's cache files); "
        "files with a header use their own";
    auto cat_files = std::make_shared<std::vector<std::string>>();
    auto cat_schema = std::make_shared<std::string>();
    auto* cat = cmd->add_subcommand("cat", "Print each record as one line of Avro JSON; damage is reported on stderr");
    cat->add_option("files", *cat_files, "Avro container files")->required();
    cat->add_option("--schema", *cat_schema, schema_help);
    cat->callback([cat_files, cat_schema] {
        const auto options = reader_options("avro cat", *cat_schema);
        bool ok = true;
        for (const auto& f : *cat_files) ok = cat_file(f, options) && ok;
        if (!ok) throw CLI::RuntimeError(1);
    });

    auto wo = std::make_shared<WriteOptions>();
    auto* write = cmd->add_subcommand("write", "Write JSON lines from stdin (Avro JSON encoding) to a container file");
    write->add_option("--schema", wo->schema_path, "Schema file (.avsc)")->required();
    write->add_option("--codec", wo->codec, "null, deflate, snappy or zstandard")->capture_default_str();
    write->add_option("--level", wo->level, "Compression level (-1: codec default)")->capture_default_str();
    write->add_option("--block-bytes", wo->block_bytes, "Uncompressed bytes per block")->capture_default_str();
    write->add_option("--meta", wo->meta, "Extra metadata KEY=VALUE (repeatable)");
    write->add_option("-o,--output", wo->output, "Output file")->required();
    write->callback([wo] { run_write(*wo); });

    auto info_file = std::make_shared<std::string>();
    auto info_schema = std::make_shared<std::string>();
    auto* info = cmd->add_subcommand("info", "Print schema, codec, metadata, block and record counts, problems (JSON)");
    info->add_option("file", *info_file, "Avro container file")->required();
    info->add_option("--schema", *info_schema, schema_help);
    info->callback([info_file, info_schema] { run_info(*info_file, reader_options("avro info", *info_schema)); });
}

}  // namespace speeddata::cli
