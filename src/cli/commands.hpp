// Each subcommand lives in its own cmd_*.cpp and registers itself on the app here.
// A subcommand's callback reports failure by throwing CLI::RuntimeError(exit_code) after
// printing a one-line message to stderr.
#pragma once

#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/status.hpp"

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

// One log format for every process: "2026-12-01T08:33:00.123 info orchestrator: message"
// (time, level, component).
void init_logging(const std::string& component);

// Default config directory: $SPEEDDATA_CONFIG, else ./config.
std::filesystem::path default_config_dir();

// The notices of several loaded configs (config::RelayConfig::notices, ...), each once, in order.
std::vector<std::string> unique_notices(std::initializer_list<const std::vector<std::string>*> lists);
// Logs config notices (keys in the earlier version's form) as warnings, once per stack: a
// process whose parent SpeedData process already logged them stays quiet; this one marks the
// environment its children inherit ($SPEEDDATA_CONFIG_NOTICES=shown).
void log_config_notices(const std::vector<std::string>& notices);

// Prints "speeddata <cmd>: <message>" to stderr and throws CLI::RuntimeError(code).
[[noreturn]] void fail(const std::string& command, const std::string& message, int code = 1);
// The same for a failed Status, with its code's exit code (exit_code_of).
[[noreturn]] void fail(const std::string& command, const Status& status);

// The one mapping of Status codes to exit codes (documented in README, Troubleshooting):
// 2 bad input or configuration (invalid_argument, too_large), 3 no data in the range,
// 4 not found, 1 anything else (I/O, conflict, unavailable).
int exit_code_of(StatusCode code);

}  // namespace speeddata::cli
