// `speeddata send`: the example sources (example, temperature) and the load generator.
// Sources author-style, through include/speeddata/sender.hpp (the library sources use), so
// that the CLI exercises the same code every source does.
#include "cli/cmd_send.hpp"

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <numbers>
#include <random>
#include <string_view>

#include "cli/commands.hpp"
#include "core/text.hpp"
#include "core/config/config.hpp"

namespace speeddata::cli {
namespace send {

namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int) { g_stop = 1; }

struct sigaction g_old_int {};
struct sigaction g_old_term {};

// The earlier sender took a random word of the system dictionary; a fixed list sends the same
// kind of text on every machine (and words a test can know).
constexpr std::string_view k_words[] = {
    "alpha", "bravo",  "charlie", "delta",   "echo",   "foxtrot", "golf",    "hotel",  "india",   "juliet", "kilo",
    "lima",  "mike",   "november", "oscar",  "papa",   "quebec",  "romeo",   "sierra", "tango",   "uniform", "victor",
    "whiskey", "xray", "yankee",  "zulu",    "anchor", "beacon",  "cascade", "dynamo", "ember",   "falcon", "glacier",
    "harbor", "island", "jasmine", "kernel", "lantern", "meadow", "nebula",  "orchard", "pioneer", "quartz", "river",
    "summit", "timber", "umbrella", "valley", "willow", "zephyr"};

// Uniform in [-0.5, 0.5): 53 random bits scaled, so 0.5 itself can never come out
// (std::uniform_real_distribution may round up to its upper bound).
double noise(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53 - 0.5; }


// The one machine-readable line every mode ends with (stdout; everything else is stderr).
void print_summary(const totals& t) {
    double rate = t.seconds > 0 ? static_cast<double>(t.datagrams) / t.seconds : 0.0;
    std::printf("{\"datagrams\": %" PRIu64 ", \"records\": %" PRIu64 ", \"bytes\": %" PRIu64
                ", \"seconds\": %.6f, \"rate\": %.1f, \"errors\": %" PRIu64 ", \"dropped_records\": %" PRIu64
                ", \"inexact_datagrams\": %" PRIu64 ", \"last_error\": %s}\n",
                t.datagrams, t.records, t.bytes, t.seconds, rate, t.errors, t.dropped_records, t.inexact,
                t.last_error.empty() ? "null" : ("\"" + json_escape(t.last_error) + "\"").c_str());
    std::fflush(stdout);
}

void print_sentence(const totals& t, const char* unit) {
    const bool records = std::string_view(unit) == "records";
    const std::uint64_t n = records ? t.records : t.datagrams;
    std::printf("speeddata send: sent %" PRIu64 " %s in %" PRIu64 " datagrams (%.1f MB) over %.1f s, %.0f/s", n, unit,
                t.datagrams, static_cast<double>(t.bytes) / 1e6, t.seconds,
                t.seconds > 0 ? static_cast<double>(n) / t.seconds : 0.0);
    if (t.errors > 0)
        std::printf("; %" PRIu64 " sends failed (%" PRIu64 " records dropped), last: %s", t.errors, t.dropped_records,
                    t.last_error.c_str());
    if (t.inexact > 0) std::printf("; %" PRIu64 " datagrams one byte short", t.inexact);
    std::printf("\n");
    std::fflush(stdout);
}

// config/agents/sensor.avsc: a newer sensor record with float readings and an enum status.
sender::record_schema sensor_schema() {
    sender::record_schema s("sensor");
    s.add("time", sender::avro_type::int64)
        .add("sensor", sender::avro_type::string)
        .add("temperature", sender::avro_type::float32)
        .add("humidity", sender::avro_type::float32)
        .add_enum("status", {"OK", "WARN", "FAULT"});
    return s;
}

// Fills one sample of a record source. counter is the sample number from 0.
using fill_fn = void (*)(sender::record&, std::uint64_t counter, std::mt19937_64& rng);

// The example channel, what the earlier examples/sender/sender.py sent (field order of
// config/agents/example.avsc): time, message, counter, sine_wave, ramp, square_wave, noise;
// every signal within [-1, +1].
void fill_example(sender::record& r, std::uint64_t counter, std::mt19937_64& rng) {
    const auto c = static_cast<std::int64_t>(counter);
    r.set(0, now_ns());
    r.set(1, k_words[rng() % std::size(k_words)]);
    r.set(2, example_counter(counter));
    r.set(3, std::sin(2.0 * std::numbers::pi * static_cast<double>(c) / 20.0));
    r.set(4, example_ramp(counter));
    r.set(5, c % 20 < 10 ? 1.0 : -1.0);
    r.set(6, noise(rng));
}

// The temperature channel, what the earlier examples/sender/temperature_sender.py sent
// (config/agents/temperature.avsc): a room around 22 degC drifting +-2 degC (period 200
// samples) on a daily cycle of +-5 degC (86400 samples: a day at 1 Hz), with Gaussian noise;
// Fahrenheit from it; pressure around 101325 Pa falling with temperature, plus weather
// (period 300); humidity around 45 % (period 250), clamped to 0..100; status from the
// temperature.
void fill_temperature(sender::record& r, std::uint64_t counter, std::mt19937_64& rng) {
    const double c = static_cast<double>(counter);
    const auto gauss = [&](double sigma) { return std::normal_distribution<double>(0.0, sigma)(rng); };
    constexpr double base_c = 22.0, base_pa = 101325.0, base_humidity = 45.0;
    const double two_pi = 2.0 * std::numbers::pi;
    const double temp_c =
        base_c + 2.0 * std::sin(two_pi * c / 200.0) + 5.0 * std::sin(two_pi * c / 86400.0) + gauss(0.1);
    const double pressure = base_pa - 100.0 * temp_c + 500.0 * std::sin(two_pi * c / 300.0) + gauss(50.0);
    double humidity =
        base_humidity - 2.0 * (temp_c - base_c) + 10.0 * std::cos(two_pi * c / 250.0) + gauss(1.0);
    humidity = std::clamp(humidity, 0.0, 100.0);
    const char* status = temp_c > 40.0 || temp_c < 5.0 ? "error" : temp_c > 35.0 || temp_c < 10.0 ? "warning" : "ok";
    r.set(0, now_ns());
    r.set(1, "TEMP-SENSOR-001");
    r.set(2, temp_c);
    r.set(3, temp_c * 9.0 / 5.0 + 32.0);
    r.set(4, pressure);
    r.set(5, humidity);
    r.set(6, status);
}

// The sensor schema: a slow sine around 21 degC (period 600 samples, 10 min at 1 Hz),
// humidity a slower cosine around 45 %, status WARN once a minute and FAULT once every
// 5 minutes at 1 Hz (deterministic, so that a chart shows them predictably).
void fill_sensor(sender::record& r, std::uint64_t counter, std::mt19937_64& rng) {
    const double c = static_cast<double>(counter);
    r.set(0, now_ns());
    r.set(1, "sensor-1");
    r.set(2, 21.0 + 2.0 * std::sin(2.0 * std::numbers::pi * c / 600.0) + 0.05 * noise(rng));
    r.set(3, 45.0 + 5.0 * std::cos(2.0 * std::numbers::pi * c / 900.0));
    r.set(4, counter % 300 == 299 ? 2 : counter % 60 == 59 ? 1 : 0);
}

// True when two schemas have the same fields in the same order (names, types, unions,
// enum symbols, fixed sizes): then the relay accepts what the source sends.
bool same_fields(const sender::record_schema& a, const sender::record_schema& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const sender::field &x = a[i], &y = b[i];
        if (x.name != y.name || x.type != y.type || x.nullable != y.nullable || x.null_branch != y.null_branch ||
            x.symbols != y.symbols || x.fixed_size != y.fixed_size)
            return false;
    }
    return true;
}

