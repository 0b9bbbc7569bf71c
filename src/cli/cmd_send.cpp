// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_send_command(CLI::App& app) { app.add_subcommand("send", "(not yet implemented)"); }
}  // namespace speeddata::cli
