// Each subcommand lives in its own cmd_*.cpp and registers itself on the app here.
// A subcommand's callback reports failure by throwing CLI::RuntimeError(exit_code) after
// printing a one-line message to stderr.
#pragma once

#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

namespace speeddata::cli {

void add_relay_command(CLI::App& app);
void add_send_command(CLI::App& app);
void add_config_command(CLI::App& app);
void add_schema_command(CLI::App& app);
void add_avro_command(CLI::App& app);
void add_orchestrator_command(CLI::App& app);
void add_up_command(CLI::App& app);
void add_stripchart_command(CLI::App& app);
void add_pivot_command(CLI::App& app);
void add_tag_command(CLI::App& app);

// Default config directory: $SPEEDDATA_CONFIG, else ./config.
std::filesystem::path default_config_dir();

// Prints "speeddata <cmd>: <message>" to stderr and throws CLI::RuntimeError(code).
[[noreturn]] void fail(const std::string& command, const std::string& message, int code = 1);

}  // namespace speeddata::cli
