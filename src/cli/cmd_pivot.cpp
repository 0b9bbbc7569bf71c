// speeddata pivot: cache time range -> column HDF5 (export), explicit .avro files -> HDF5
// (convert), cached coverage (channels), and the REST API (serve). docs/pivot.md.
//
// Exit codes: 0 ok; 1 I/O or internal error; 2 bad parameter; 3 no data in the range;
// 4 unknown channel or missing file.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "core/avro/schema.hpp"
#include "core/config/config.hpp"
#include "core/time.hpp"
#include "pivot/csv.hpp"
#include "pivot/pivot.hpp"
#include "pivot/server.hpp"

namespace speeddata::cli {

namespace {

struct PivotArgs {
    std::string config_dir;
    std::string start, end, duration, channels, signals, algorithm = "downsample", output, schema, format = "hdf5";
    int decimate = 1;
    std::vector<std::string> files;
    bool json = false;
    int port = -1;
};


config::PivotConfig load_config(const PivotArgs& a) {
    auto dir = a.config_dir.empty() ? default_config_dir() : std::filesystem::path(a.config_dir);
    auto cfg = config::load_pivot_config(dir);
    if (!cfg.ok()) fail("pivot", cfg.message(), 2);
    log_config_notices(cfg->notices);
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

// A progress bar on stderr while a terminal watches an export that takes more than half a
// second: "[#########.........] 45 %  120.3 of 260.0 MB  3.2 s". Cleared when done.
struct TerminalProgress {
    struct State {
        std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now(), next{};
        bool drawn = false;
    };
    std::shared_ptr<State> st = std::make_shared<State>();

    static bool wanted() { return isatty(STDERR_FILENO) == 1; }
    void operator()(uint64_t done, uint64_t total) const {
        using namespace std::chrono;
        const auto now = steady_clock::now();
        if (now < st->next || now - st->start < milliseconds(500) || total == 0) return;
        st->next = now + milliseconds(100);
        const double f = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
        char bar[31];
        const int fill = static_cast<int>(f * 30);
        for (int i = 0; i < 30; ++i) bar[i] = i < fill ? '#' : '.';
        bar[30] = 0;
        std::fprintf(stderr, "\r\033[Kspeeddata pivot: [%s] %3.0f %%  %.1f of %.1f MB  %.1f s", bar, f * 100,
                     static_cast<double>(done) / 1e6, static_cast<double>(total) / 1e6,
                     duration<double>(now - st->start).count());
        std::fflush(stderr);
        st->drawn = true;
    }
    void finish() const {
        if (st->drawn) std::fputs("\r\033[K", stderr);
        st->drawn = false;
    }
};

void report(const pivot::ExportResult& r, const std::string& out, const TerminalProgress* bar = nullptr) {
    if (bar) bar->finish();
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
    if (a.format != "hdf5" && a.format != "csv") fail("pivot", "--format: expected hdf5 or csv, got '" + a.format + "'", 2);
    TerminalProgress bar;
    if (TerminalProgress::wanted()) req.progress = bar;
    if (a.format == "csv") {
        report(pivot::export_csv(cfg.storage.avro_path, req, a.output), a.output, &bar);
        return;
    }
    report(pivot::export_range(cfg.storage.avro_path, req, pivot::hdf5_options(cfg), a.output), a.output, &bar);
}

void run_convert(const PivotArgs& a) {
    pivot::Hdf5Options opts;  // built-in defaults unless a config is at hand
    auto dir = a.config_dir.empty() ? default_config_dir() : std::filesystem::path(a.config_dir);
    if (auto cfg = config::load_pivot_config(dir); cfg.ok()) opts = pivot::hdf5_options(*cfg);
    pivot::ExportRequest req;
    parse_common(a, req, false);
    if (a.output.empty()) fail("pivot", "--output: required (-o out.h5)", 2);
    if (!a.schema.empty()) {
        auto s = avro::Schema::load(a.schema);
        if (!s.ok()) fail("pivot", "--schema: " + s.message(), 2);
        req.headerless_schema = std::move(*s);
    }
    std::vector<std::filesystem::path> files(a.files.begin(), a.files.end());
    TerminalProgress bar;
    if (TerminalProgress::wanted()) req.progress = bar;
    report(pivot::convert_files(files, req, opts, a.output), a.output, &bar);
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
    c->add_option("-o,--output", a.output, "File to write (HDF5; with --format csv a .csv, or a .zip for several channels)");
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
    ex->add_option("--format", args->format,
                   "hdf5 (default) or csv: one CSV file for one channel, a zip of <channel>.csv for several");
    ex->callback([args] { run_export(*args); });

    auto* cv = cmd->add_subcommand("convert", "Convert explicit Avro container files to one HDF5 file");
    add_range_options(cv, *args);
    cv->add_option("files", args->files, "Avro container files")->required();
    cv->add_option("--schema", args->schema,
                   "Schema (.avsc) of files without a container header (the earlier relay's cache files)");
    cv->callback([args] { run_convert(*args); });

    auto* ch = cmd->add_subcommand("channels", "List cached channels with their time coverage");
    ch->add_option("--config-dir", args->config_dir, "Config directory");
    ch->add_flag("--json", args->json, "JSON output");
    ch->callback([args] { run_channels(*args); });

    auto* sv = cmd->add_subcommand("serve", "REST API (config/pivot.yaml; port 8000) until SIGTERM/SIGINT");
    sv->add_option("--config-dir", args->config_dir, "Config directory");
    sv->add_option("--port", args->port, "Override http.port (0 = any free port, printed on start)");
    auto token = std::make_shared<std::string>();
    sv->add_option("--token", *token, "Bearer token (overrides auth.token_file and $SPEEDDATA_TOKEN)");
    sv->callback([args, token] {
        init_logging("pivot");
        auto cfg = load_config(*args);
        if (args->port >= 0) cfg.port = static_cast<uint16_t>(args->port);
        Status st = pivot::serve(cfg, *token);
        if (!st.ok()) fail("pivot", st.message(), st.code() == StatusCode::invalid_argument ? 2 : 1);
    });
}

}  // namespace speeddata::cli
