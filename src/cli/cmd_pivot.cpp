// speeddata pivot: cache time range -> column HDF5 (export), explicit .avro files -> HDF5
// (convert), cached coverage (channels), and the REST API (serve). docs/pivot.md.
//
// Exit codes: 0 ok; 1 I/O or internal error; 2 bad parameter; 3 no data in the range;
// 4 unknown channel or missing file.
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/config/config.hpp"
#include "core/time.hpp"
#include "pivot/pivot.hpp"
#include "pivot/server.hpp"

namespace speeddata::cli {

namespace {

struct PivotArgs {
    std::string config_dir;
    std::string start, end, duration, channels, signals, algorithm = "downsample", output;
    int decimate = 1;
    std::vector<std::string> files;
    bool json = false;
    int port = -1;
};


config::PivotConfig load_config(const PivotArgs& a) {
    auto dir = a.config_dir.empty() ? default_config_dir() : std::filesystem::path(a.config_dir);
    auto cfg = config::load_pivot_config(dir);
    if (!cfg.ok()) fail("pivot", cfg.message(), 2);
    return *cfg;
}

int exit_code(pivot::ErrorKind k) {
    switch (k) {
        case pivot::ErrorKind::bad_request: return 2;
        case pivot::ErrorKind::no_data: return 3;
        case pivot::ErrorKind::not_found: return 4;
        default: return 1;
    }
}

// Fills range and decimation of req from the CLI options; fails with one line naming the option.
void parse_common(const PivotArgs& a, pivot::ExportRequest& req, bool range_required) {
    if (!a.start.empty() || range_required) {
        if (a.start.empty()) fail("pivot", "--start: required (ISO 8601, e.g. 2025-01-23T14:00:00Z)", 2);
        auto s = pivot::parse_time(a.start);
        if (!s.ok()) fail("pivot", "--start: " + s.message(), 2);
        req.start_ns = *s;
        if (!a.end.empty() && !a.duration.empty()) fail("pivot", "--end: give --end or --duration, not both", 2);
        if (!a.end.empty()) {
            auto e = pivot::parse_time(a.end);
            if (!e.ok()) fail("pivot", "--end: " + e.message(), 2);
            req.end_ns = *e;
            if (req.end_ns <= req.start_ns) fail("pivot", "--end: must be after --start", 2);
        } else if (!a.duration.empty()) {
            auto d = pivot::parse_iso_duration(a.duration);
            if (!d.ok()) fail("pivot", "--duration: " + d.message(), 2);
            req.end_ns = req.start_ns + *d;
        } else {
            fail("pivot", "--duration: required (or --end), e.g. PT30S", 2);
        }
    }
    if (a.decimate < 1) fail("pivot", "--decimate: must be an integer >= 1", 2);
    req.decimation.factor = a.decimate;
    auto alg = config::parse_algorithm(a.algorithm);
    if (!alg.ok()) fail("pivot", "--algorithm: " + alg.message(), 2);
    req.decimation.algorithm = *alg;
    req.signals = pivot::split_list(a.signals);
}

void report(const pivot::ExportResult& r, const std::string& out) {
    if (!r.ok()) fail("pivot", r.status.message(), exit_code(r.kind));
    for (const auto& p : r.problems) std::cerr << "speeddata pivot: warning: " << p << "\n";
    std::cout << out << ": " << r.rows << " rows, " << r.blocks_read << " blocks, " << r.avro_bytes
              << " bytes of Avro read\n";
}

void run_export(const PivotArgs& a) {
    auto cfg = load_config(a);
    pivot::ExportRequest req;
    parse_common(a, req, true);
    req.channels = pivot::split_list(a.channels);
    if (req.channels.empty()) fail("pivot", "--channels: at least one channel is required", 2);
    if (a.output.empty()) fail("pivot", "--output: required (-o out.h5)", 2);
    report(pivot::export_range(cfg.storage.avro_path, req, pivot::hdf5_options(cfg), a.output), a.output);
}

void run_convert(const PivotArgs& a) {
    pivot::Hdf5Options opts;  // built-in defaults unless a config is at hand
    auto dir = a.config_dir.empty() ? default_config_dir() : std::filesystem::path(a.config_dir);
    if (auto cfg = config::load_pivot_config(dir); cfg.ok()) opts = pivot::hdf5_options(*cfg);
    pivot::ExportRequest req;
    parse_common(a, req, false);
    if (a.output.empty()) fail("pivot", "--output: required (-o out.h5)", 2);
    std::vector<std::filesystem::path> files(a.files.begin(), a.files.end());
    report(pivot::convert_files(files, req, opts, a.output), a.output);
}

void run_channels(const PivotArgs& a) {
    auto cfg = load_config(a);
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& c : pivot::list_channels(cfg.storage.avro_path)) {
        if (a.json) {
            out.push_back({{"name", c.name}, {"files", c.files}, {"bytes", c.bytes}, {"records", c.records},
                           {"first", c.records ? format_iso8601(c.first_ns) : ""},
                           {"last", c.records ? format_iso8601(c.last_ns) : ""}});
        } else {
            std::cout << c.name << "  " << c.files << " files  " << c.bytes << " bytes  " << c.records << " records  "
                      << (c.records ? format_iso8601(c.first_ns) + " .. " + format_iso8601(c.last_ns) : "-") << "\n";
        }
    }
    if (a.json) std::cout << out.dump(2) << "\n";
}

void add_range_options(CLI::App* c, PivotArgs& a) {
    c->add_option("--start", a.start, "Start of the range, ISO 8601 (2025-01-23T14:00:00Z or with an offset)");
    c->add_option("--end", a.end, "End of the range (exclusive), ISO 8601");
    c->add_option("--duration", a.duration, "Length of the range instead of --end: PT30S, PT1H30M, P1D, or 30s");
    c->add_option("--signals", a.signals, "Comma-separated signals (top-level fields) to keep; default all");
    c->add_option("--decimate", a.decimate, "Decimation factor (1 = every record)");
    c->add_option("--algorithm", a.algorithm, "downsample, average, minmax or rms");
    c->add_option("-o,--output", a.output, "HDF5 file to write");
    c->add_option("--config-dir", a.config_dir, "Config directory (default $SPEEDDATA_CONFIG or ./config)");
}

}  // namespace

