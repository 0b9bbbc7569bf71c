// History tiles (GET /api/v1/series) on large caches: the server-side time of a zoomed-out
// query (router dispatch: parse, engine, JSON), cold (summaries computed), after a restart
// (sidecars loaded) and warm (summaries in memory), against a same-run baseline: a full scan
// of the range through the pivot's block reader (core/cache_blocks.hpp) that decodes every
// record into the same tiles. docs/benchmarks.md, "History".
//
//   build/history_bench --dir /tmp/hb [--rate 1000] [--hours 24] [--runs 3] [--points 2000]
//
// Writes the caches with the project's block encoder and .idx layout as the relay would
// (blocks of one second, a file per hour, the newest file being written), once per --dir.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/avro/container.hpp"
#include "core/cache_blocks.hpp"
#include "core/cache_layout.hpp"
#include "core/fd.hpp"
#include "history/routes.hpp"

using namespace speeddata;
namespace fs = std::filesystem;

namespace {

const char* k_schema = R"({"type":"record","name":"example","fields":[
    {"name":"time","type":"long"},{"name":"word","type":"string"},{"name":"counter","type":"long"},
    {"name":"sine_wave","type":"double"},{"name":"ramp","type":"double"},{"name":"square_wave","type":"double"},
    {"name":"noise","type":"double"}]})";

