// speeddata tag: keep a time range for good (docs/pivot.md, "Tags"). Works on the tags
// database and directory directly (storage.tags_path), so no server needs to run; a
// running `speeddata pivot serve` sees the same tags.
//
// Exit codes as `speeddata pivot`: 1 I/O, 2 bad parameter, 3 no data, 4 not found.
#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "core/config/config.hpp"
#include "core/time.hpp"
#include "pivot/pivot.hpp"
#include "pivot/tags.hpp"

namespace speeddata::cli {

namespace {

struct TagArgs {
    std::string config_dir, name, note, start, end, duration, channels, signals;
    int64_t id = 0;
    bool json = false;
};


struct Opened {
    config::PivotConfig cfg;
    std::unique_ptr<pivot::TagStore> store;
};

Opened open(const TagArgs& a) {
    auto dir = a.config_dir.empty() ? default_config_dir() : std::filesystem::path(a.config_dir);
    auto cfg = config::load_pivot_config(dir);
    if (!cfg.ok()) fail("tag", cfg.message(), 2);
    auto store = pivot::TagStore::open(cfg->storage.tags_path);
    if (!store.ok()) fail("tag", store.message(), 1);
    return {*cfg, std::move(*store)};
}

void print_tag(const pivot::Tag& t, bool json) {
    if (json) {
        std::cout << pivot::tag_to_json(t).dump(2) << "\n";
        return;
    }
    std::string ch;
    for (const auto& c : t.channels) ch += (ch.empty() ? "" : ",") + c;
    std::cout << t.id << "  " << t.name << "  " << format_iso8601(t.start_ns) << " .. " << format_iso8601(t.end_ns)
              << "  " << ch << "  " << t.rows << " rows  " << t.file << (t.note.empty() ? "" : "  # " + t.note) << "\n";
}

void run_create(const TagArgs& a) {
    auto o = open(a);
    pivot::ExportRequest req;
    if (a.start.empty()) fail("tag", "--start: required (ISO 8601)", 2);
    auto s = pivot::parse_time(a.start);
    if (!s.ok()) fail("tag", "--start: " + s.message(), 2);
    req.start_ns = *s;
    if (!a.end.empty() && !a.duration.empty()) fail("tag", "--end: give --end or --duration, not both", 2);
    if (!a.end.empty()) {
        auto e = pivot::parse_time(a.end);
        if (!e.ok()) fail("tag", "--end: " + e.message(), 2);
        req.end_ns = *e;
    } else if (!a.duration.empty()) {
        auto d = pivot::parse_iso_duration(a.duration);
        if (!d.ok()) fail("tag", "--duration: " + d.message(), 2);
        req.end_ns = req.start_ns + *d;
    } else {
        fail("tag", "--duration: required (or --end), e.g. PT30S", 2);
    }
    req.channels = pivot::split_list(a.channels);
    req.signals = pivot::split_list(a.signals);
    auto r = o.store->create(a.name, a.note, req, o.cfg.storage.avro_path, pivot::hdf5_options(o.cfg));
    if (!r.export_result.ok()) {
        int code = r.export_result.kind == pivot::ErrorKind::bad_request ? 2
                   : r.export_result.kind == pivot::ErrorKind::no_data   ? 3
                   : r.export_result.kind == pivot::ErrorKind::not_found ? 4
                                                                         : 1;
        fail("tag", r.export_result.status.message(), code);
    }
    print_tag(r.tag, a.json);
}

}  // namespace

void add_tag_command(CLI::App& app) {
    auto a = std::make_shared<TagArgs>();
    auto* cmd = app.add_subcommand("tag", "Keep a time range for good: create, list, show, delete tags");
    cmd->require_subcommand(1);
    auto common = [&](CLI::App* c) {
        c->add_option("--config-dir", a->config_dir, "Config directory (default $SPEEDDATA_CONFIG or ./config)");
        c->add_flag("--json", a->json, "JSON output");
    };
    auto* cr = cmd->add_subcommand("create", "Export a range into the tags directory and record it");
    common(cr);
    cr->add_option("--name", a->name, "Tag name")->required();
    cr->add_option("--note", a->note, "Free text");
    cr->add_option("--start", a->start, "Start, ISO 8601");
    cr->add_option("--end", a->end, "End (exclusive), ISO 8601");
    cr->add_option("--duration", a->duration, "Length instead of --end: PT30S, PT5M, P1D");
    cr->add_option("--channels", a->channels, "Comma-separated channels")->required();
    cr->add_option("--signals", a->signals, "Comma-separated signals (default all)");
    cr->callback([a] { run_create(*a); });

    auto* ls = cmd->add_subcommand("list", "List tags");
    common(ls);
    ls->callback([a] {
        auto o = open(*a);
        auto listed = o.store->list();
        if (!listed) fail("tag", listed.message(), 1);
        const auto& tags = *listed;
        if (a->json) {
            nlohmann::json arr = nlohmann::json::array();
            for (const auto& t : tags) arr.push_back(pivot::tag_to_json(t));
            std::cout << arr.dump(2) << "\n";
            return;
        }
        for (const auto& t : tags) print_tag(t, false);
    });

    auto* sh = cmd->add_subcommand("show", "Show one tag (and the path of its HDF5 file)");
    common(sh);
    sh->add_option("id", a->id, "Tag id")->required();
    sh->callback([a] {
        auto o = open(*a);
        auto got = o.store->get(a->id);
        if (!got) fail("tag", got.message(), 1);
        if (!*got) fail("tag", "id: no tag " + std::to_string(a->id), 4);
        const auto& t = *got;
        print_tag(*t, a->json);
        if (!a->json) std::cout << o.store->path_of(*t).string() << "\n";
    });

    auto* rm = cmd->add_subcommand("delete", "Delete a tag and its file");
    common(rm);
    rm->add_option("id", a->id, "Tag id")->required();
    rm->callback([a] {
        auto o = open(*a);
        auto r = o.store->remove(a->id);
        if (!r.ok()) fail("tag", r.message(), 1);
        if (!*r) fail("tag", "id: no tag " + std::to_string(a->id), 4);
        std::cout << "deleted tag " << a->id << "\n";
    });
}

}  // namespace speeddata::cli
