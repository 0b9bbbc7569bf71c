// The earlier relay's environment variables as overrides of a loaded channel (config.hpp).
// The v0.6 relay (relay/c/src/config.c) read four: RELAY_RX_PORT, RELAY_OUTPUT_DIR,
// RELAY_DECIMATION_FACTOR and RELAY_DECIMATION_ENABLED. Values go through the option table,
// so the ranges are those of the keys they override.
#include <system_error>

#include "core/config/config.hpp"
#include "core/config/options.hpp"

namespace speeddata::config {

namespace {

const detail::Option& channel_option(std::string_view key) {
    for (const auto& o : detail::option_table()) {
        if ((o.section == detail::Section::channel || o.section == detail::Section::channel_only) && o.key == key) return o;
    }
    static const detail::Option none;
    return none;
}

Result<int64_t> integer(const char* var, const std::string& text, std::string_view key) {
    const auto& o = channel_option(key);
    auto v = detail::parse_value(o, detail::Scalar{text, false, false});
    if (!v) return Status::error(std::string("$") + var + ": " + v.message());
    return std::get<int64_t>(*v);
}

}  // namespace

Result<std::vector<std::string>> apply_relay_environment(ChannelConfig& channel, const EnvLookup& getenv) {
    std::vector<std::string> log;
    const auto get = [&](const char* name) -> std::optional<std::string> {
        const char* v = getenv(name);
        if (!v) return std::nullopt;
        return std::string(v);
    };
    if (auto v = get("RELAY_RX_PORT")) {
        auto port = integer("RELAY_RX_PORT", *v, "port");
        if (!port) return port.status();
        log.push_back("$RELAY_RX_PORT=" + *v + " overrides channels." + channel.name + ".port (" +
                      std::to_string(channel.port) + ")");
        channel.port = static_cast<uint16_t>(*port);
    }
    if (auto v = get("RELAY_OUTPUT_DIR")) {
        if (v->empty()) return Status::error("$RELAY_OUTPUT_DIR: expected a directory, got nothing");
        // Relative to the working directory, as the earlier relay read it; the channel's cache
        // is a directory of its own inside it, as under storage.avro_path.
        std::error_code ec;
        const std::filesystem::path dir = std::filesystem::absolute(*v, ec).lexically_normal();
        if (ec) return Status::error("$RELAY_OUTPUT_DIR: " + *v + ": " + ec.message());
        log.push_back("$RELAY_OUTPUT_DIR=" + *v + " overrides storage.avro_path (" +
                      channel.avro_dir.parent_path().string() + "): the cache is " + (dir / channel.name).string());
        channel.avro_dir = dir / channel.name;
    }
    if (auto v = get("RELAY_DECIMATION_FACTOR")) {
        auto factor = integer("RELAY_DECIMATION_FACTOR", *v, "decimation.factor");
        if (!factor) return factor.status();
        log.push_back("$RELAY_DECIMATION_FACTOR=" + *v + " overrides decimation.factor (" +
                      std::to_string(channel.decimation_factor) + ")");
        channel.decimation_factor = static_cast<int>(*factor);
    }
    if (auto v = get("RELAY_DECIMATION_ENABLED")) {
        // The earlier relay took "true" and "1" as on, anything else as off.
        const bool on = *v == "true" || *v == "1";
        log.push_back("$RELAY_DECIMATION_ENABLED=" + *v +
                      (on ? ": the decimated stream is always sent; nothing to override"
                          : ": ignored; the decimated stream cannot be turned off on its own (multicast.enabled: "
                            "false turns off both streams)"));
    }
    return log;
}

}  // namespace speeddata::config
