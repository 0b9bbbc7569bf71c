// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_stripchart_command(CLI::App& app) { app.add_subcommand("stripchart", "(not yet implemented)"); }
}  // namespace speeddata::cli