// The built-in source whose records a schema takes: "example", "temperature", "sensor" or "".
std::string source_of(const sender::record_schema& schema) {
    if (same_fields(schema, example_schema())) return "example";
    if (same_fields(schema, temperature_schema())) return "temperature";
    if (same_fields(schema, sensor_schema())) return "sensor";
    return "";
}

// --channel NAME: the channel's port and address from relay.yaml, and the source whose
// records its schema takes (when --source is not given). Fails with the config's message.
void apply_channel(options& o, const std::string& channel, const std::filesystem::path& dir, bool source_given,
                   bool host_given, bool port_given) {
    auto cfg = config::load_relay_config(dir);
    if (!cfg) fail("send", cfg.message(), 2);
    auto it = cfg->channels.find(channel);
    if (it == cfg->channels.end()) {
        std::string known;
        for (const auto& [name, _] : cfg->channels) known += (known.empty() ? "" : ", ") + name;
        fail("send", (dir / "relay.yaml").string() + ": no channel '" + channel + "' (known: " + known + ")", 2);
    }
    const config::ChannelConfig& ch = it->second;
    if (!port_given) o.port = ch.port;
    // A relay bound to every address is reached on loopback from this host.
    if (!host_given) o.host = ch.bind == "0.0.0.0" || ch.bind == "::" || ch.bind.empty() ? "127.0.0.1" : ch.bind;

    sender::record_schema schema;
    try {
        schema = sender::record_schema::from_avsc_file(ch.schema_path.string());
    } catch (const sender::error& e) {
        fail("send", "channel " + channel + ": " + e.what(), 2);
    }
    const std::string matching = source_of(schema);
    if (!source_given && !o.load && !matching.empty()) o.source = matching;
    const bool fits = matching == (o.load ? std::string("example") : o.source);
    if (!fits)
        fail("send",
             "channel " + channel + ": its schema " + ch.schema_path.string() + " does not match the " +
                 (o.load ? std::string("example records --load sends") : "'" + o.source + "' source") +
                 " (speeddata send has sources for the example, temperature and sensor schemas only)",
             2);
}

