// speeddata: one executable, one subcommand per process role (DESIGN.md, "Processes").
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"

namespace speeddata::cli {

std::filesystem::path default_config_dir() {
    if (const char* env = std::getenv("SPEEDDATA_CONFIG"); env && *env) return env;
    return "config";
}

void fail(const std::string& command, const std::string& message, int code) {
    std::cerr << "speeddata " << command << ": " << message << std::endl;
    throw CLI::RuntimeError(code);
}

}  // namespace speeddata::cli

int main(int argc, char** argv) {
    CLI::App app{"SpeedData: UDP telemetry relay, rolling Avro cache, live charts, HDF5 export"};
    app.name("speeddata");
    app.require_subcommand(1);
    app.set_version_flag("--version", "speeddata 0.6.0");
    speeddata::cli::add_relay_command(app);
    speeddata::cli::add_send_command(app);
    speeddata::cli::add_config_command(app);
    speeddata::cli::add_schema_command(app);
    speeddata::cli::add_avro_command(app);
    speeddata::cli::add_orchestrator_command(app);
    speeddata::cli::add_up_command(app);
    speeddata::cli::add_stripchart_command(app);
    speeddata::cli::add_pivot_command(app);
    speeddata::cli::add_tag_command(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return 0;
}
