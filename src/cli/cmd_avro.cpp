// Placeholder: replaced by the real subcommand.
#include "cli/commands.hpp"
namespace speeddata::cli {
void add_avro_command(CLI::App& app) { app.add_subcommand("avro", "(not yet implemented)"); }
}  // namespace speeddata::cli