// A record source: paced samples, per_datagram datums per datagram.
totals run_records(const options& o) {
    const bool temperature = o.source == "temperature", sensor = o.source == "sensor";
    sender::sender out(temperature ? temperature_schema() : sensor ? sensor_schema() : example_schema(),
                       {.host = o.host,
                        .port = o.port,
                        .max_datagram_bytes = sender::max_udp_payload,
                        .max_records_per_datagram = o.per_datagram,
                        .send_buffer_bytes = o.socket_buffer});
    fill_fn fill = temperature ? fill_temperature : sensor ? fill_sensor : fill_example;
    std::mt19937_64 rng(o.seed ? *o.seed : std::random_device{}());
    error_log errors;

    std::int64_t deadline = o.duration > 0 ? monotonic_ns() + static_cast<std::int64_t>(o.duration * 1e9) : 0;
    pacer pace(o.rate, o.per_datagram, deadline);
    progress_line progress(o, "records");
    std::uint64_t counter = 0;
    while (o.count == 0 || counter < o.count) {
        std::size_t want = o.count ? static_cast<std::size_t>(std::min<std::uint64_t>(o.per_datagram, o.count - counter))
                                   : o.per_datagram;
        std::size_t n = pace.acquire(want);
        if (n == 0) break;
        for (std::size_t i = 0; i < n; ++i, ++counter) {
            fill(out.values(), counter, rng);
            if (auto st = out.add(); !st) errors.note(out.message(st), st.error);
        }
        progress.update(out.stats().datagrams, out.stats().records, out.stats().errors);
    }
    if (auto st = out.flush(); !st) errors.note(out.message(st), st.error);
    progress.finish();

    totals t;
    t.seconds = static_cast<double>(monotonic_ns() - pace.start_ns()) / 1e9;
    t.datagrams = out.stats().datagrams;
    t.records = out.stats().records;
    t.bytes = out.stats().bytes;
    t.errors = out.stats().errors;
    t.dropped_records = out.stats().dropped_records;
    t.last_error = errors.last();
    return t;
}

}  // namespace

progress_line::progress_line(const options& o, const char* unit)
    : on_(o.progress), unit_(unit), duration_(o.duration), count_(o.count), start_ns_(monotonic_ns()) {}

void progress_line::maybe_draw(std::uint64_t datagrams, std::uint64_t records, std::uint64_t errors) {
    const std::int64_t now = monotonic_ns();
    if (now < next_ns_) return;
    next_ns_ = now + 250'000'000;
    const double s = static_cast<double>(now - start_ns_) / 1e9;
    const std::uint64_t shown = std::string_view(unit_) == "records" ? records : datagrams;
    char of[64] = "";
    if (duration_ > 0)
        std::snprintf(of, sizeof of, " of %g s", duration_);
    else if (count_ > 0)
        std::snprintf(of, sizeof of, " (%.0f %%)", 100.0 * static_cast<double>(shown) / static_cast<double>(count_));
    char errs[48] = "";
    if (errors > 0) std::snprintf(errs, sizeof errs, ", %" PRIu64 " send errors", errors);
    char rate[32] = "";  // from half a second on: before, it says little
    if (s >= 0.5) std::snprintf(rate, sizeof rate, ", %.0f/s", static_cast<double>(shown) / s);
    std::fprintf(stderr, "\r\033[Kspeeddata send: %" PRIu64 " %s in %" PRIu64 " datagrams, %.1f s%s%s%s", shown, unit_,
                 datagrams, s, of, rate, errs);
    std::fflush(stderr);
    drawn_ = true;
}

void progress_line::finish() {
    if (drawn_) std::fputs("\r\033[K", stderr);  // the summary replaces the line
    drawn_ = false;
    on_ = false;
}

