// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_pivot_command(CLI::App& app) { app.add_subcommand("pivot", "(not yet implemented)"); }
}  // namespace speeddata::cli
