// Notices about config keys spelled in the earlier version's form (core/config/legacy.hpp).
#include <cstdlib>
#include <set>

#include <spdlog/spdlog.h>

#include "cli/commands.hpp"

namespace speeddata::cli {

namespace {
// Set by the first SpeedData process of a stack that logged the notices; its children
// (relays under the orchestrator, everything under `up`) inherit it and stay quiet.
constexpr const char* shown_env = "SPEEDDATA_CONFIG_NOTICES";
}  // namespace

std::vector<std::string> unique_notices(std::initializer_list<const std::vector<std::string>*> lists) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const auto* l : lists) {
        for (const auto& n : *l) {
            if (seen.insert(n).second) out.push_back(n);
        }
    }
    return out;
}

void log_config_notices(const std::vector<std::string>& notices) {
    if (notices.empty()) return;
    if (const char* v = std::getenv(shown_env); v && std::string(v) == "shown") return;
    for (const auto& n : notices) spdlog::warn("notice: {}", n);
    spdlog::warn("notice: {} key{} in the earlier (v0.6) form, accepted; `speeddata config migrate` rewrites the "
                 "files in the new form (docs/upgrading.md)",
                 notices.size(), notices.size() == 1 ? "" : "s");
    ::setenv(shown_env, "shown", 1);
}

}  // namespace speeddata::cli
