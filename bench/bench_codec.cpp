// Avro codec throughput on the demo channel's records (config/agents/example.avsc): the
// relay's per-datagram check (Validator::validate, with and without field spans) and full
// decoding into Values. items/s = records/s.
//
//   ./build/bench_codec [--benchmark_filter=Validate]
#include <benchmark/benchmark.h>

#include <cmath>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "core/avro/codec.hpp"
#include "core/avro/schema.hpp"

namespace {

using namespace speeddata::avro;

#ifndef SPEEDDATA_SOURCE_DIR
#define SPEEDDATA_SOURCE_DIR "."
#endif

const Schema& example_schema() {
    static const Schema schema = [] {
        // Built from the repo when run from its root; the text is embedded as a fallback so
        // the benchmark runs from any directory.
        auto s = Schema::load("config/agents/example.avsc");
        if (s) return std::move(*s);
        return *Schema::parse(R"({"type":"record","name":"data","namespace":"speeddata.example","fields":[
            {"name":"time","type":"long"},{"name":"message","type":"string"},
            {"name":"counter","type":"int"},{"name":"sine_wave","type":"double"},{"name":"ramp","type":"double"},
            {"name":"square_wave","type":"double"},{"name":"noise","type":"double"}]})");
    }();
    return schema;
}

// 1024 records shaped like the demo sender's: nanosecond time stamps, a random word,
// a counter and four waveforms.
struct Corpus {
    std::string bytes;
    std::vector<size_t> offsets;
};

const Corpus& corpus() {
    static const Corpus c = [] {
        Corpus out;
        std::mt19937 rng(42);
        const char* words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};
        for (int i = 0; i < 1024; ++i) {
            out.offsets.push_back(out.bytes.size());
            append_long(out.bytes, 1700000000000000000LL + i * 1000000LL);
            const std::string w = words[rng() % 8];
            append_long(out.bytes, static_cast<int64_t>(w.size()));
            out.bytes += w;
            append_long(out.bytes, i);
            append_double(out.bytes, std::sin(2 * std::numbers::pi * i / 20));
            append_double(out.bytes, (i % 40) / 40.0);
            append_double(out.bytes, (i / 10) % 2 ? -1.0 : 1.0);
            append_double(out.bytes, std::uniform_real_distribution<double>(-0.5, 0.5)(rng));
        }
        out.offsets.push_back(out.bytes.size());
        return out;
    }();
    return c;
}

// One datagram = one datum: validate each record on its own, as the relay does.
void BM_Validate(benchmark::State& state) {
    const Validator v(example_schema());
    const Corpus& c = corpus();
    const auto* base = reinterpret_cast<const uint8_t*>(c.bytes.data());
    const size_t n = c.offsets.size() - 1;
    size_t i = 0;
    for (auto _ : state) {
        const size_t len = c.offsets[i + 1] - c.offsets[i];
        ValidateResult r = v.validate(base + c.offsets[i], len);
        benchmark::DoNotOptimize(r);
        if (++i == n) i = 0;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.bytes.size() / n));
}
BENCHMARK(BM_Validate);

void BM_ValidateWithSpans(benchmark::State& state) {
    const Validator v(example_schema());
    const Corpus& c = corpus();
    const auto* base = reinterpret_cast<const uint8_t*>(c.bytes.data());
    const size_t n = c.offsets.size() - 1;
    FieldSpan spans[16];
    size_t i = 0;
    for (auto _ : state) {
        const size_t len = c.offsets[i + 1] - c.offsets[i];
        ValidateResult r = v.validate(base + c.offsets[i], len, spans);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(spans);
        if (++i == n) i = 0;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ValidateWithSpans);

// A batched datagram: datums back to back, validated one after the other.
void BM_ValidateBatch(benchmark::State& state) {
    const Validator v(example_schema());
    const Corpus& c = corpus();
    const auto* p0 = reinterpret_cast<const uint8_t*>(c.bytes.data());
    const size_t n = c.offsets.size() - 1;
    for (auto _ : state) {
        const uint8_t* p = p0;
        size_t left = c.bytes.size();
        while (left) {
            ValidateResult r = v.validate(p, left);
            if (!r.ok()) state.SkipWithError("invalid datum");
            p += r.consumed;
            left -= r.consumed;
        }
        benchmark::DoNotOptimize(p);
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.bytes.size()));
}
BENCHMARK(BM_ValidateBatch);

// Full decoding into Value trees (allocates; tools and exporters, not the relay).
void BM_Decode(benchmark::State& state) {
    const Schema& s = example_schema();
    const Corpus& c = corpus();
    const auto* base = reinterpret_cast<const uint8_t*>(c.bytes.data());
    const size_t n = c.offsets.size() - 1;
    size_t i = 0;
    for (auto _ : state) {
        const uint8_t* p = base + c.offsets[i];
        auto v = decode(s, p, base + c.offsets[i + 1]);
        benchmark::DoNotOptimize(v);
        if (++i == n) i = 0;
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Decode);

}  // namespace

BENCHMARK_MAIN();
