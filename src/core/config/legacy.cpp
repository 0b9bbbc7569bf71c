// The earlier version's config spellings (reference/v0.6/config/), mapped onto the option
// table's keys; see legacy.hpp. Every alias is in this file:
//
//   any file      multicast.full_rate.{address,port}  -> multicast.full.{group,port}
//                 multicast.{full,decimated}.address  -> multicast.{full,decimated}.group
//                 (also under channels.NAME.multicast in relay.yaml)
//   relay.yaml    channels: [{name, port, schema}]    -> channels.NAME: {port, schema}
//                 schema relative to the repo root    -> relative to the config directory
//                 decimation.{factor,algorithm}       -> defaults.decimation.*
//                 decimation.enabled                  -> (no option: ignored, with a notice)
//                 rotation {mode: time|size, threshold} -> defaults.rotation.{interval,max_size}
//                 retention {mode: ttl|quota, value}  -> defaults.retention.{ttl,max_size}
//   stripchart    websocket.port                      -> http.port
//                 decimation.pass_through             -> (no option: ignored, with a notice)
//   pivot.yaml    api.port                            -> http.port
//                 api.limits.max_channels             -> limits.max_channels
//                 api.limits.max_duration_minutes     -> limits.max_duration (minutes)
//                 api.limits.timeout_seconds          -> (no option: ignored, with a notice)
#include "core/config/legacy.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <system_error>

#include "core/config/config.hpp"
#include "core/config/options.hpp"
#include "core/text.hpp"

namespace speeddata::config::detail {

namespace fs = std::filesystem;

std::string Legacy::old_key(const std::string& new_key) const {
    // The longest renamed prefix (at a dot) decides: "channels.example.port" with
    // "channels.example" -> "channels[0]" is "channels[0].port".
    std::string prefix = new_key;
    while (true) {
        if (const auto it = origins.find(prefix); it != origins.end()) return it->second + new_key.substr(prefix.size());
        const size_t dot = prefix.rfind('.');
        if (dot == std::string::npos) return new_key;
        prefix.resize(dot);
    }
}

std::string Legacy::shown(const std::string& new_key) const {
    const std::string old = old_key(new_key);
    if (old == new_key) return new_key;
    return origins.count(new_key) ? old + " (now " + new_key + ")" : old;
}

namespace {

std::string join_key(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

// A scalar the walker reads as written without quotes (yaml-cpp tags plain scalars "?").
YAML::Node plain(const std::string& text) {
    YAML::Node n(text);
    n.SetTag("?");
    return n;
}

// A node as a notice shows it: 3600, "downsample", {mode: time, threshold: 3600}.
std::string brief(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Scalar: return n.Tag() == "?" ? n.Scalar() : quote(n.Scalar());
        case YAML::NodeType::Map: {
            std::string out = "{";
            for (auto it = n.begin(); it != n.end(); ++it) {
                if (out.size() > 1) out += ", ";
                out += (it->first.IsScalar() ? it->first.Scalar() : "?") + ": " + brief(it->second);
            }
            return out + "}";
        }
        case YAML::NodeType::Sequence: return "[...]";
        default: return "nothing";
    }
}

std::string describe(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: return "a mapping";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Scalar: return quote(n.Scalar());
        default: return "nothing (an empty value)";
    }
}

const Option& option(Section section, std::string_view key) {
    for (const Option& o : option_table()) {
        if (o.section == section && o.key == key) return o;
    }
    static const Option none;
    return none;  // unreachable for the keys named in this file (a unit test loads them all)
}

Scalar scalar_of(const YAML::Node& n) {
    Scalar s;
    s.null = n.IsNull();
    if (n.IsScalar()) {
        s.text = n.Scalar();
        s.quoted = n.Tag() != "?";
    }
    return s;
}

// An ordered mapping under construction that refuses a key twice.
struct MapBuilder {
    YAML::Node node{YAML::NodeType::Map};
    std::vector<std::string> keys;

