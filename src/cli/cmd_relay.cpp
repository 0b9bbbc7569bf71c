// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_relay_command(CLI::App& app) { app.add_subcommand("relay", "(not yet implemented)"); }
}  // namespace speeddata::cli
