// Example SpeedData source in C++: sends the `example` channel's waveforms to its relay.
// Copy this file and include/speeddata/sender.hpp into your project; nothing else needed.
//
//   example_sender [schema.avsc] [port] [rate_hz] [count] [per_datagram]
//   example_sender config/agents/example.avsc 26000 10 0 1     (the defaults; count 0 = forever)
//
// Build: g++ -std=c++20 -O2 -I include examples/sender/sender.cpp -o example_sender
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numbers>
#include <string>
#include <thread>

#include <speeddata/sender.hpp>

namespace sds = speeddata::sender;

int main(int argc, char** argv) {
    const std::string schema_path = argc > 1 ? argv[1] : "config/agents/example.avsc";
    const int port = argc > 2 ? std::atoi(argv[2]) : 26000;
    const double rate_hz = argc > 3 ? std::atof(argv[3]) : 10.0;
    const long count = argc > 4 ? std::atol(argv[4]) : 0;
    const long per_datagram = argc > 5 ? std::atol(argv[5]) : 1;
    if (port <= 0 || port > 65535 || rate_hz <= 0 || count < 0 || per_datagram < 1) {
        std::cerr << "usage: example_sender [schema.avsc] [port] [rate_hz > 0] [count] [per_datagram >= 1]\n";
        return 2;
    }

    try {
        // The schema file is the channel's contract with the relay: read it rather than
        // restate it, so the two cannot drift apart.
        sds::record_schema schema = sds::record_schema::from_avsc_file(schema_path);
        sds::sender out(schema, {.host = "127.0.0.1",
                                 .port = static_cast<std::uint16_t>(port),
                                 .max_records_per_datagram = static_cast<std::size_t>(per_datagram)});

        // Look field indexes up once; setting by index skips the name search per sample.
        const std::size_t time = schema.index_of("time"), message = schema.index_of("message"),
                          counter = schema.index_of("counter"), sine = schema.index_of("sine_wave"),
                          ramp = schema.index_of("ramp"), square = schema.index_of("square_wave"),
                          noise = schema.index_of("noise");
        const char* words[] = {"alpha", "bravo", "charlie", "delta"};

        // Sleep to absolute deadlines so the rate does not drift with the loop's own cost.
        const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(1.0 / rate_hz));
        auto next = std::chrono::steady_clock::now();
        for (long i = 0; count == 0 || i < count; ++i) {
            const auto now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
            out.set(time, static_cast<std::int64_t>(now_ns));
            out.set(message, words[i % 4]);
            out.set(counter, static_cast<std::int32_t>(i));  // an Avro int
            out.set(sine, std::sin(2.0 * std::numbers::pi * static_cast<double>(i) / 20.0));
            out.set(ramp, static_cast<double>(i % 40) / 40.0 * 2.0 - 1.0);  // -1 .. +1
            out.set(square, i % 20 < 10 ? 1.0 : -1.0);
            out.set(noise, static_cast<double>(std::rand()) / (static_cast<double>(RAND_MAX) + 1.0) - 0.5);
            // add() sends once per_datagram datums are packed; errors are reported, not fatal:
            // the relay may simply not be up yet.
            if (auto st = out.add(); !st) std::cerr << out.message(st) << '\n';
            next += period;
            std::this_thread::sleep_until(next);
        }
        if (auto st = out.flush(); !st) std::cerr << out.message(st) << '\n';
        std::printf("sent %llu datagrams, %llu records, %llu errors\n",
                    static_cast<unsigned long long>(out.stats().datagrams),
                    static_cast<unsigned long long>(out.stats().records),
                    static_cast<unsigned long long>(out.stats().errors));
    } catch (const sds::error& e) {
        std::cerr << "example_sender: " << e.what() << '\n';
        return 1;
    }
    return 0;
}