    bool has(const std::string& k) const { return std::find(keys.begin(), keys.end(), k) != keys.end(); }
    void add(const std::string& k, const YAML::Node& v) {
        node.force_insert(k, v);
        keys.push_back(k);
    }
};

bool has_key(const YAML::Node& map, const std::string& key) {
    if (!map.IsMap()) return false;
    for (auto it = map.begin(); it != map.end(); ++it) {
        if (it->first.IsScalar() && it->first.Scalar() == key) return true;
    }
    return false;
}

YAML::Node child(const YAML::Node& map, const std::string& key) {
    for (auto it = map.begin(); it != map.end(); ++it) {
        if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    }
    return YAML::Node(YAML::NodeType::Undefined);
}

class Rewriter {
public:
    Rewriter(FileKind kind, const std::string& file, const fs::path& config_dir, Legacy& out)
        : kind_(kind), file_(file), out_(out) {
        fs::path d = fs::absolute(config_dir).lexically_normal();
        if (!d.has_filename()) d = d.parent_path();
        config_dir_ = d;
    }

    Result<YAML::Node> run(const YAML::Node& root) {
        if (kind_ == FileKind::channel_entry || !root.IsMap()) return root;
        // Pass 1, in file order (so the notices are): old top-level keys become children of
        // new sections (pending); kept keys get the earlier spellings inside them translated.
        for (auto it = root.begin(); it != root.end(); ++it) {
            if (!it->first.IsScalar()) continue;
            const std::string key = it->first.Scalar();
            if (auto s = translate_top(key, it->second); !s) return s;
            if (consumed_.count(key)) continue;
            auto value = translate_kept(key, it->second);
            if (!value) return value.status();
            kept_[key] = *value;
        }
        // Pass 2: the document in its order, with each new section where it already was, or
        // where the first key moved into it was.
        MapBuilder top;
        for (auto it = root.begin(); it != root.end(); ++it) {
            if (!it->first.IsScalar()) {
                top.node.force_insert(it->first, it->second);
                continue;
            }
            const std::string key = it->first.Scalar();
            if (const auto c = consumed_.find(key); c != consumed_.end()) {
                // Moved away (each new section is emitted once, here unless the file has it).
                for (const std::string& section : c->second) {
                    if (pending_.count(section) && !has_key(root, section) && !top.has(section)) {
                        top.add(section, pending_.at(section).node);
                    }
                }
                if (const auto left = leftover_.find(key); left != leftover_.end()) top.add(key, left->second);
                continue;
            }
            if (const auto p = pending_.find(key); p != pending_.end()) {
                auto merged = merge(key, kept_.at(key), p->second);
                if (!merged) return merged.status();
                top.add(key, *merged);
                continue;
            }
            top.add(key, kept_.at(key));
        }
        return top.node;
    }

private:
    Status err(const std::string& old_key, const std::string& what) const {
        return Status::error(file_ + ": " + old_key + ": " + what);
    }
    void notice(const std::string& old_key, const std::string& what) {
        out_.notices.push_back(file_ + ": " + old_key + ": " + what);
    }
    void origin(const std::string& new_key, const std::string& old_key) {
        if (new_key != old_key) out_.origins[new_key] = old_key;
    }
    void renamed(const std::string& new_key, const std::string& old_key) {
        origin(new_key, old_key);
        notice(old_key, "earlier spelling of " + new_key);
    }

    // A child of a new top-level section, from the old key old_key.
    Status put(const std::string& section, const std::string& key, const YAML::Node& value,
               const std::string& old_key) {
        MapBuilder& b = pending_[section];
        if (b.has(key)) return err(old_key, "given twice (as " + pending_old_.at(section + "." + key) + " too)");
        b.add(key, value);
        pending_old_[section + "." + key] = old_key;
        return {};
    }

    // The old top-level keys of each file.
    Status translate_top(const std::string& key, const YAML::Node& v) {
        if (kind_ == FileKind::relay && (key == "decimation" || key == "rotation" || key == "retention")) {
            consumed_[key] = {"defaults"};
            auto node = key == "decimation" ? relay_decimation(v) : relay_mode_pair(key, v);
            if (!node) return node.status();
            if (node->IsMap() && node->size() == 0) return {};
            return put("defaults", key, *node, key);
        }
        if (kind_ == FileKind::stripchart && key == "websocket") {
            consumed_[key] = {"http"};
            return move_children(v, "websocket", "http");
        }
        if (kind_ == FileKind::stripchart && key == "decimation" && has_key(v, "pass_through")) {
            consumed_[key] = {};
            MapBuilder rest;
            for (auto it = v.begin(); it != v.end(); ++it) {
                const std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
                if (k != "pass_through") {
                    rest.node.force_insert(it->first, it->second);
                    continue;
                }
                auto b = boolean(it->second, "decimation.pass_through");
                if (!b) return b.status();
                notice("decimation.pass_through",
                       "no longer an option (the stripchart shows the relay's decimated stream as it is sent, as "
                       "the earlier one did); ignored");
            }
            if (rest.node.size() > 0) leftover_[key] = rest.node;
            return {};
        }
        if (kind_ == FileKind::pivot && key == "api") {
            consumed_[key] = {"http", "limits"};
            if (!v.IsMap()) return move_children(v, "api", "http");
            for (auto it = v.begin(); it != v.end(); ++it) {
                const std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
                if (k == "limits") {
                    if (auto s = pivot_limits(it->second); !s) return s;
                    continue;
                }
                renamed("http." + k, "api." + k);
                if (auto s = put("http", k, it->second, "api." + k); !s) return s;
            }
            return {};
        }
        return {};
    }

