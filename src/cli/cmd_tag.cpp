// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_tag_command(CLI::App& app) { app.add_subcommand("tag", "(not yet implemented)"); }
}  // namespace speeddata::cli