void error_log::note(const std::string& message, int err) {
    if (seen_.insert(err).second)
        std::cerr << "speeddata send: " << message << " (counted; this error is not shown again)" << std::endl;
    last_ = message;
}

sender::record_schema example_schema() {
    sender::record_schema s("data");
    s.add("time", sender::avro_type::int64)
        .add("message", sender::avro_type::string)
        .add("counter", sender::avro_type::int32)
        .add("sine_wave", sender::avro_type::float64)
        .add("ramp", sender::avro_type::float64)
        .add("square_wave", sender::avro_type::float64)
        .add("noise", sender::avro_type::float64);
    return s;
}

sender::record_schema temperature_schema() {
    sender::record_schema s("temperature_data");
    s.add("time", sender::avro_type::int64)
        .add("device_id", sender::avro_type::string)
        .add("temperature_c", sender::avro_type::float64)
        .add("temperature_f", sender::avro_type::float64)
        .add("pressure_pa", sender::avro_type::float64)
        .add("humidity_pct", sender::avro_type::float64)
        .add("status", sender::avro_type::string);
    return s;
}

std::int32_t example_counter(std::uint64_t counter) {
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(counter));
}

double example_ramp(std::uint64_t counter) { return static_cast<double>(counter % 40) / 40.0 * 2.0 - 1.0; }

std::string source_for_schema(const std::filesystem::path& avsc) {
    try {
        return source_of(sender::record_schema::from_avsc_file(avsc.string()));
    } catch (const sender::error&) {
        return "";
    }
}

std::uint16_t default_port(const std::string& source) {
    return source == "temperature" ? 26001 : source == "sensor" ? 26002 : 26000;
}

double default_rate(const std::string& source) { return source == "example" ? 100 : 1; }

bool stop_requested() { return g_stop != 0; }

stop_guard::stop_guard() {
    g_stop = 0;
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    // No SA_RESTART: a sleeping pacer must wake up. SA_RESETHAND: a second signal kills.
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
}

stop_guard::~stop_guard() {
    sigaction(SIGINT, &g_old_int, nullptr);
    sigaction(SIGTERM, &g_old_term, nullptr);
}

pacer::pacer(double rate, std::size_t max_bunch, std::int64_t deadline_ns)
    : rate_(rate), deadline_ns_(deadline_ns), start_ns_(monotonic_ns()) {
    // About 1 ms of items per release: coarse enough for full batches at high rates, fine
    // enough that a 100 Hz source sends every sample on its own tick.
    double per_ms = rate > 0 ? rate / 1000.0 : static_cast<double>(max_bunch);
    bunch_ = std::max<std::size_t>(1, std::min<std::size_t>(max_bunch, static_cast<std::size_t>(per_ms)));
}

std::int64_t pacer::due_ns(std::uint64_t item) const {
    return start_ns_ + static_cast<std::int64_t>(static_cast<double>(item) * 1e9 / rate_);
}

std::size_t pacer::acquire(std::size_t want) {
    if (want == 0 || stop_requested()) return 0;
    if (rate_ <= 0) {
        if (deadline_ns_ && monotonic_ns() >= deadline_ns_) return 0;
        issued_ += want;
        return want;
    }
    std::uint64_t last = issued_ + std::min(want, bunch_) - 1;  // wait for this item
    std::int64_t wake = due_ns(last);
    // The run ends at the deadline on the clock even when sending fell behind the schedule:
    // --duration is seconds of running, not a budget of datagrams.
    if (deadline_ns_ && (due_ns(issued_) >= deadline_ns_ || monotonic_ns() >= deadline_ns_)) return 0;
    if (deadline_ns_ && wake > deadline_ns_) wake = deadline_ns_;
    timespec ts{static_cast<time_t>(wake / 1'000'000'000), static_cast<long>(wake % 1'000'000'000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
        if (stop_requested()) return 0;
    }
    if (stop_requested()) return 0;
    // Everything due by now may go: this is how lateness is caught up.
    std::int64_t elapsed = monotonic_ns() - start_ns_;
    auto due = static_cast<std::uint64_t>(static_cast<double>(elapsed) * rate_ / 1e9) + 1;
    if (due <= issued_) due = issued_ + 1;  // rounding at the wake-up instant
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(want, due - issued_));
    issued_ += n;
    return n;
}

}  // namespace send