constexpr int64_t t0 = 1700000000000000000LL;
constexpr int64_t sec = 1000000000LL;

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A channel of `seconds` at `rate` records/s: files of an hour, blocks of a second.
void write_channel(const fs::path& dir, const std::string& ch, int64_t seconds, int rate) {
    auto schema = avro::Schema::parse(k_schema);
    fs::create_directories(dir / ch);
    const char* words[] = {"alpha", "bravo", "charlie", "delta"};
    uint64_t i = 0;
    for (int64_t file_start = 0; file_start < seconds; file_start += 3600) {
        fs::path path = dir / ch / cache::file_name(ch, t0 + file_start * sec);
        avro::BlockEncoder enc(*schema, {avro::Codec::null_codec, -1, {{"speeddata.time_field", "time"},
                                                                      {"speeddata.time_unit", "ns"}}});
        Fd f(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        Fd idx(::open(cache::index_path(path).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        std::string h = enc.header();
        write_all(f.get(), h.data(), h.size());
        write_all(idx.get(), cache::index_magic, 8);
        uint64_t offset = h.size();
        std::string datums, block;
        for (int64_t s = file_start; s < std::min(seconds, file_start + 3600); ++s) {
            datums.clear();
            for (int k = 0; k < rate; ++k, ++i) {
                int64_t t = t0 + s * sec + static_cast<int64_t>(k) * sec / rate;
                avro::append_long(datums, t);
                const char* w = words[i % 4];
                avro::append_long(datums, static_cast<int64_t>(std::strlen(w)));
                datums += w;
                avro::append_long(datums, static_cast<int64_t>(i));
                avro::append_double(datums, std::sin(2 * M_PI * static_cast<double>(i) / 20000.0));
                avro::append_double(datums, static_cast<double>(i % 40) / 40);
                avro::append_double(datums, i % 20000 < 10000 ? 1.0 : -1.0);
                avro::append_double(datums, static_cast<double>((i * 7919) % 1000) / 1000 - 0.5);
            }
            (void)enc.encode_block({reinterpret_cast<const uint8_t*>(datums.data()), datums.size()},
                                   static_cast<uint64_t>(rate), block);
            write_all(f.get(), block.data(), block.size());
            cache::IndexEntry e{offset, static_cast<uint64_t>(rate), t0 + s * sec,
                                t0 + s * sec + static_cast<int64_t>(rate - 1) * sec / rate, block.size()};
            uint8_t buf[cache::index_entry_bytes];
            cache::encode_index_entry(e, buf);
            write_all(idx.get(), buf, sizeof buf);
            offset += block.size();
        }
    }
}

// The baseline: every record of the range decoded into the same tiles (no summaries).
uint64_t full_scan(const fs::path& dir, const std::string& ch, int64_t start, int64_t end, int points,
                   std::vector<history::Agg>& tiles) {
    tiles.assign(static_cast<size_t>(points), {});
    uint64_t n = 0;
    avro::FileReaderOptions ro;
    ro.validate_datums = false;
    for (const auto& f : cache::list_files(dir / ch, ch)) {
        auto sel = cache::select_blocks(f.path, start, end);
        if (!sel) continue;
        auto r = avro::FileReader::open(f.path, ro);
        avro::Validator v(r->schema());
        std::vector<avro::FieldSpan> spans(v.field_count());
        (void)cache::for_each_block(*r, *sel, [&](const avro::Block& b) -> Status {
            const uint8_t* p = reinterpret_cast<const uint8_t*>(b.data.data());
            const uint8_t* e = p + b.data.size();
            for (uint64_t i = 0; i < b.count; ++i) {
                auto res = v.validate(p, static_cast<size_t>(e - p), spans.data());
                if (!res.ok()) break;
                int64_t t = 0;
                avro::read_long(p + spans[0].offset, p + spans[0].offset + spans[0].length, t);
                if (t >= start && t < end) {
                    double x = avro::read_double(p + spans[3].offset);
                    tiles[static_cast<size_t>(history::tile_of(start, end, points, t))].add(t, x);
                    ++n;
                }
                p += res.consumed;
            }
            return {};
        });
    }
    return n;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

std::string runs_text(const std::vector<double>& v) {
    std::string s;
    for (double x : v) {
        char b[32];
        std::snprintf(b, sizeof b, "%s%.1f", s.empty() ? "" : ", ", x * 1000);
        s += b;
    }
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    fs::path dir = "/tmp/history_bench";
    int rate = 1000, hours = 24, runs = 3, points = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--dir") dir = argv[i + 1];
        else if (a == "--rate") rate = std::atoi(argv[i + 1]);
        else if (a == "--hours") hours = std::atoi(argv[i + 1]);
        else if (a == "--runs") runs = std::atoi(argv[i + 1]);
        else if (a == "--points") points = std::atoi(argv[i + 1]);
    }
    fs::path avro = dir / "avro", state = dir / "state";
    struct Case {
        std::string channel;
        int64_t seconds;
    };
    // "hour": one hour in the file the relay is writing; "day": 24 closed hourly files plus
    // a minute in the newest one.
    std::vector<Case> cases = {{"hour", 3600}, {"day", int64_t(hours) * 3600 + 60}};
    for (const auto& c : cases) {
        if (fs::exists(avro / c.channel)) continue;
        double t = now_s();
        write_channel(avro, c.channel, c.seconds, rate);
        std::printf("wrote %s: %lld s at %d Hz in %.1f s\n", c.channel.c_str(), static_cast<long long>(c.seconds), rate,
                    now_s() - t);
    }
    std::printf("| cache | query | median ms | runs (ms) | records decoded | summaries used |\n|---|---|---:|---|---:|---:|\n");
    for (const auto& c : cases) {
        uint64_t bytes = 0;
        for (const auto& f : cache::list_files(avro / c.channel, c.channel)) bytes += fs::file_size(f.path);
        const int64_t start = t0, end = t0 + c.seconds * sec;
        const std::string q_start = std::to_string(start), q_end = std::to_string(end);
        auto request = [&](http::Router& router, nlohmann::json* out) {
            http::Request r;
            r.method = "GET";
            r.path = r.target = "/api/v1/series";
            r.query = {{"signals", c.channel + ".sine_wave"}, {"start", q_start}, {"end", q_end},
                       {"points", std::to_string(points)}};
            double t = now_s();
            auto resp = router.dispatch(r);
            if (resp.deferred) resp = resp.deferred();  // what the server's worker pool runs
            double dt = now_s() - t;
            if (resp.status != 200) std::fprintf(stderr, "%s\n", resp.body.c_str());
            if (out) *out = nlohmann::json::parse(resp.body);
            return dt;
        };
        std::vector<double> cold, restart, warm, base;
        nlohmann::json last;
        nlohmann::json cold_stats, restart_stats, warm_stats;
        for (int k = 0; k < runs; ++k) {
            fs::remove_all(state);
            http::Router router;
            history::HistoryOptions o;
            o.avro_path = avro;
            o.summary_path = state / "history";
            history::add_history_routes(router, o);
            cold.push_back(request(router, &last));
            cold_stats = last["stats"];
            for (int w = 0; w < runs; ++w) warm.push_back(request(router, &last));
            warm_stats = last["stats"];
            http::Router router2;  // a restarted server: sidecars on disk, nothing in memory
            history::add_history_routes(router2, o);
            restart.push_back(request(router2, &last));
            restart_stats = last["stats"];
        }
        std::vector<history::Agg> tiles;
        uint64_t n = 0;
        for (int k = 0; k < runs; ++k) {
            double t = now_s();
            n = full_scan(avro, c.channel, start, end, points, tiles);
            base.push_back(now_s() - t);
        }
        // The answers are the baseline's tiles, exactly.
        const auto& s = last["series"][0];
        for (int k = 0; k < points; ++k) {
            const auto& g = tiles[static_cast<size_t>(k)];
            if (s["count"][k].get<uint64_t>() != g.count ||
                (g.count && (s["min"][k].get<double>() != g.min || s["max"][k].get<double>() != g.max))) {
                std::fprintf(stderr, "MISMATCH at tile %d\n", k);
                return 1;
            }
        }
        std::string name = c.channel + " (" + std::to_string(c.seconds) + " s, " + std::to_string(n) + " records, " +
                           std::to_string(bytes >> 20) + " MiB)";
        auto row = [&](const char* what, const std::vector<double>& v, const nlohmann::json& st) {
            std::printf("| %s | %s | %.1f | %s | %llu | %llu |\n", name.c_str(), what, median(v) * 1000,
                        runs_text(v).c_str(), st.is_null() ? 0ULL : st["records_read"].get<unsigned long long>(),
                        st.is_null() ? 0ULL : st["summaries_used"].get<unsigned long long>());
        };
        row("cold: first query, summaries computed", cold, cold_stats);
        row("restarted server: sidecars loaded", restart, restart_stats);
        row("warm: summaries in memory", warm, warm_stats);
        row("baseline: full scan of the range (pivot's block reader)", base, nlohmann::json{{"records_read", n}, {"summaries_used", 0}});
        std::printf("| %s | warm vs baseline | **%.0f× faster** | | | |\n", name.c_str(), median(base) / median(warm));
    }
    return 0;
}
