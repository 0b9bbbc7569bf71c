// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_up_command(CLI::App& app) { app.add_subcommand("up", "(not yet implemented)"); }
}  // namespace speeddata::cli
