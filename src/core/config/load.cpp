// Reading config files against the option table, merging them, and building the structs.
//
// A file is read in two steps: a walk of its YAML against the tree of keys the table allows
// in that file (unknown keys, wrong types and bad values fail here, naming file and key),
// giving a map from concrete dotted keys to parsed values; then the values of every file are
// applied, lowest precedence first, onto structs holding the built-in defaults.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "core/avro/schema.hpp"
#include "core/config/config.hpp"
#include "core/config/options.hpp"

namespace speeddata::config {

namespace {

using detail::Option;
using detail::Section;
using detail::Value;
namespace fs = std::filesystem;

// The keys one file may hold: a tree built from the option table.
struct KeyTree {
    const Option* option = nullptr;                         // set on leaves
    std::vector<std::pair<std::string, KeyTree>> children;  // table order, for messages
    std::unique_ptr<KeyTree> any_channel;                   // channels.NAME

    KeyTree* child(std::string_view name) {
        for (auto& [k, t] : children) {
            if (k == name) return &t;
        }
        return nullptr;
    }
    const KeyTree* child(std::string_view name) const { return const_cast<KeyTree*>(this)->child(name); }
    KeyTree& insert(std::string_view dotted, const Option* leaf) {
        KeyTree* node = this;
        while (!dotted.empty()) {
            const size_t dot = dotted.find('.');
            const std::string_view part = dotted.substr(0, dot);
            dotted = dot == std::string_view::npos ? std::string_view() : dotted.substr(dot + 1);
            if (part == "NAME") {
                if (!node->any_channel) node->any_channel = std::make_unique<KeyTree>();
                node = node->any_channel.get();
            } else if (KeyTree* c = node->child(part)) {
                node = c;
            } else {
                node->children.emplace_back(std::string(part), KeyTree{});
                node = &node->children.back().second;
            }
        }
        node->option = leaf;
        return *node;
    }
};

enum class FileKind { global, relay, stripchart, pivot, channel_entry, orchestrator };

void add_section(KeyTree& tree, Section section, const std::string& prefix) {
    for (const Option& o : detail::option_table()) {
        if (o.section == section) tree.insert(prefix + std::string(o.key), &o);
    }
}

// global.yaml holds multicast and storage; a service file may override them (the Python
// loader deep-merges the same way) and adds its own keys.
KeyTree build_tree(FileKind kind) {
    KeyTree t;
    if (kind == FileKind::channel_entry) {
        add_section(t, Section::channel_only, "");
        add_section(t, Section::channel, "");
        add_section(t, Section::multicast, "multicast.");
        return t;
    }
    add_section(t, Section::multicast, "multicast.");
    add_section(t, Section::storage, "storage.");
    switch (kind) {
        case FileKind::relay:
            add_section(t, Section::channel, "defaults.");
            add_section(t, Section::channel_only, "channels.NAME.");
            add_section(t, Section::channel, "channels.NAME.");
            add_section(t, Section::multicast, "channels.NAME.multicast.");
            break;
        case FileKind::stripchart: add_section(t, Section::stripchart, ""); break;
        case FileKind::pivot: add_section(t, Section::pivot, ""); break;
        case FileKind::orchestrator: add_section(t, Section::orchestrator, ""); break;
        default: break;
    }
    return t;
}

const KeyTree& tree_for(FileKind kind) {
    static const KeyTree trees[] = {build_tree(FileKind::global), build_tree(FileKind::relay),
                                    build_tree(FileKind::stripchart), build_tree(FileKind::pivot),
                                    build_tree(FileKind::channel_entry), build_tree(FileKind::orchestrator)};
    return trees[static_cast<int>(kind)];
}

// A leaf named like an unknown key, somewhere else in the tree.
struct Elsewhere {
    std::string path;        // dotted, "NAME" for channels
    const KeyTree* parent;   // the mapping holding it
};

// The leaves under tree whose last part is name.
void find_leaves(const KeyTree& tree, std::string_view name, const std::string& path, std::vector<Elsewhere>& out) {
    const auto join = [&](const std::string& k) { return path.empty() ? k : path + "." + k; };
    for (const auto& [k, t] : tree.children) {
        if (t.option && k == name) out.push_back({join(k), &tree});
        find_leaves(t, name, join(k), out);
    }
    if (tree.any_channel) find_leaves(*tree.any_channel, name, join("NAME"), out);
}

// Of the places a misplaced key belongs, the one most like where it was written: the mapping
// sharing the most option keys with it (defaults.port -> channels.NAME.port, not
// multicast.full.port); on a tie, the first in table order (codec -> defaults.codec).
std::string best_elsewhere(const KeyTree& here, const std::vector<Elsewhere>& found) {
    const Elsewhere* best = nullptr;
    size_t best_shared = 0;
    for (const auto& e : found) {
        size_t shared = 0;
        for (const auto& [k, t] : here.children) shared += t.option && e.parent->child(k) != nullptr;
        if (!best || shared > best_shared) {
            best = &e;
            best_shared = shared;
        }
    }
    return best ? best->path : "";
}

// What one file said: concrete dotted key -> value, and the channels it names.
struct FileValues {
    std::string file;  // as shown in messages: "config/relay.yaml"
    std::map<std::string, Value> values;
    std::vector<std::string> channels;  // keys under channels:, in file order
};

// What a YAML node is, for "got ..." in messages: "a mapping", "\"abc\"", ...
std::string describe(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Map: return "a mapping";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Null: return "nothing (an empty value)";
        case YAML::NodeType::Scalar: return detail::quote(n.Scalar());
        default: return "nothing";
    }
}

std::string join_key(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

// Checks one file's YAML against the tree of keys it may hold, collecting parsed values;
// stops at the first error, which names the file and the dotted key.
class Walker {
public:
    Walker(const KeyTree& root, FileValues& out) : root_(root), out_(out) {}

    // Walks node, found at the dotted path, against tree (a leaf or a mapping of keys).
    Status walk(const YAML::Node& node, const KeyTree& tree, const std::string& path) {
        if (tree.option) return leaf(node, *tree.option, path);
        // A section with every key commented out reads as null: nothing to override.
        if (node.IsNull()) return {};
        if (!node.IsMap()) {
            std::string keys;
            for (const auto& [k, t] : tree.children) keys += (keys.empty() ? "" : ", ") + k;
            if (tree.any_channel) keys = "channel names";
            return error(path, "expected a mapping (keys: " + keys + "), got " + describe(node));
        }
        std::set<std::string> seen;
        for (auto it = node.begin(); it != node.end(); ++it) {
            if (!it->first.IsScalar()) return error(path, "expected text keys, got " + describe(it->first));
            const std::string key = it->first.Scalar();
            const std::string key_path = join_key(path, key);
            if (!seen.insert(key).second) return error(key_path, "duplicate key");
            if (const KeyTree* c = tree.child(key)) {
                if (auto s = walk(it->second, *c, key_path); !s) return s;
            } else if (tree.any_channel) {
                if (auto s = check_channel_name(key); !s) return error(key_path, s.message());
                out_.channels.push_back(key);
                if (auto s = walk(it->second, *tree.any_channel, key_path); !s) return s;
                if (auto s = required(*tree.any_channel, key_path); !s) return s;
            } else {
                return error(key_path, unknown(tree, key, path));
            }
        }
        return {};
    }

    // Keys without a default (port, schema) must be present in every channel entry.
    Status required(const KeyTree& tree, const std::string& path) {
        for (const auto& [k, t] : tree.children) {
            if (t.option && t.option->default_text.empty() && !out_.values.count(join_key(path, k))) {
                return error(join_key(path, k),
                             "required key missing (expected " + detail::expected_text(*t.option) + ")");
            }
        }
        return {};
    }

    // "<file>: <path>: <what>" (no path part for the top level).
    Status error(const std::string& path, const std::string& what) const {
        return Status::error(out_.file + ": " + (path.empty() ? "" : path + ": ") + what);
    }

private:
    // Parses a leaf value; a mapping or list where a value belongs is a type error.
    Status leaf(const YAML::Node& node, const Option& o, const std::string& path) {
        if (!node.IsScalar() && !node.IsNull()) {
            return error(path, "expected " + detail::expected_text(o) + ", got " + describe(node));
        }
        detail::Scalar s;
        s.null = node.IsNull();
        if (!s.null) {
            s.text = node.Scalar();
            // yaml-cpp tags plain scalars "?"; quoted ones "!" and explicit tags their name.
            s.quoted = node.Tag() != "?";
        }
        auto v = detail::parse_value(o, s);
        if (!v) return error(path, v.message());
        out_.values[path] = std::move(*v);
        return {};
    }

    // "unknown key", with the nearest sibling ("did you mean 'decimation'?") or, failing
    // that, where a key of that name does belong ("did you mean 'defaults.codec'?").
    std::string unknown(const KeyTree& tree, const std::string& key, const std::string& path) const {
        std::vector<std::string> siblings;
        for (const auto& [k, t] : tree.children) siblings.push_back(k);
        std::string near = detail::closest(key, siblings);
        if (near.empty()) {
            std::vector<Elsewhere> elsewhere;
            find_leaves(tree, key, path, elsewhere);
            if (elsewhere.empty()) find_leaves(root_, key, "", elsewhere);
            near = best_elsewhere(tree, elsewhere);
        }
        return near.empty() ? "unknown key" : "unknown key (did you mean '" + near + "'?)";
    }

    const KeyTree& root_;
    FileValues& out_;
};

// Reads a whole file; the error is the OS error alone ("No such file or directory"), for the
// caller to put in context.
Result<std::string> read_text(const fs::path& path) {
    const auto fail = [] { return Status::error(std::strerror(errno)); };
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return fail();
    std::string text;
    char buf[65536];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    const bool failed = std::ferror(f);
    const int saved = errno;
    std::fclose(f);
    if (failed) {
        errno = saved;
        return fail();
    }
    return text;
}

// Parses YAML text and walks it; yaml-cpp's exceptions stop here and become messages that
// name the source, line and column.
Result<FileValues> parse_text(const std::string& text, const std::string& source, FileKind kind) {
    FileValues out;
    out.file = source;
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        return Status::error(source + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                             std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
    }
    const KeyTree& tree = tree_for(kind);
    Walker walker(tree, out);
    if (!root.IsNull() && !root.IsMap()) {
        return walker.error("", "expected a mapping of keys at the top level, got " + describe(root));
    }
    if (auto s = walker.walk(root, tree, ""); !s) return s;
    if (kind == FileKind::channel_entry) {
        if (auto s = walker.required(tree, ""); !s) return s;
    }
    return out;
}

Result<FileValues> read_file(const fs::path& config_dir, const char* name, FileKind kind) {
    const fs::path path = config_dir / name;
    auto text = read_text(path);
    if (!text) return Status::error("cannot read " + path.string() + ": " + text.message());
    return parse_text(*text, path.string(), kind);
}

// Where each option of one channel got its value: "config/relay.yaml: defaults.codec_level",
// so that checks across options can name the key to fix.
using Origins = std::map<std::string, std::string>;

template <typename T>
const detail::Access<T>* access_of(const Option& o) {
    return std::get_if<detail::Access<T>>(&o.access);
}

// Sets every option of sections to its built-in default.
template <typename T>
void apply_defaults(T& target, std::initializer_list<Section> sections) {
    for (const Option& o : detail::option_table()) {
        if (std::find(sections.begin(), sections.end(), o.section) == sections.end()) continue;
        if (o.default_text.empty()) continue;
        if (const auto* a = access_of<T>(o)) a->set(target, detail::default_value(o));
    }
}

// Applies the values fv holds under prefix onto target (a higher-precedence layer).
template <typename T>
void apply(T& target, std::initializer_list<Section> sections, const FileValues& fv, const std::string& prefix,
           Origins* origins = nullptr) {
    for (const Option& o : detail::option_table()) {
        if (std::find(sections.begin(), sections.end(), o.section) == sections.end()) continue;
        const std::string key = prefix + std::string(o.key);
        const auto it = fv.values.find(key);
        if (it == fv.values.end()) continue;
        if (const auto* a = access_of<T>(o)) a->set(target, it->second);
        if (origins) (*origins)[std::string(o.key)] = fv.file + ": " + key;
    }
}

template <typename T>
nlohmann::ordered_json section_json(const T& source, std::initializer_list<Section> sections) {
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (const Option& o : detail::option_table()) {
        if (std::find(sections.begin(), sections.end(), o.section) == sections.end()) continue;
        const auto* a = access_of<T>(o);
        if (!a) continue;
        nlohmann::ordered_json* node = &out;
        std::string_view key = o.key;
        for (size_t dot; (dot = key.find('.')) != std::string_view::npos; key.remove_prefix(dot + 1)) {
            node = &(*node)[std::string(key.substr(0, dot))];
        }
        (*node)[std::string(key)] = detail::value_to_json(o, a->get(source));
    }
    return out;
}

// The parent of the config directory, against which relative storage paths resolve.
fs::path storage_base(const fs::path& config_dir) {
    fs::path dir = fs::absolute(config_dir).lexically_normal();
    if (!dir.has_filename()) dir = dir.parent_path();  // "/repo/config/" -> "/repo/config"
    return dir.parent_path();
}

fs::path resolve(const fs::path& base, const fs::path& p) {
    fs::path r = (p.is_absolute() ? p : base / p).lexically_normal();
    if (!r.has_filename() && r.has_parent_path() && r != r.root_path()) r = r.parent_path();
    return r;
}

void resolve_storage(StorageConfig& s, const fs::path& config_dir) {
    const fs::path base = storage_base(config_dir);
    s.root = resolve(base, s.root);
    s.avro_path = resolve(base, s.avro_path);
    s.state_path = resolve(base, s.state_path);
    s.tags_path = resolve(base, s.tags_path);
}

// Storage and multicast: built-in < global.yaml < the service file.
template <typename T>
void merge_globals(T& cfg, const fs::path& config_dir, const FileValues& global, const FileValues& service) {
    cfg.config_dir = config_dir;
    apply_defaults(cfg.storage, {Section::storage});
    apply(cfg.storage, {Section::storage}, global, "storage.");
    apply(cfg.storage, {Section::storage}, service, "storage.");
    resolve_storage(cfg.storage, config_dir);
    apply_defaults(cfg.multicast, {Section::multicast});
    apply(cfg.multicast, {Section::multicast}, global, "multicast.");
    apply(cfg.multicast, {Section::multicast}, service, "multicast.");
}

// The two streams of one channel must differ, or decimated subscribers would get full rate.
Status check_streams(const MulticastConfig& m, const std::string& where) {
    if (m.enabled && m.full.group == m.decimated.group && m.full.port == m.decimated.port) {
        return Status::error(where + ": the full and decimated streams are both " + m.full.group + ":" +
                             std::to_string(m.full.port) + "; they must differ");
    }
    return {};
}

// Checks a schema file the way a relay will need it: readable, a valid Avro schema (the
// project's own parser, as the relay uses) whose root is a record holding the time field.
Status check_schema(const fs::path& shown, const fs::path& path, const std::string& time_field,
                    const std::string& schema_origin, const std::string& time_origin) {
    auto text = read_text(path);
    if (!text) return Status::error(schema_origin + ": cannot read " + shown.generic_string() + ": " + text.message());
    auto schema = avro::Schema::parse(*text);
    if (!schema) return Status::error(schema_origin + ": " + shown.generic_string() + ": " + schema.message());
    if (schema->root().type != avro::Type::record) {
        return Status::error(schema_origin + ": " + shown.generic_string() + ": expected a record schema, got " +
                             std::string(avro::type_name(schema->root().type)));
    }
    if (schema->field_index(time_field) >= 0) return {};
    std::string names;
    for (const auto& f : schema->root().fields) names += (names.empty() ? "" : ", ") + f.name;
    return Status::error(time_origin + ": the schema " + shown.generic_string() + " has no field '" + time_field +
                         "' (its fields: " + names + ")");
}

// Completes a channel whose options are applied: derived paths, checks across options and
// the schema file. origins name the key each value came from, for messages.
Status finish_channel(ChannelConfig& c, const std::string& name, const fs::path& config_dir,
                      const StorageConfig& storage, const Origins& origins, const std::string& entry) {
    const auto origin = [&](const std::string& key) {
        const auto it = origins.find(key);
        return it != origins.end() ? it->second : entry + key;
    };
    c.name = name;
    c.avro_dir = storage.avro_path / name;
    c.status_file = storage.state_path / "relays" / (name + ".json");
    c.schema_path = resolve(fs::absolute(config_dir), c.schema);

    const int lo = c.codec == avro::Codec::zstandard ? 1 : 0;
    const int hi = c.codec == avro::Codec::zstandard ? 22 : 9;
    const bool levelled = c.codec == avro::Codec::deflate || c.codec == avro::Codec::zstandard;
    if (levelled && c.codec_level != -1 && (c.codec_level < lo || c.codec_level > hi)) {
        return Status::error(origin("codec_level") + ": expected -1 or " + std::to_string(lo) + ".." +
                             std::to_string(hi) + " for codec " + std::string(codec_config_name(c.codec)) +
                             " (channel '" + name + "'), got " + std::to_string(c.codec_level));
    }
    if (auto s = check_streams(c.multicast, entry + "multicast"); !s) return s;

    const fs::path shown = (config_dir / c.schema).lexically_normal();
    // A time_field set in the files is the key to fix; the built-in "time" is not.
    const std::string time_origin = origins.count("time_field") ? origin("time_field") : origin("schema");
    return check_schema(shown, c.schema_path, c.time_field, origin("schema"), time_origin);
}

Status check_port_free(const ChannelConfig& c, const std::map<std::string, ChannelConfig>& others,
                       const std::string& origin) {
    for (const auto& [other_name, other] : others) {
        if (other_name != c.name && other.port == c.port) {
            return Status::error(origin + ": port " + std::to_string(c.port) + " is already used by channel '" +
                                 other_name + "'");
        }
    }
    return {};
}

}  // namespace

Status check_channel_name(std::string_view name) {
    const auto ok_char = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-'; };
    const bool ok = !name.empty() && name.size() <= 64 &&
                    (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_') &&
                    std::all_of(name.begin(), name.end(), ok_char);
    if (ok) return {};
    return Status::error("invalid channel name " + detail::quote(name) +
                         " (expected 1..64 letters, digits, '_' or '-', starting with a letter or '_')");
}

Result<RelayConfig> load_relay_config(const fs::path& config_dir) {
    auto global = read_file(config_dir, "global.yaml", FileKind::global);
    if (!global) return global.status();
    auto relay = read_file(config_dir, "relay.yaml", FileKind::relay);
    if (!relay) return relay.status();

    RelayConfig rc;
    merge_globals(rc, config_dir, *global, *relay);
    const bool relay_sets_multicast = std::any_of(relay->values.begin(), relay->values.end(),
                                                  [](const auto& kv) { return kv.first.starts_with("multicast."); });
    if (auto s = check_streams(rc.multicast, (relay_sets_multicast ? relay->file : global->file) + ": multicast"); !s) {
        return s;
    }

    Origins default_origins;
    apply_defaults(rc.defaults, {Section::channel});
    apply(rc.defaults, {Section::channel}, *relay, "defaults.", &default_origins);
    rc.defaults.multicast = rc.multicast;

    for (const std::string& name : relay->channels) {
        const std::string entry = "channels." + name + ".";
        ChannelConfig c = rc.defaults;
        Origins origins = default_origins;
        apply(c, {Section::channel, Section::channel_only}, *relay, entry, &origins);
        apply(c.multicast, {Section::multicast}, *relay, entry + "multicast.");
        if (auto s = finish_channel(c, name, config_dir, rc.storage, origins, relay->file + ": " + entry); !s) return s;
        if (auto s = check_port_free(c, rc.channels, origins.at("port")); !s) return s;
        rc.channels.emplace(name, std::move(c));
    }
    return rc;
}

Result<ChannelConfig> parse_channel(const RelayConfig& base, const std::string& name, std::string_view yaml_text,
                                    const std::string& source_name) {
    if (auto s = check_channel_name(name); !s) return s.with_context(source_name);
    auto entry = parse_text(std::string(yaml_text), source_name, FileKind::channel_entry);
    if (!entry) return entry.status();

    ChannelConfig c = base.defaults;
    c.multicast = base.multicast;
    Origins origins;
    apply(c, {Section::channel, Section::channel_only}, *entry, "", &origins);
    apply(c.multicast, {Section::multicast}, *entry, "multicast.");
    if (auto s = finish_channel(c, name, base.config_dir, base.storage, origins, source_name + ": "); !s) return s;
    if (auto s = check_port_free(c, base.channels, origins.at("port")); !s) return s;
    return c;
}

Result<StripchartConfig> load_stripchart_config(const fs::path& config_dir) {
    auto global = read_file(config_dir, "global.yaml", FileKind::global);
    if (!global) return global.status();
    auto own = read_file(config_dir, "stripchart.yaml", FileKind::stripchart);
    if (!own) return own.status();
    StripchartConfig sc;
    merge_globals(sc, config_dir, *global, *own);
    apply_defaults(sc, {Section::stripchart});
    apply(sc, {Section::stripchart}, *own, "");
    return sc;
}

Result<PivotConfig> load_pivot_config(const fs::path& config_dir) {
    auto global = read_file(config_dir, "global.yaml", FileKind::global);
    if (!global) return global.status();
    auto own = read_file(config_dir, "pivot.yaml", FileKind::pivot);
    if (!own) return own.status();
    PivotConfig pc;
    merge_globals(pc, config_dir, *global, *own);
    apply_defaults(pc, {Section::pivot});
    apply(pc, {Section::pivot}, *own, "");
    return pc;
}

Result<OrchestratorConfig> load_orchestrator_config(const fs::path& config_dir) {
    auto global = read_file(config_dir, "global.yaml", FileKind::global);
    if (!global) return global.status();
    // Every key is optional: an absent file is an empty one.
    std::error_code ec;
    const bool present = fs::exists(config_dir / "orchestrator.yaml", ec);
    auto own = present ? read_file(config_dir, "orchestrator.yaml", FileKind::orchestrator)
                       : parse_text("{}", (config_dir / "orchestrator.yaml").string(), FileKind::orchestrator);
    if (!own) return own.status();
    OrchestratorConfig oc;
    merge_globals(oc, config_dir, *global, *own);
    apply_defaults(oc, {Section::orchestrator});
    apply(oc, {Section::orchestrator}, *own, "");
    if (oc.port_range_end < oc.port_range_start)
        return Status::error((config_dir / "orchestrator.yaml").string() + ": ports.end: expected at least ports.start (" +
                             std::to_string(oc.port_range_start) + "), got " + std::to_string(oc.port_range_end));
    return oc;
}

nlohmann::ordered_json orchestrator_to_json(const OrchestratorConfig& orchestrator) {
    auto out = section_json(orchestrator, {Section::orchestrator});
    out["storage"] = section_json(orchestrator.storage, {Section::storage});
    return out;
}

nlohmann::ordered_json channel_to_json(const ChannelConfig& channel) {
    auto out = section_json(channel, {Section::channel_only, Section::channel});
    out["multicast"] = section_json(channel.multicast, {Section::multicast});
    return out;
}

nlohmann::ordered_json relay_to_json(const RelayConfig& relay) {
    nlohmann::ordered_json out;
    out["storage"] = section_json(relay.storage, {Section::storage});
    out["multicast"] = section_json(relay.multicast, {Section::multicast});
    out["channels"] = nlohmann::ordered_json::object();
    for (const auto& [name, c] : relay.channels) out["channels"][name] = channel_to_json(c);
    return out;
}

nlohmann::ordered_json stripchart_to_json(const StripchartConfig& stripchart) {
    auto out = section_json(stripchart, {Section::stripchart});
    out["storage"] = section_json(stripchart.storage, {Section::storage});
    out["multicast"] = section_json(stripchart.multicast, {Section::multicast});
    return out;
}

nlohmann::ordered_json pivot_to_json(const PivotConfig& pivot) {
    auto out = section_json(pivot, {Section::pivot});
    out["storage"] = section_json(pivot.storage, {Section::storage});
    out["multicast"] = section_json(pivot.multicast, {Section::multicast});
    return out;
}

}  // namespace speeddata::config
