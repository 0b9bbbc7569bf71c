// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_orchestrator_command(CLI::App& app) { app.add_subcommand("orchestrator", "(not yet implemented)"); }
}  // namespace speeddata::cli
