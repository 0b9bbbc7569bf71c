// The option table: one row per configuration option. Each row is the only description of
// its option: key, type, default, unit, allowed range or values, doc sentence, and the struct
// field it fills. Parsing, defaults and merging (load.cpp; the earlier spellings in legacy.cpp), `config show` and
// docs/config.md (docs.cpp) are all driven from it.
//
// Internal to sd_config; other code uses config.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/config/cluster.hpp"
#include "core/config/config.hpp"
#include "core/config/orchestrator_config.hpp"

namespace speeddata::config::detail {

enum class Type : uint8_t {
    boolean,          // true/false (also yes/no/on/off, as YAML 1.1 and PyYAML read them)
    integer,          // decimal integer within [lo, hi]
    number,           // decimal number within [lo, hi]
    string,           // free text (time_field: a field name)
    choice,           // one of `choices` (or an alias of one)
    duration,         // parse_duration, within [lo, hi] ms (or 0 when zero_ok)
    size,             // parse_size, within [lo, hi] bytes (or 0 when zero_ok)
    ipv4,             // dotted-quad IPv4 address
    multicast_group,  // IPv4 address in 224.0.0.0/4
    path,             // filesystem path (storage): relative ones are resolved by the loader
    schema_path,      // relative path of an .avsc file that stays inside the config dir
    nats_url,         // "none" or a comma-separated list of nats:// (or tls://) URLs
    user_name,        // empty or 1..128 of [A-Za-z0-9._@-] (a NATS user)
    host_name,        // a host's name in a fleet: letters, digits, '.', '_', '-' ("" = the hostname)
};
std::string_view type_name(Type t);  // the docs' "type" column: "integer", "duration", ...

// Where in the config files an option lives. The key of a row is relative to its section.
enum class Section : uint8_t {
    multicast,   // multicast.K in global.yaml or any service file; channels.NAME.multicast.K
    storage,     // storage.K in global.yaml or any service file
    auth,        // auth.K in global.yaml or any service file
    cluster,     // cluster.K in global.yaml only (docs/fleet.md)
    channel,     // defaults.K and channels.NAME.K in relay.yaml
    channel_only,// channels.NAME.K only (port, schema: one per channel, no default)
    stripchart,  // K in stripchart.yaml
    pivot,       // K in pivot.yaml
    orchestrator,// K in orchestrator.yaml
};

// A parsed option value. Integers are int64, sizes uint64 bytes, durations milliseconds,
// choices/addresses/paths/strings text.
using Value = std::variant<bool, int64_t, double, std::string, std::chrono::milliseconds, uint64_t>;

// Reads or writes the option's field of its section's struct. Captureless lambdas: the table
// is static data.
template <typename T>
struct Access {
    void (*set)(T&, const Value&) = nullptr;
    Value (*get)(const T&) = nullptr;
};
using Accessor = std::variant<Access<MulticastConfig>, Access<StorageConfig>, Access<AuthConfig>, Access<ClusterConfig>, Access<ChannelConfig>,
                              Access<StripchartConfig>, Access<PivotConfig>, Access<OrchestratorConfig>>;

struct Alias {
    std::string_view alias;
    std::string_view canonical;
};

struct Option {
    // Every member has an initializer so that rows can name only what they need.
    Section section = Section::multicast;
    std::string_view key = {};           // dotted, relative to the section: "rotation.interval"
    Type type = Type::string;
    std::string_view default_text = {};  // in config-file syntax; empty = required (no default)
    std::string_view unit = {};          // for the docs: "bytes", "Hz", "" ...
    int64_t lo = 0, hi = 0;          // integer/number/duration(ms)/size(bytes) range
    bool zero_ok = false;            // 0 allowed below lo (means "off"/"no limit"; see doc)
    bool whole_seconds = false;      // duration stored in std::chrono::seconds: no "1500ms"
    std::vector<std::string_view> choices = {};  // Type::choice
    std::vector<Alias> aliases = {};             // also accepted, mapped to a choice
    std::string_view doc = {};       // one or two sentences for docs/config.md
    Accessor access = {};
};

// Every option, in documentation order.
const std::vector<Option>& option_table();

// "an integer 1..65535", "a duration 0 (off) or 1s..365d", "one of null, deflate, ...".
std::string expected_text(const Option& opt);
// The docs' "allowed" column: "1..65535", "0 or 1s..365d", "`null`, `deflate`", ...
std::string allowed_text(const Option& opt);

// A YAML scalar as read: its text and whether it was quoted or tagged (then it is a string
// for YAML, never a number or a boolean) or the YAML null (empty value, ~, null).
struct Scalar {
    std::string text;
    bool quoted = false;
    bool null = false;
};
// Parses and range-checks one value; the error is "expected <expected_text>, got "<text>"".
Result<Value> parse_value(const Option& opt, const Scalar& scalar);
// The value in config-file syntax (durations and sizes formatted, "auto" time unit, ...).
std::string format_value(const Option& opt, const Value& value);
// The value as JSON: booleans and integers as such, everything else as format_value text.
nlohmann::ordered_json value_to_json(const Option& opt, const Value& value);
// The built-in default, parsed (the table's defaults are checked by a unit test).
Value default_value(const Option& opt);

// `"abc"`: a value quoted for an error message (escaped, long values cut).
std::string quote(std::string_view text);

// The relay.yaml example of docs/config.md (a unit test loads it).
std::string_view docs_example_relay_yaml();

// The closest of candidates to key (edit distance), or "" when none is close.
std::string closest(std::string_view key, const std::vector<std::string>& candidates);

}  // namespace speeddata::config::detail
