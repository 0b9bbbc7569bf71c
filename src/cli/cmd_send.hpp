// Internals of `speeddata send`, shared by cmd_send.cpp (CLI, record sources) and
// cmd_send_load.cpp (load generator). Not a public interface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>

#include <speeddata/sender.hpp>

#include "core/time.hpp"  // monotonic_ns, now_ns

namespace speeddata::cli::send {

struct options {
    std::string source = "example";  // example | temperature | sensor
    bool load = false;               // load generator instead of a record source
    std::string host = "127.0.0.1";
    std::uint16_t port = 26000;
    double rate = 100;               // records/s (sources) or datagrams/s (--load); 0 = unpaced
    std::uint64_t count = 0;         // records (sources) or datagrams (--load); 0 = no limit
    double duration = 0;             // seconds; 0 = no limit
    std::size_t per_datagram = 1;    // datums per datagram
    std::size_t datagram_size = 64;  // --load: exact UDP payload bytes
    std::size_t batch = 64;          // --load: datagrams per sendmmsg
    int socket_buffer = 0;           // SO_SNDBUF request (0 = OS default)
    std::optional<std::uint64_t> seed;  // words and noise; unset = random
    bool progress = false;           // a live progress line on stderr (a terminal)
};

// A live line of progress on stderr ("\r"-rewritten at most 4 times a second) while a
// terminal watches; nothing otherwise. update() is cheap enough for every send.
class progress_line {
public:
    progress_line(const options& o, const char* unit);
    ~progress_line() { finish(); }
    progress_line(const progress_line&) = delete;
    progress_line& operator=(const progress_line&) = delete;
    void update(std::uint64_t datagrams, std::uint64_t records, std::uint64_t errors) {
        if (on_) maybe_draw(datagrams, records, errors);
    }
    void finish();

private:
    void maybe_draw(std::uint64_t datagrams, std::uint64_t records, std::uint64_t errors);
    bool on_;
    bool drawn_ = false;
    const char* unit_;
    double duration_;
    std::uint64_t count_;
    std::int64_t start_ns_;
    std::int64_t next_ns_ = 0;
};

// What was sent; printed as one JSON line at the end.
struct totals {
    std::uint64_t datagrams = 0;        // datagrams sent
    std::uint64_t records = 0;          // datums in them
    std::uint64_t bytes = 0;            // UDP payload bytes
    std::uint64_t errors = 0;           // failed sends (counted, not fatal)
    std::uint64_t dropped_records = 0;  // datums in the failed sends
    std::uint64_t inexact = 0;          // --load: datagrams one byte short (see cmd_send_load.cpp)
    double seconds = 0;                 // first send to last send
    std::string last_error;             // "sendmmsg 127.0.0.1:26000: Connection refused"
};

// Prints the first occurrence of each kind of send error to stderr, and keeps the last
// one for the summary: an unreachable relay must not flood the terminal.
class error_log {
public:
    void note(const std::string& message, int err);
    const std::string& last() const { return last_; }

private:
    std::set<int> seen_;
    std::string last_;
};

// The example and temperature schemas (config/agents/example.avsc, temperature.avsc: the
// earlier version's), built in code so that `speeddata send` works from any directory.
sender::record_schema example_schema();
sender::record_schema temperature_schema();
// The example record's counter (an Avro int: wraps after 2^31 - 1) and ramp (sawtooth from
// -1 to +1, period 40 samples), shared by the source and the load generator.
std::int32_t example_counter(std::uint64_t counter);
double example_ramp(std::uint64_t counter);

// The built-in source ("example", "temperature", "sensor") whose records the schema file
// takes (same fields, types, order), or "" when none does or the file cannot be read.
std::string source_for_schema(const std::filesystem::path& avsc);
// A source's default relay port and rate (records/s).
std::uint16_t default_port(const std::string& source);
double default_rate(const std::string& source);

// True once SIGINT or SIGTERM arrived (see stop_guard).
bool stop_requested();

// Installs SIGINT/SIGTERM handlers that request a clean stop, for its lifetime. The
// handlers reset themselves, so a second Ctrl-C kills the process the usual way.
class stop_guard {
public:
    stop_guard();
    ~stop_guard();
    stop_guard(const stop_guard&) = delete;
    stop_guard& operator=(const stop_guard&) = delete;
};

// Paces items (records or datagrams) at an average rate on the monotonic clock: item i is
// due at start + i/rate. Releases items in bunches of at most ~1 ms worth (and at most
// max_bunch), so fast rates get full sendmmsg batches and slow rates get evenly spaced
// single items. Lateness (a descheduled process) is caught up at full speed, so the
// average rate holds.
class pacer {
public:
    // rate in items/s (0 = unpaced); deadline_ns on the monotonic clock (0 = none).
    pacer(double rate, std::size_t max_bunch, std::int64_t deadline_ns);

    // Blocks until at least one item is due, then returns how many (1..want) may be sent
    // now and counts them as issued. Returns 0 when a stop was requested or the next item
    // would be due after the deadline.
    std::size_t acquire(std::size_t want);

    std::int64_t start_ns() const { return start_ns_; }

private:
    std::int64_t due_ns(std::uint64_t item) const;

    double rate_;
    std::size_t bunch_;
    std::int64_t deadline_ns_;
    std::int64_t start_ns_;
    std::uint64_t issued_ = 0;
};

// The load generator (`--load`). Throws sender::error on set-up failures.
totals run_load(const options& o);

}  // namespace speeddata::cli::send