    // A section of the file that also receives moved keys: its own keys, then the moved ones;
    // a key in both is an error naming the old spelling.
    Result<YAML::Node> merge(const std::string& section, const YAML::Node& existing, const MapBuilder& moved) {
        // An empty section (every key commented out) reads as null: it only gets the moved keys.
        if (!existing.IsMap() && !existing.IsNull()) return existing;  // the walker reports what it is
        MapBuilder b;
        if (existing.IsMap()) {
            for (auto it = existing.begin(); it != existing.end(); ++it) b.node.force_insert(it->first, it->second);
        }
        for (const std::string& k : moved.keys) {
            if (has_key(existing, k)) {
                const std::string& old = pending_old_.at(section + "." + k);
                return err(old, "also given as " + section + "." + k + "; keep one (" + section + "." + k +
                                    " is the new spelling)");
            }
            b.node.force_insert(k, child(moved.node, k));
        }
        return b.node;
    }

    // Keys whose name stays, with earlier spellings inside them.
    Result<YAML::Node> translate_kept(const std::string& key, const YAML::Node& v) {
        if (kind_ == FileKind::channel_entry) return v;
        if (key == "multicast") return multicast(v, "multicast", "multicast");
        if (kind_ == FileKind::relay && key == "channels") return channels(v);
        return v;
    }

    // websocket: {port} -> http: {port}; api: {...} -> http: {...}.
    Status move_children(const YAML::Node& v, const std::string& from, const std::string& to) {
        if (!v.IsMap()) return err(from, "expected a mapping (the earlier form of " + to + "), got " + describe(v));
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
            renamed(to + "." + k, from + "." + k);
            if (auto s = put(to, k, it->second, from + "." + k); !s) return s;
        }
        return {};
    }

    Result<bool> boolean(const YAML::Node& v, const std::string& old_key) const {
        static const Option b{.type = Type::boolean};
        auto r = parse_value(b, scalar_of(v));
        if (!r || !v.IsScalar()) return err(old_key, "expected true or false, got " + describe(v));
        return std::get<bool>(*r);
    }

