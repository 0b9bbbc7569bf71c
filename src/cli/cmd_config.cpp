// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_config_command(CLI::App& app) { app.add_subcommand("config", "(not yet implemented)"); }
}  // namespace speeddata::cli
