// `speeddata schema validate|canonical|fingerprint`: check Avro schema files and print their
// Parsing Canonical Form and CRC-64-AVRO fingerprint.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "core/avro/schema.hpp"
#include "core/text.hpp"

namespace speeddata::cli {

namespace {

// Loads a schema or fails the command with the loader's message (which names the file).
avro::Schema load_or_fail(const std::string& command, const std::string& path) {
    auto s = avro::Schema::load(path);
    if (!s) fail(command, s.message());
    return std::move(*s);
}

}  // namespace

void add_schema_command(CLI::App& app) {
    auto* cmd = app.add_subcommand("schema", "Check Avro schema files (.avsc)");
    cmd->require_subcommand(1);

    auto files = std::make_shared<std::vector<std::string>>();
    auto* validate = cmd->add_subcommand("validate", "Parse each schema; print OK and its fingerprint, or the error");
    validate->add_option("files", *files, "Schema files")->required();
    validate->callback([files] {
        int bad = 0;
        for (const auto& path : *files) {
            auto s = avro::Schema::load(path);
            if (s) {
                std::cout << "OK " << path << " (fingerprint 0x" << hex16(s->fingerprint()) << ")\n";
            } else {
                std::cout.flush();
                std::cerr << "speeddata schema validate: " << s.message() << "\n";
                ++bad;
            }
        }
        std::cout.flush();
        if (bad) throw CLI::RuntimeError(1);
    });

    auto file = std::make_shared<std::string>();
    auto* canonical = cmd->add_subcommand("canonical", "Print the schema's Parsing Canonical Form");
    canonical->add_option("file", *file, "Schema file")->required();
    canonical->callback([file] {
        std::cout << load_or_fail("schema canonical", *file).canonical_form() << "\n";
    });

    auto fp_file = std::make_shared<std::string>();
    auto* fingerprint = cmd->add_subcommand("fingerprint", "Print the CRC-64-AVRO fingerprint (16 hex digits)");
    fingerprint->add_option("file", *fp_file, "Schema file")->required();
    fingerprint->callback([fp_file] {
        std::cout << hex16(load_or_fail("schema fingerprint", *fp_file).fingerprint()) << "\n";
    });
}

}  // namespace speeddata::cli