void add_send_command(CLI::App& app) {
    auto o = std::make_shared<send::options>();
    auto seed = std::make_shared<std::uint64_t>(0);
    CLI::App* cmd = app.add_subcommand(
        "send",
        "Example source and load generator: sends Avro datums of a channel's schema over UDP to a relay.\n"
        "Ends with one JSON line on stdout: {\"datagrams\", \"records\", \"bytes\", \"seconds\", \"rate\", \"errors\", ...}.\n"
        "Send errors (e.g. 'Connection refused' when no relay listens) are counted, not fatal.");
    cmd->add_option("--source", o->source,
                    "Record source: 'example' (agents/example.avsc: waveforms, port 26000, 100 Hz), 'temperature' "
                    "(agents/temperature.avsc, port 26001, 1 Hz) or 'sensor' (agents/sensor.avsc, port 26002, 1 Hz)")
        ->check(CLI::IsMember({"example", "temperature", "sensor"}))
        ->capture_default_str();
    cmd->add_flag("--load", o->load,
                  "Load generator: example records padded so every datagram is exactly --datagram-size bytes; "
                  "--rate and --count are then in datagrams, default rate 0 (as fast as possible)");
    cmd->add_option("--host", o->host, "Relay address")->capture_default_str();
    CLI::Option* port = cmd->add_option("--port", o->port, "Relay UDP port (default: 26000, temperature 26001, sensor 26002)");
    CLI::Option* rate = cmd->add_option("--rate", o->rate,
                                        "Records/s (datagrams/s with --load); 0 = as fast as possible "
                                        "(default: example 100, temperature and sensor 1, --load 0)")
                            ->check(CLI::NonNegativeNumber);
    cmd->add_option("--count", o->count, "Records (datagrams with --load) to send; 0 = until stopped")
        ->capture_default_str();
    cmd->add_option("--duration", o->duration, "Seconds to run; 0 = until stopped")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--per-datagram", o->per_datagram, "Datums per datagram (sent back to back)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{65535}))
        ->capture_default_str();
    cmd->add_option("--datagram-size", o->datagram_size, "With --load: exact UDP payload bytes of every datagram")
        ->check(CLI::Range(std::size_t{1}, sender::max_udp_payload))
        ->capture_default_str();
    cmd->add_option("--batch", o->batch, "With --load: datagrams per sendmmsg call")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1024}))
        ->capture_default_str();
    cmd->add_option("--socket-buffer", o->socket_buffer, "SO_SNDBUF request in bytes (0 = OS default)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    CLI::Option* seed_opt = cmd->add_option("--seed", *seed, "Seed for words and noise (default: random)");
    auto channel = std::make_shared<std::string>();
    auto config_dir = std::make_shared<std::string>();
    CLI::Option* channel_opt = cmd->add_option(
        "-c,--channel", *channel,
        "Send to this channel of relay.yaml: its port and bind address, and (without --source) the source "
        "matching its schema; --host/--port still override");
    auto json = std::make_shared<bool>(false);
    cmd->add_flag("--json", *json,
                  "Print the summary as one JSON line (the default when stdout is not a terminal)");
    cmd->add_option("--config-dir", *config_dir, "Configuration directory for --channel (default $SPEEDDATA_CONFIG or ./config)");
    CLI::Option* source_opt = cmd->get_option("--source");
    CLI::Option* host_opt = cmd->get_option("--host");

    cmd->callback([o, port, rate, seed, seed_opt, channel, config_dir, channel_opt, source_opt, host_opt, json] {
        if (channel_opt->count() > 0) {
            std::filesystem::path dir = config_dir->empty() ? default_config_dir() : std::filesystem::path(*config_dir);
            send::apply_channel(*o, *channel, dir, source_opt->count() > 0, host_opt->count() > 0, port->count() > 0);
        } else if (port->count() == 0) {
            o->port = o->load ? 26000 : send::default_port(o->source);
        }
        if (rate->count() == 0) o->rate = o->load ? 0 : send::default_rate(o->source);
        if (seed_opt->count() > 0) o->seed = *seed;
        if (o->load && o->source != "example") fail("send", "--load sends example records; drop --source", 2);
        if (o->port == 0) fail("send", "--port must be 1..65535", 2);

        // On a terminal: a live progress line and a sentence at the end; for scripts (stdout
        // not a terminal, or --json): the one JSON line.
        const bool as_json = *json || !isatty(STDOUT_FILENO);
        o->progress = isatty(STDERR_FILENO) && !as_json;
        send::totals t;
        try {
            send::stop_guard guard;
            t = o->load ? send::run_load(*o) : send::run_records(*o);
        } catch (const sender::error& e) {
            fail("send", e.what());
        }
        if (as_json)
            send::print_summary(t);
        else
            send::print_sentence(t, o->load ? "datagrams" : "records");
    });
}

}  // namespace speeddata::cli
