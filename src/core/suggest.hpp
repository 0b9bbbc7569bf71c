// "Did you mean ...?" for names a user typed: config keys and choices (core/config), channel
// and signal names (pivot, history). Header-only so that sd_config, which sd_core links,
// can use it without a dependency cycle.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace speeddata {

// The closest of candidates to key, or "" when none is close: at most 1 edit for names of up
// to 4 characters, 2 for longer ones, fewer than either name's length (optimal string alignment distance: typos are mostly one
// insertion, deletion, substitution or swap of neighbours, "decimaton", "prot", "exmple").
inline std::string closest_name(std::string_view key, const std::vector<std::string>& candidates) {
    const auto distance = [](std::string_view a, std::string_view b) {
        std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
        for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
        for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
        for (size_t i = 1; i <= a.size(); ++i) {
            for (size_t j = 1; j <= b.size(); ++j) {
                const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                    d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.size()][b.size()];
    };
    std::string best;
    size_t best_d = SIZE_MAX;
    for (const auto& c : candidates) {
        const size_t limit = c.size() <= 4 ? 1 : 2;
        const size_t d = distance(key, c);
        // A name whose every character is an edit is no suggestion ("q" for "a").
        if (d <= limit && d < c.size() && d < key.size() && d < best_d) {
            best = c;
            best_d = d;
        }
    }
    return best;
}

// "did you mean 'example'? known: example, temperature" (or "known: ..." alone when nothing
// is close; "" when known is empty). At most max_listed names, then "... (N in all)".
inline std::string did_you_mean(std::string_view key, const std::vector<std::string>& known, size_t max_listed = 20) {
    if (known.empty()) return {};
    std::string out;
    if (const std::string near = closest_name(key, known); !near.empty()) out = "did you mean '" + near + "'? ";
    out += "known: ";
    for (size_t i = 0; i < known.size() && i < max_listed; ++i) out += (i ? ", " : "") + known[i];
    if (known.size() > max_listed) out += ", ... (" + std::to_string(known.size()) + " in all)";
    return out;
}

}  // namespace speeddata