    // multicast: full_rate -> full, address -> group.
    Result<YAML::Node> multicast(const YAML::Node& v, const std::string& old_prefix, const std::string& new_prefix) {
        if (!v.IsMap()) return v;
        MapBuilder b;
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
            if (k == "full_rate") {
                if (has_key(v, "full")) {
                    return err(old_prefix + ".full_rate", "also given as " + new_prefix + ".full; keep one (full is "
                                                          "the new spelling)");
                }
                auto s = stream(it->second, old_prefix + ".full_rate", new_prefix + ".full", true);
                if (!s) return s.status();
                b.add("full", *s);
            } else if (k == "full" || k == "decimated") {
                auto s = stream(it->second, old_prefix + "." + k, new_prefix + "." + k, false);
                if (!s) return s.status();
                b.add(k, *s);
            } else {
                b.node.force_insert(it->first, it->second);
            }
        }
        return b.node;
    }

    Result<YAML::Node> stream(const YAML::Node& v, const std::string& old_prefix, const std::string& new_prefix,
                              bool section_renamed) {
        if (section_renamed) origin(new_prefix, old_prefix);
        out_.old_names[new_prefix] = {"address"};
        if (!v.IsMap()) {
            if (section_renamed) notice(old_prefix, "earlier spelling of " + new_prefix);
            return v;
        }
        MapBuilder b;
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
            if (k == "address") {
                if (has_key(v, "group")) {
                    return err(old_prefix + ".address", "also given as " + new_prefix + ".group; keep one (group is "
                                                        "the new spelling)");
                }
                renamed(new_prefix + ".group", old_prefix + ".address");
                b.add("group", it->second);
            } else {
                if (section_renamed) notice(old_prefix + "." + k, "earlier spelling of " + new_prefix + "." + k);
                b.node.force_insert(it->first, it->second);
            }
        }
        return b.node;
    }

    // channels: a list of {name, port, schema} -> a mapping of names; either way each entry's
    // schema path and multicast streams.
    Result<YAML::Node> channels(const YAML::Node& v) {
        MapBuilder b;
        if (v.IsSequence()) {
            notice("channels", "a list of {name, port, schema} is the earlier form; now a mapping of channel names "
                               "(channels.NAME: {port, schema})");
            for (size_t i = 0; i < v.size(); ++i) {
                const YAML::Node e = v[i];
                const std::string old = "channels[" + std::to_string(i) + "]";
                if (!e.IsMap()) return err(old, "expected a mapping with name, port and schema, got " + describe(e));
                const YAML::Node name = child(e, "name");
                if (!name.IsDefined()) return err(old, "required key missing: name");
                if (!name.IsScalar()) return err(old + ".name", "expected a channel name, got " + describe(name));
                const std::string n = name.Scalar();
                if (auto s = check_channel_name(n); !s) return err(old + ".name", s.message());
                if (b.has(n)) return err(old + ".name", "channel '" + n + "' is listed twice");
                MapBuilder entry;
                for (auto it = e.begin(); it != e.end(); ++it) {
                    if (!(it->first.IsScalar() && it->first.Scalar() == "name")) entry.node.force_insert(it->first, it->second);
                }
                origin("channels." + n, old);
                auto ch = channel_entry(entry.node, old, "channels." + n);
                if (!ch) return ch.status();
                b.add(n, *ch);
            }
            return b.node;
        }
        if (!v.IsMap()) return v;
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (!it->first.IsScalar()) return v;  // the walker reports it
            const std::string n = it->first.Scalar();
            auto ch = channel_entry(it->second, "channels." + n, "channels." + n);
            if (!ch) return ch.status();
            b.node.force_insert(it->first, *ch);
        }
        return b.node;
    }

    Result<YAML::Node> channel_entry(const YAML::Node& e, const std::string& old_prefix, const std::string& new_prefix) {
        if (!e.IsMap()) return e;
        MapBuilder b;
        for (auto it = e.begin(); it != e.end(); ++it) {
            const std::string k = it->first.IsScalar() ? it->first.Scalar() : "";
            Result<YAML::Node> value = it->second;
            if (k == "multicast") value = multicast(it->second, old_prefix + ".multicast", new_prefix + ".multicast");
            else if (k == "schema") value = schema_path(it->second, old_prefix + ".schema", new_prefix + ".schema");
            if (!value) return value.status();
            b.node.force_insert(it->first, *value);
        }
        return b.node;
    }

    // The earlier relay read a schema path relative to the repository root (its working
    // directory: config/agents/x.avsc); the new form is relative to the config directory. A
    // file found relative to the config directory wins; else one relative to its parent
    // (the repository root for config/) is taken, and written relative to the config dir.
    Result<YAML::Node> schema_path(const YAML::Node& v, const std::string& old_key, const std::string& new_key) {
        if (!v.IsScalar() || v.Scalar().empty()) return v;
        const fs::path p(v.Scalar());
        std::error_code ec;
        if (p.is_absolute() || fs::exists(config_dir_ / p, ec)) return v;
        const fs::path candidate = (config_dir_.parent_path() / p).lexically_normal();
        if (!fs::is_regular_file(candidate, ec)) return v;  // "cannot read ..." follows, relative to the config dir
        const fs::path rel = candidate.lexically_relative(config_dir_);
        if (rel.empty() || *rel.begin() == "..") {
            return err(old_key, quote(v.Scalar()) + " is relative to the repository root (the earlier form) and lies "
                                "outside the config directory " + config_dir_.string() +
                                "; move the schema into it (e.g. agents/) and name it relative to it");
        }
        notice(old_key, quote(v.Scalar()) + " is relative to the repository root (the earlier form); now relative to "
                        "the config directory: " + new_key + ": " + rel.generic_string());
        YAML::Node n(rel.generic_string());
        n.SetTag(v.Tag());
        return n;
    }

    // decimation: {enabled, factor, algorithm} at the top of relay.yaml -> defaults.decimation.
    Result<YAML::Node> relay_decimation(const YAML::Node& v) {
        origin("defaults.decimation", "decimation");
        if (!v.IsMap()) {
            notice("decimation", "earlier place of defaults.decimation");
            return v;
        }
        MapBuilder b;
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
            if (k == "enabled") {
                auto on = boolean(it->second, "decimation.enabled");
                if (!on) return on.status();
                notice("decimation.enabled",
                       *on ? "no longer an option: the decimated stream is always sent (defaults.decimation.factor: 1 "
                             "makes it carry every record); ignored"
                           : "no longer an option: the decimated stream cannot be turned off on its own "
                             "(multicast.enabled: false turns off both streams); ignored, it is sent");
                continue;
            }
            renamed("defaults.decimation." + k, "decimation." + k);
            b.add(k, it->second);
        }
        return b.node;
    }

    // rotation {mode: time|size, threshold} and retention {mode: ttl|quota, value}: one
    // limit, the other kind off, as the earlier mode meant.
    Result<YAML::Node> relay_mode_pair(const std::string& section, const YAML::Node& v) {
        const bool rotation = section == "rotation";
        const std::string neu = "defaults." + section;
        const std::string amount = rotation ? "threshold" : "value";
        origin(neu, section);
        if (!v.IsMap()) {
            notice(section, "earlier place of " + neu);
            return v;
        }
        const YAML::Node mode = child(v, "mode");
        const YAML::Node value = child(v, amount);
        out_.old_names[neu] = {"mode", amount};
        MapBuilder b;
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
            if (k == "mode" || k == amount) continue;
            renamed(neu + "." + k, section + "." + k);
            b.add(k, it->second);
        }
        if (!mode.IsDefined()) {
            if (value.IsDefined()) {
                return err(section + "." + amount, std::string("needs ") + section + ".mode (" +
                                                       (rotation ? "time or size" : "ttl or quota") + ")");
            }
            return b.node;
        }
        const std::vector<std::string_view> modes =
            rotation ? std::vector<std::string_view>{"time", "size"} : std::vector<std::string_view>{"ttl", "quota"};
        const std::string m = mode.IsScalar() ? mode.Scalar() : "";
        if (std::find(modes.begin(), modes.end(), m) == modes.end()) {
            return err(section + ".mode", "expected one of " + std::string(modes[0]) + ", " + std::string(modes[1]) +
                                              ", got " + describe(mode));
        }
        // time/ttl: the value is seconds, the size limit off; size/quota: bytes, the age limit off.
        const bool by_age = m == modes[0];
        const std::string age_key = rotation ? "interval" : "ttl";
        const std::string size_key = "max_size";
        const std::string set_key = by_age ? age_key : size_key;
        const std::string off_key = by_age ? size_key : age_key;
        for (const std::string& k : {set_key, off_key}) {
            if (b.has(k)) {
                return err(section + "." + k, "set by " + section + ".mode as well; keep one (" + neu + "." + k +
                                                  " is the new spelling)");
            }
        }
        if (value.IsDefined()) {
            const Option& o = option(Section::channel, section + "." + set_key);
            auto parsed = parse_value(o, scalar_of(value));
            if (!parsed || !value.IsScalar()) {
                return err(section + "." + amount, std::string("expected ") + (by_age ? "seconds" : "bytes") + ": " +
                                                       (parsed ? "a value" : parsed.message()));
            }
            b.add(set_key, plain(format_value(o, *parsed)));
            origin(neu + "." + set_key, section + "." + amount);
            out_.no_comment.insert(neu + "." + set_key);
        }
        // retention by age: the quota is off by default already; say only what differs.
        if (rotation || !by_age) {
            b.add(off_key, plain("0"));
            origin(neu + "." + off_key, section + ".mode");
            out_.no_comment.insert(neu + "." + off_key);
        }
        notice(section, brief(v) + " is the earlier form; now " + neu + ": " + brief(b.node));
        return b.node;
    }

    // api.limits: {max_channels, max_duration_minutes, timeout_seconds} -> limits.
    Status pivot_limits(const YAML::Node& v) {
        if (!v.IsMap()) return err("api.limits", "expected a mapping (the earlier form of limits), got " + describe(v));
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string k = it->first.IsScalar() ? it->first.Scalar() : "?";
            const std::string old = "api.limits." + k;
            if (k == "max_duration_minutes") {
                const Option& o = option(Section::pivot, "limits.max_duration");
                const YAML::Node x = it->second;
                char* end = nullptr;
                const std::string text = x.IsScalar() ? x.Scalar() : "";
                const double minutes = text.empty() ? NAN : std::strtod(text.c_str(), &end);
                Result<Value> d = Status::error("");
                if (std::isfinite(minutes) && end == text.c_str() + text.size()) {
                    d = parse_value(o, Scalar{text + "m", false, false});
                }
                if (!d || x.Tag() != "?") {
                    return err(old, "expected a number of minutes, " + format_duration(std::chrono::milliseconds(o.lo)) +
                                        ".." + format_duration(std::chrono::milliseconds(o.hi)) + ", got " + describe(x));
                }
                const std::string now = format_value(o, *d);
                origin("limits.max_duration", old);
                notice(old, "earlier spelling of limits.max_duration (" + text + " minutes: " + now + ")");
                if (auto s = put("limits", "max_duration", plain(now), old); !s) return s;
            } else if (k == "timeout_seconds") {
                const std::string text = it->second.IsScalar() ? it->second.Scalar() : "";
                char* end = nullptr;
                const double s = text.empty() ? NAN : std::strtod(text.c_str(), &end);
                if (!std::isfinite(s) || end != text.c_str() + text.size() || s < 0) {
                    return err(old, "expected a number of seconds, got " + describe(it->second));
                }
                notice(old, "no longer an option (the earlier pivot did not use it either; an export runs until it "
                            "is done, its size bounded by limits.max_duration and limits.max_channels); ignored");
            } else {
                renamed("limits." + k, old);
                if (auto s = put("limits", k, it->second, old); !s) return s;
            }
        }
        return {};
    }

    FileKind kind_;
    std::string file_;
    fs::path config_dir_;
    Legacy& out_;
    std::map<std::string, MapBuilder> pending_;          // new top-level section -> moved keys
    std::map<std::string, std::string> pending_old_;     // "section.key" -> old key, for messages
    std::map<std::string, std::vector<std::string>> consumed_;  // old top-level key -> sections it went to
    std::map<std::string, YAML::Node> leftover_;                 // old keys left where they were
    std::map<std::string, YAML::Node> kept_;                     // keys that stay, translated inside
};

}  // namespace