void add_pivot_command(CLI::App& app) {
    auto args = std::make_shared<PivotArgs>();
    auto* cmd = app.add_subcommand("pivot", "Cache time range -> column HDF5 (export, convert, serve)");
    cmd->require_subcommand(1);

    auto* ex = cmd->add_subcommand("export", "Export channels' cached records in [start, end) to HDF5");
    add_range_options(ex, *args);
    ex->add_option("--channels", args->channels, "Comma-separated channel names")->required();
    ex->callback([args] { run_export(*args); });

    auto* cv = cmd->add_subcommand("convert", "Convert explicit Avro container files to one HDF5 file");
    add_range_options(cv, *args);
    cv->add_option("files", args->files, "Avro container files")->required();
    cv->callback([args] { run_convert(*args); });

    auto* ch = cmd->add_subcommand("channels", "List cached channels with their time coverage");
    ch->add_option("--config-dir", args->config_dir, "Config directory");
    ch->add_flag("--json", args->json, "JSON output");
    ch->callback([args] { run_channels(*args); });

    auto* sv = cmd->add_subcommand("serve", "REST API (config/pivot.yaml; port 8000) until SIGTERM/SIGINT");
    sv->add_option("--config-dir", args->config_dir, "Config directory");
    sv->add_option("--port", args->port, "Override http.port (0 = any free port, printed on start)");
    sv->callback([args] {
        auto cfg = load_config(*args);
        if (args->port >= 0) cfg.port = static_cast<uint16_t>(args->port);
        Status st = pivot::serve(cfg);
        if (!st.ok()) fail("pivot", st.message(), 1);
    });
}

}  // namespace speeddata::cli
