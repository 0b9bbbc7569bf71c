// speeddata: one executable, one subcommand per process role (docs/ARCHITECTURE.md, "Processes").
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"
#include "core/version.hpp"

namespace speeddata::cli {

std::filesystem::path default_config_dir() {
    if (const char* env = std::getenv("SPEEDDATA_CONFIG"); env && *env) return env;
    return "config";
}

void init_logging(const std::string& component) {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ " + component + ": %v");
}

void fail(const std::string& command, const std::string& message, int code) {
    std::cerr << "speeddata " << command << ": " << message << std::endl;
    throw CLI::RuntimeError(code);
}

void fail(const std::string& command, const Status& status) { fail(command, status.message(), exit_code_of(status.code())); }

int exit_code_of(StatusCode code) {
    switch (code) {
        case StatusCode::ok: return 0;
        case StatusCode::invalid_argument:
        case StatusCode::too_large: return 2;
        case StatusCode::no_data: return 3;
        case StatusCode::not_found: return 4;
        default: return 1;
    }
}

}  // namespace speeddata::cli

int main(int argc, char** argv) {
    // Servers hold a descriptor per connection: use the hard open-files limit, not the soft
    // default of 1024 (nothing here uses select(), which could not take fds past 1024).
    if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    CLI::App app{"SpeedData: UDP telemetry relay, rolling Avro cache, live charts, HDF5 export"};
    app.name("speeddata");
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("speeddata ") + speeddata::version);
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