namespace {

// The lines of a config file and the comments on them.
struct SourceText {
    std::vector<std::string> lines;
    std::vector<bool> comment_only;     // blank, or nothing but a comment
    std::vector<std::string> trailing;  // "# ..." after a value ("" = none)
    std::vector<bool> used_line;        // a comment-only line already emitted
    std::vector<bool> used_trailing;

    explicit SourceText(const std::string& text) {
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('\n', start);
            if (end == std::string::npos) end = text.size();
            std::string line = text.substr(start, end - start);
            if (!line.empty() && line.back() == '\r') line.pop_back();
            lines.push_back(line);
            start = end + 1;
            if (end == text.size()) break;
        }
        for (const std::string& l : lines) {
            const size_t first = l.find_first_not_of(" \t");
            const size_t hash = comment_start(l);
            comment_only.push_back(first == std::string::npos || first == hash);
            trailing.push_back(first != std::string::npos && hash != std::string::npos && first != hash
                                   ? l.substr(hash) : "");
        }
        used_line.assign(lines.size(), false);
        used_trailing.assign(lines.size(), false);
    }

    // Where a comment starts: '#' at the line's start or after a blank, outside quotes.
    static size_t comment_start(const std::string& l) {
        char quote = 0;
        for (size_t i = 0; i < l.size(); ++i) {
            const char c = l[i];
            if (quote) {
                if (c == '\\' && quote == '"') ++i;
                else if (c == quote) quote = 0;
            } else if (c == '"' || c == '\'') {
                if (i == 0 || l[i - 1] == ' ' || l[i - 1] == ':' || l[i - 1] == '[' || l[i - 1] == '{' ||
                    l[i - 1] == ',' || l[i - 1] == '-')
                    quote = c;
            } else if (c == '#' && (i == 0 || l[i - 1] == ' ' || l[i - 1] == '\t')) {
                return i;
            }
        }
        return std::string::npos;
    }
};

