// `speeddata send --load`: example records padded so that every datagram is exactly
// --datagram-size bytes, sent in sendmmsg batches at a paced datagram rate.
#include <sys/uio.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iostream>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "cli/cmd_send.hpp"

namespace speeddata::cli::send {

namespace {

// Bytes of a string field whose text is len bytes: the length varint, then the text.
std::size_t string_bytes(std::size_t len) { return sender::long_size(static_cast<std::int64_t>(len)) + len; }

// Every size >= 1 is string_bytes(len) for some len except 65, 8194, 1048579, ...: at
// those the length varint grows a byte just as the text would, so the size jumps by two.
bool unreachable(std::size_t bytes) {
    for (std::size_t vlen = 1; vlen <= 4; ++vlen) {
        std::size_t first_len = std::size_t{1} << (7 * vlen - 1);  // first len needing vlen+1 bytes
        if (bytes == first_len + vlen) return true;
    }
    return false;
}

// Text length whose string field takes exactly bytes (which must not be unreachable).
std::size_t text_length(std::size_t bytes) {
    for (std::size_t vlen = 1; vlen <= 4; ++vlen) {
        if (bytes < vlen) break;
        std::size_t len = bytes - vlen;
        if (string_bytes(len) == bytes) return len;
    }
    return 0;
}

// Splits the string budget of one datagram (total bytes for N message fields) into N
// reachable field sizes, as even as possible. Returns false when it cannot be exact:
// only N = 1 with an unreachable total. Sizes are then one byte short (never over).
bool split_budget(std::size_t total, std::vector<std::size_t>& sizes) {
    const std::size_t n = sizes.size();
    for (std::size_t k = 0; k < n; ++k) sizes[k] = total / n + (k < total % n ? 1 : 0);
    bool exact = true;
    for (std::size_t k = 0; k < n; ++k) {
        if (!unreachable(sizes[k])) continue;
        bool moved = false;
        // Unreachable sizes are isolated, so shifting one or two bytes to a neighbour fixes
        // both (gap + 1 and gap + 2 are always reachable).
        for (std::size_t delta = 1; delta <= 2 && !moved; ++delta) {
            if (sizes[k] <= delta || unreachable(sizes[k] - delta)) continue;
            for (std::size_t j = 0; j < n && !moved; ++j) {
                if (j == k || unreachable(sizes[j] + delta)) continue;
                sizes[k] -= delta;
                sizes[j] += delta;
                moved = true;
            }
        }
        if (!moved) {
            sizes[k] -= 1;
            exact = false;
        }
    }
    return exact;
}

}  // namespace

totals run_load(const options& o) {
    const std::size_t size = o.datagram_size;
    const std::size_t per = o.per_datagram;
    const std::size_t batch = o.batch;
    sender::udp_socket sock = sender::udp_socket::connect_to(o.host, o.port, o.socket_buffer);
    const std::string peer = o.host + ":" + std::to_string(o.port);
    sender::record rec(example_schema());
    std::mt19937_64 rng(o.seed ? *o.seed : std::random_device{}());

    // Padding text: the words repeated, long enough for any datagram.
    std::string pad;
    static constexpr std::string_view words[] = {"alpha ", "bravo ", "charlie ", "delta ", "echo ", "foxtrot "};
    for (std::size_t i = 0; pad.size() < size; ++i) pad += words[i % std::size(words)];

    std::vector<std::uint8_t> arena(batch * size);  // the datagrams of one sendmmsg batch
    std::vector<iovec> iov(batch);
    std::vector<std::size_t> message_bytes(per);
    error_log errors;
    totals t;
    bool warned_inexact = false;

    std::int64_t deadline = o.duration > 0 ? monotonic_ns() + static_cast<std::int64_t>(o.duration * 1e9) : 0;
    pacer pace(o.rate, batch, deadline);
    progress_line progress(o, "datagrams");
    std::uint64_t attempted = 0;  // datagrams built and tried
    std::uint64_t counter = 0;    // example counter, +1 per datum
    while (o.count == 0 || attempted < o.count) {
        std::size_t want = o.count ? static_cast<std::size_t>(std::min<std::uint64_t>(batch, o.count - attempted)) : batch;
        std::size_t n = pace.acquire(want);
        if (n == 0) break;

        for (std::size_t d = 0; d < n; ++d) {
            std::uint8_t* start = arena.data() + d * size;
            const std::int64_t now = now_ns();
            // Everything but the message has a size fixed by its value: time and counter
            // varints, four doubles. The message takes up the rest.
            std::size_t fixed = 0;
            for (std::size_t k = 0; k < per; ++k)
                fixed += sender::long_size(now) + sender::long_size(example_counter(counter + k)) + 4 * 8;
            if (fixed + per > size)
                throw sender::error("--datagram-size " + std::to_string(size) + " is too small for " +
                                    std::to_string(per) + " example datums (need at least " +
                                    std::to_string(fixed + per) + " bytes at counter " + std::to_string(counter) + ")");
            if (!split_budget(size - fixed, message_bytes)) {
                ++t.inexact;
                if (!warned_inexact) {
                    std::cerr << "speeddata send: --datagram-size " << size
                              << " cannot be filled exactly by one datum at counter " << counter
                              << "; such datagrams are one byte short (counted as inexact_datagrams)" << std::endl;
                    warned_inexact = true;
                }
            }
            std::uint8_t* p = start;
            for (std::size_t k = 0; k < per; ++k, ++counter) {
                const auto c = static_cast<std::int64_t>(counter);
                rec.set(0, now);
                rec.set(1, std::string_view(pad.data(), text_length(message_bytes[k])));
                rec.set(2, example_counter(counter));
                rec.set(3, std::sin(2.0 * std::numbers::pi * static_cast<double>(c) / 20.0));
                rec.set(4, example_ramp(counter));
                rec.set(5, c % 20 < 10 ? 1.0 : -1.0);
                rec.set(6, static_cast<double>(rng() >> 11) * 0x1.0p-53 - 0.5);
                p = rec.encode(p);
            }
            iov[d] = iovec{start, static_cast<std::size_t>(p - start)};
        }

        std::size_t done = 0;
        while (done < n) {
            auto r = sock.send_batch(std::span<const iovec>(iov.data() + done, n - done));
            for (std::size_t i = 0; i < r.sent; ++i) t.bytes += iov[done + i].iov_len;
            t.datagrams += r.sent;
            done += r.sent;
            if (r.error) {
                // The datagram that failed is dropped, not retried: a load generator measures
                // what the path takes, and a refused port refuses the retry too.
                ++t.errors;
                t.dropped_records += per;
                errors.note("sendmmsg " + peer + ": " + std::strerror(r.error), r.error);
                ++done;
            }
        }
        attempted += n;
        progress.update(t.datagrams, t.datagrams * per, t.errors);
    }
    progress.finish();
    t.seconds = static_cast<double>(monotonic_ns() - pace.start_ns()) / 1e9;
    t.records = t.datagrams * per;
    t.last_error = errors.last();
    return t;
}

}  // namespace speeddata::cli::send
