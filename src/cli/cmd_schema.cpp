// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_schema_command(CLI::App& app) { app.add_subcommand("schema", "(not yet implemented)"); }
}  // namespace speeddata::cli