// Old dotted key -> the line its key is on ("channels[0]" -> the line of "- name: ...").
void key_lines(const YAML::Node& n, const std::string& prefix, std::map<std::string, int>& out) {
    if (n.IsMap()) {
        for (auto it = n.begin(); it != n.end(); ++it) {
            if (!it->first.IsScalar()) continue;
            const std::string k = join_key(prefix, it->first.Scalar());
            out.emplace(k, it->first.Mark().line);
            key_lines(it->second, k, out);
        }
    } else if (n.IsSequence()) {
        for (size_t i = 0; i < n.size(); ++i) {
            const std::string k = prefix + "[" + std::to_string(i) + "]";
            out.emplace(k, n[i].Mark().line);
            key_lines(n[i], k, out);
        }
    }
}

bool plain_key(const std::string& k) {
    return !k.empty() && std::all_of(k.begin(), k.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/';
    });
}

class Emitter {
public:
    Emitter(const SourceText& src, const std::map<std::string, int>& lines, const Legacy& legacy)
        : src_(src), lines_(lines), legacy_(legacy) {}

    void map(const YAML::Node& n, const std::string& prefix, size_t indent) {
        const std::string pad(indent, ' ');
        for (auto it = n.begin(); it != n.end(); ++it) {
            const std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
            const std::string path = join_key(prefix, key);
            int line = -1;
            if (!legacy_.no_comment.count(path)) {
                if (const auto l = lines_.find(legacy_.old_key(path)); l != lines_.end()) line = l->second;
            }
            // A new section (defaults, http) takes the comments above the first old key moved
            // into it: the file's header stays at the top, blank lines between sections stay.
            if (line < 0 && it->second.IsMap()) line = section_line(it->second, path);
            leading(line, pad);
            std::string text = pad + (plain_key(key) ? key : double_quoted(key)) + ":";
            const YAML::Node v = it->second;
            if (v.IsScalar()) text += " " + (v.Tag() == "?" ? v.Scalar() : double_quoted(v.Scalar()));
            else if (v.IsMap() && v.size() == 0) text += " {}";
            else if (v.IsSequence()) text += " " + flow(v);
            if (line >= 0 && !src_.trailing[static_cast<size_t>(line)].empty() && !src_.used_trailing[static_cast<size_t>(line)]) {
                text += "  " + src_.trailing[static_cast<size_t>(line)];
                src_.used_trailing[static_cast<size_t>(line)] = true;
            }
            out_ += text + "\n";
            if (v.IsMap() && v.size() > 0) map(v, path, indent + 2);
        }
    }

    // The line of the old key, at the depth of path, that the first key under n came from.
    int section_line(const YAML::Node& n, const std::string& path) const {
        const size_t depth = static_cast<size_t>(std::count(path.begin(), path.end(), '.')) + 1;
        for (auto it = n.begin(); it != n.end(); ++it) {
            if (!it->first.IsScalar()) continue;
            const std::string child = join_key(path, it->first.Scalar());
            std::string old = legacy_.old_key(child);
            size_t cut = 0;
            for (size_t d = 0; d < depth && cut != std::string::npos; ++d) cut = old.find('.', cut ? cut + 1 : 0);
            if (cut != std::string::npos) old.resize(cut);
            if (const auto l = lines_.find(old); l != lines_.end()) return l->second;
            if (it->second.IsMap()) {
                if (int l = section_line(it->second, child); l >= 0) return l;
            }
        }
        return -1;
    }

    // Comment lines after the original's last key stay at the end of the file.
    void tail() {
        int last = -1;
        for (const auto& [k, l] : lines_) last = std::max(last, l);
        std::string block;
        for (size_t i = static_cast<size_t>(last + 1); i < src_.lines.size(); ++i) {
            if (!src_.comment_only[i] || src_.used_line[i]) continue;
            src_.used_line[i] = true;
            block += src_.lines[i] + "\n";
        }
        while (block.size() >= 2 && block.substr(block.size() - 2) == "\n\n") block.pop_back();
        if (block.find('#') != std::string::npos) out_ += block;
    }

    std::string text() const { return out_; }

    // Comments of the original that found no place in the new text.
    std::vector<std::string> dropped() const {
        std::vector<std::string> out;
        for (size_t i = 0; i < src_.lines.size(); ++i) {
            std::string c;
            if (src_.comment_only[i] && !src_.used_line[i]) c = src_.lines[i];
            else if (!src_.trailing[i].empty() && !src_.used_trailing[i]) c = src_.trailing[i];
            const size_t first = c.find_first_not_of(" \t");
            if (first != std::string::npos) out.push_back("line " + std::to_string(i + 1) + ": " + c.substr(first));
        }
        return out;
    }

private:
    // The comment lines right above line, re-indented; a run of blank lines among or above
    // them stays one blank line (none at the top of the file).
    void leading(int line, const std::string& pad) {
        if (line <= 0) return;
        size_t first = static_cast<size_t>(line);
        while (first > 0 && src_.comment_only[first - 1] && !src_.used_line[first - 1]) --first;
        bool blank = false;
        for (size_t i = first; i < static_cast<size_t>(line); ++i) {
            src_.used_line[i] = true;
            const std::string& l = src_.lines[i];
            const size_t c = l.find_first_not_of(" \t");
            if (c == std::string::npos) {
                blank = true;
                continue;
            }
            if (blank && !out_.empty()) out_ += "\n";
            blank = false;
            out_ += pad + l.substr(c) + "\n";
        }
        if (blank && !out_.empty()) out_ += "\n";
    }

    static std::string flow(const YAML::Node& v) {
        YAML::Emitter e;
        e << YAML::Flow << v;
        return e.c_str();
    }

    mutable SourceText src_;
    const std::map<std::string, int>& lines_;
    const Legacy& legacy_;
    std::string out_;
};

}  // namespace

std::string emit_migrated(const YAML::Node& original_root, const YAML::Node& new_root,
                          const std::string& original_text, const Legacy& legacy,
                          std::vector<std::string>& dropped) {
    std::map<std::string, int> lines;
    key_lines(original_root, "", lines);
    Emitter e{SourceText(original_text), lines, legacy};
    if (new_root.IsMap()) e.map(new_root, "", 0);
    e.tail();
    dropped = e.dropped();
    return e.text();
}

const std::vector<AliasDoc>& alias_docs() {
    static const std::vector<AliasDoc> rows = {
        {"any file", "`multicast.full_rate.address`, `.port`", "`multicast.full.group`, `.port`"},
        {"any file", "`multicast.decimated.address`", "`multicast.decimated.group`"},
        {"relay.yaml", "`channels.NAME.multicast.full_rate...` (any of the above per channel)",
         "`channels.NAME.multicast.full...`"},
        {"relay.yaml", "`channels:` a list of `{name, port, schema, ...}`", "`channels.NAME: {port, schema, ...}`"},
        {"relay.yaml", "a schema path relative to the repository root (`config/agents/x.avsc`)",
         "relative to the config directory (`agents/x.avsc`); a file found relative to the config directory wins"},
        {"relay.yaml", "`decimation.factor`, `decimation.algorithm` (top level)",
         "`defaults.decimation.factor`, `defaults.decimation.algorithm`"},
        {"relay.yaml", "`decimation.enabled`", "no option: ignored (the decimated stream is always sent)"},
        {"relay.yaml", "`rotation: {mode: time, threshold: S}`", "`defaults.rotation: {interval: S, max_size: 0}`"},
        {"relay.yaml", "`rotation: {mode: size, threshold: B}`", "`defaults.rotation: {max_size: B, interval: 0}`"},
        {"relay.yaml", "`retention: {mode: ttl, value: S}`", "`defaults.retention: {ttl: S}`"},
        {"relay.yaml", "`retention: {mode: quota, value: B}`", "`defaults.retention: {max_size: B, ttl: 0}`"},
        {"stripchart.yaml", "`websocket.port`", "`http.port`"},
        {"stripchart.yaml", "`decimation.pass_through`", "no option: ignored (the stripchart never decimates further)"},
        {"pivot.yaml", "`api.port`", "`http.port`"},
        {"pivot.yaml", "`api.limits.max_channels`", "`limits.max_channels`"},
        {"pivot.yaml", "`api.limits.max_duration_minutes: M`", "`limits.max_duration: Mm`"},
        {"pivot.yaml", "`api.limits.timeout_seconds`", "no option: ignored (the earlier pivot did not use it)"},
    };
    return rows;
}

Result<YAML::Node> rewrite_legacy(const YAML::Node& root, FileKind kind, const std::string& file,
                                  const fs::path& config_dir, Legacy& out) {
    Rewriter r(kind, file, config_dir, out);
    return r.run(root);
}

}  // namespace speeddata::config::detail
