// Reading config files against the option table, merging them, and building the structs.
//
// A file is read in two steps: a walk of its YAML against the tree of keys the table allows
// in that file (unknown keys, wrong types and bad values fail here, naming file and key),
// giving a map from concrete dotted keys to parsed values; then the values of every file are
// applied, lowest precedence first, onto structs holding the built-in defaults.
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/avro/schema.hpp"
#include "core/config/config.hpp"
#include "core/config/legacy.hpp"
#include "core/config/options.hpp"
#include "core/fs.hpp"

namespace speeddata::config {

namespace {

using detail::Option;
using detail::Section;
using detail::Value;
namespace fs = std::filesystem;

// The keys one file may hold: a tree built from the option table.
struct KeyTree {
    // A named child. Defined after KeyTree: a std::pair<std::string, KeyTree> member would
    // need KeyTree complete inside its own definition, which clang with libstdc++ rejects.
    struct Child;
    const Option* option = nullptr;        // set on leaves
    std::vector<Child> children;           // table order, for messages
    std::unique_ptr<KeyTree> any_channel;  // channels.NAME

    KeyTree* child(std::string_view name);
    const KeyTree* child(std::string_view name) const { return const_cast<KeyTree*>(this)->child(name); }
    KeyTree& insert(std::string_view dotted, const Option* leaf);
};

struct KeyTree::Child {
    std::string key;
    KeyTree tree;
};

KeyTree* KeyTree::child(std::string_view name) {
    for (auto& [k, t] : children) {
        if (k == name) return &t;
    }
    return nullptr;
}

KeyTree& KeyTree::insert(std::string_view dotted, const Option* leaf) {
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
            node->children.push_back(Child{std::string(part), KeyTree{}});
            node = &node->children.back().tree;
        }
    }
    node->option = leaf;
    return *node;
}

using detail::FileKind;

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
    add_section(t, Section::auth, "auth.");
    if (kind == FileKind::global) add_section(t, Section::cluster, "cluster.");
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
    detail::Legacy legacy;              // earlier spellings the file used (legacy.hpp)

    // "config/relay.yaml: channels[0].port": a key as the file spells it, for messages.
    std::string where(const std::string& key) const { return file + ": " + legacy.shown(key); }
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
        return Status::error(out_.file + ": " + (path.empty() ? "" : out_.legacy.shown(path) + ": ") + what);
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
        if (const auto old = out_.legacy.old_names.find(path); old != out_.legacy.old_names.end()) {
            siblings.insert(siblings.end(), old->second.begin(), old->second.end());
        }
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
    std::string text;
    if (int e = read_file_into(path, text); e != 0) return Status::error(std::strerror(e));
    return text;
}

// Parses YAML text and walks it; yaml-cpp's exceptions stop here and become messages that
// name the source, line and column.
Result<YAML::Node> load_yaml(const std::string& text, const std::string& source) {
    try {
        return YAML::Load(text);
    } catch (const YAML::Exception& e) {
        return Status::error(source + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                             std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
    }
}

// Walks a document already rewritten into the new form (legacy.hpp) against the key tree.
Result<FileValues> walk_document(const YAML::Node& root, FileValues out, FileKind kind) {
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

// Parses YAML text, maps the earlier spellings onto the new keys and walks it; config_dir
// resolves schema paths of the earlier form.
Result<FileValues> parse_text(const std::string& text, const std::string& source, FileKind kind,
                              const fs::path& config_dir) {
    auto root = load_yaml(text, source);
    if (!root) return root.status();
    FileValues out;
    out.file = source;
    auto rewritten = detail::rewrite_legacy(*root, kind, source, config_dir, out.legacy);
    if (!rewritten) return rewritten.status();
    return walk_document(*rewritten, std::move(out), kind);
}

Result<FileValues> read_file(const fs::path& config_dir, const char* name, FileKind kind) {
    const fs::path path = config_dir / name;
    auto text = read_text(path);
    if (!text) return Status::error("cannot read " + path.string() + ": " + text.message());
    return parse_text(*text, path.string(), kind, config_dir);
}

// The notices of the files a service read, in reading order.
template <typename T>
void add_notices(T& cfg, std::initializer_list<const FileValues*> files) {
    for (const FileValues* f : files) {
        cfg.notices.insert(cfg.notices.end(), f->legacy.notices.begin(), f->legacy.notices.end());
    }
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
        if (origins) (*origins)[std::string(o.key)] = fv.where(key);
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
    apply_defaults(cfg.auth, {Section::auth});
    apply(cfg.auth, {Section::auth}, global, "auth.");
    apply(cfg.auth, {Section::auth}, service, "auth.");
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

// A raw stream's datagrams do not say their channel: a subscriber can only tell them apart by
// group and port, so no other channel's stream may share the raw stream's.
Status check_raw_streams(const ChannelConfig& c, const std::map<std::string, ChannelConfig>& others,
                         const std::string& entry) {
    if (!c.multicast.enabled) return {};
    for (const auto* mine : {&c.multicast.full, &c.multicast.decimated}) {
        const bool mine_raw = mine->format == StreamFormat::raw;
        for (const auto& [other_name, other] : others) {
            if (other_name == c.name || !other.multicast.enabled) continue;
            for (const auto* theirs : {&other.multicast.full, &other.multicast.decimated}) {
                if (mine->group != theirs->group || mine->port != theirs->port) continue;
                if (!mine_raw && theirs->format != StreamFormat::raw) continue;
                const bool full = mine == &c.multicast.full;
                return Status::error(entry + "multicast." + (full ? "full" : "decimated") + ": " + mine->group + ":" +
                                     std::to_string(mine->port) + " is also used by channel '" + other_name +
                                     "', and a raw stream (format: raw) carries no channel id; give the raw stream a "
                                     "group or port of its own");
            }
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
    add_notices(rc, {&*global, &*relay});
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
        if (auto s = finish_channel(c, name, config_dir, rc.storage, origins, relay->file + ": " + relay->legacy.old_key("channels." + name) + "."); !s)
            return s;
        if (auto s = check_port_free(c, rc.channels, origins.at("port")); !s) return s;
        if (auto s = check_raw_streams(c, rc.channels, relay->file + ": " + entry); !s) return s;
        rc.channels.emplace(name, std::move(c));
    }
    return rc;
}

Result<ChannelConfig> parse_channel(const RelayConfig& base, const std::string& name, std::string_view yaml_text,
                                    const std::string& source_name) {
    if (auto s = check_channel_name(name); !s) return s.with_context(source_name);
    auto entry = parse_text(std::string(yaml_text), source_name, FileKind::channel_entry, base.config_dir);
    if (!entry) return entry.status();

    ChannelConfig c = base.defaults;
    c.multicast = base.multicast;
    Origins origins;
    apply(c, {Section::channel, Section::channel_only}, *entry, "", &origins);
    apply(c.multicast, {Section::multicast}, *entry, "multicast.");
    if (auto s = finish_channel(c, name, base.config_dir, base.storage, origins, source_name + ": "); !s) return s;
    if (auto s = check_port_free(c, base.channels, origins.at("port")); !s) return s;
    if (auto s = check_raw_streams(c, base.channels, source_name + ": "); !s) return s;
    return c;
}

namespace {

bool file_set(const fs::path& p) { return !p.empty() && p != "none"; }

// The first line of a secret's file, trailing space trimmed; origin names the file and key.
Result<std::string> read_secret(const fs::path& file, const std::string& origin) {
    auto text = read_text(file);
    if (!text) return Status::invalid(origin + ": cannot read " + file.string() + ": " + text.message());
    std::string secret = *text;
    if (auto nl = secret.find('\n'); nl != std::string::npos) secret.resize(nl);
    while (!secret.empty() && std::isspace(static_cast<unsigned char>(secret.back()))) secret.pop_back();
    if (secret.empty()) return Status::invalid(origin + ": " + file.string() + " is empty");
    return secret;
}

// cluster.user / password_file / token_file / tls.*: which go together, and the files read now,
// so that a wrong one is a config error naming its key, not a NATS error later.
Status finish_cluster_security(ClusterConfig& c, const fs::path& config_dir) {
    const std::string at = (config_dir / "global.yaml").string() + ": cluster.";
    auto resolve = [&](const fs::path& p) { return p.is_absolute() ? p : config_dir / p; };
    if (!c.user.empty() && !file_set(c.password_file))
        return Status::invalid(at + "user: set cluster.password_file too (the user's password)");
    if (file_set(c.password_file) && c.user.empty())
        return Status::invalid(at + "password_file: set cluster.user too (whose password it is)");
    if (file_set(c.token_file) && !c.user.empty())
        return Status::invalid(at + "token_file: NATS takes a user or a token, not both (cluster.user is set)");
    if (file_set(c.password_file)) {
        auto pw = read_secret(resolve(c.password_file), at + "password_file");
        if (!pw) return pw.status();
        c.password = std::move(*pw);
    }
    if (file_set(c.token_file)) {
        auto tok = read_secret(resolve(c.token_file), at + "token_file");
        if (!tok) return tok.status();
        c.token = std::move(*tok);
    }
    if (file_set(c.tls_cert) != file_set(c.tls_key))
        return Status::invalid(at + (file_set(c.tls_cert) ? "tls.cert: set cluster.tls.key too (its private key)"
                                                           : "tls.key: set cluster.tls.cert too (its certificate)"));
    const std::pair<const fs::path*, std::string*> files[] = {
        {&c.tls_ca, &c.tls_ca_file}, {&c.tls_cert, &c.tls_cert_file}, {&c.tls_key, &c.tls_key_file}};
    const char* keys[] = {"tls.ca", "tls.cert", "tls.key"};
    for (size_t i = 0; i < 3; ++i) {
        if (!file_set(*files[i].first)) continue;
        const fs::path f = resolve(*files[i].first);
        auto text = read_text(f);
        if (!text) return Status::invalid(at + keys[i] + ": cannot read " + f.string() + ": " + text.message());
        if (text->find("-----BEGIN ") == std::string::npos)
            return Status::invalid(at + keys[i] + ": " + f.string() + " is not a PEM file (no -----BEGIN line)");
        *files[i].second = f.string();
    }
    return Status();
}

}  // namespace

Result<ClusterConfig> load_cluster_config(const fs::path& config_dir) {
    auto global = read_file(config_dir, "global.yaml", FileKind::global);
    if (!global) return global.status();
    ClusterConfig c;
    apply_defaults(c, {Section::cluster});
    apply(c, {Section::cluster}, *global, "cluster.");
    if (auto s = finish_cluster_security(c, config_dir); !s) return s;
    return c;
}

std::string redact_nats_urls(const std::string& urls) {
    std::string out;
    for (size_t start = 0; start <= urls.size();) {
        const size_t end = std::min(urls.find(',', start), urls.size());
        std::string url = urls.substr(start, end - start);
        const size_t scheme = url.find("://");
        const size_t at = url.rfind('@');  // as nats.c reads it: a password may hold '@'
        if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
            const size_t user_end = url.find(':', scheme + 3);
            // nats://user:pass@h keeps the user; nats://token@h hides the token.
            const size_t from = (user_end != std::string::npos && user_end < at) ? user_end + 1 : scheme + 3;
            url.replace(from, at - from, "***");
        }
        if (start > 0) out += ',';
        out += url;
        start = end + 1;
    }
    return out;
}

std::string cluster_host_name(const ClusterConfig& cluster) {
    if (!cluster.host.empty()) return cluster.host;
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0 || name[0] == 0) return "localhost";
    return name;
}

Result<std::string> load_token(const AuthConfig& auth, const fs::path& config_dir, const std::string& origin) {
    if (const char* env = std::getenv("SPEEDDATA_TOKEN"); env && *env) return std::string(env);
    if (!file_set(auth.token_file)) return std::string();
    return read_secret(auth.token_file.is_absolute() ? auth.token_file : config_dir / auth.token_file, origin);
}

Result<StripchartConfig> load_stripchart_config(const fs::path& config_dir) {
    auto global = read_file(config_dir, "global.yaml", FileKind::global);
    if (!global) return global.status();
    auto own = read_file(config_dir, "stripchart.yaml", FileKind::stripchart);
    if (!own) return own.status();
    StripchartConfig sc;
    merge_globals(sc, config_dir, *global, *own);
    add_notices(sc, {&*global, &*own});
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
    add_notices(pc, {&*global, &*own});
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
                       : parse_text("{}", (config_dir / "orchestrator.yaml").string(), FileKind::orchestrator, config_dir);
    if (!own) return own.status();
    OrchestratorConfig oc;
    merge_globals(oc, config_dir, *global, *own);
    add_notices(oc, {&*global, &*own});
    apply_defaults(oc, {Section::orchestrator});
    apply(oc, {Section::orchestrator}, *own, "");
    if (oc.port_range_end < oc.port_range_start)
        return Status::error((config_dir / "orchestrator.yaml").string() + ": ports.end: expected at least ports.start (" +
                             std::to_string(oc.port_range_start) + "), got " + std::to_string(oc.port_range_end));
    return oc;
}

Result<std::vector<MigratedFile>> migrate_config(const fs::path& config_dir) {
    static const std::pair<const char*, FileKind> files[] = {
        {"global.yaml", FileKind::global},         {"relay.yaml", FileKind::relay},
        {"stripchart.yaml", FileKind::stripchart}, {"pivot.yaml", FileKind::pivot},
        {"orchestrator.yaml", FileKind::orchestrator}};
    std::vector<MigratedFile> out;
    for (const auto& [name, kind] : files) {
        const fs::path path = config_dir / name;
        std::error_code ec;
        if (kind == FileKind::orchestrator && !fs::exists(path, ec)) continue;  // optional
        auto text = read_text(path);
        if (!text) return Status::error("cannot read " + path.string() + ": " + text.message());
        auto root = load_yaml(*text, path.string());
        if (!root) return root.status();
        FileValues fv;
        fv.file = path.string();
        auto rewritten = detail::rewrite_legacy(*root, kind, fv.file, config_dir, fv.legacy);
        if (!rewritten) return rewritten.status();
        auto walked = walk_document(*rewritten, fv, kind);  // the checks a service makes
        if (!walked) return walked.status();
        if (fv.legacy.empty()) continue;
        MigratedFile m;
        m.path = path;
        m.original_text = *text;
        m.notices = fv.legacy.notices;
        m.new_text = detail::emit_migrated(*root, *rewritten, *text, fv.legacy, m.dropped_comments);
        // The new text must say the same, in the new form only.
        auto again = parse_text(m.new_text, fv.file, kind, config_dir);
        if (!again) return Status::error(fv.file + ": the migrated text does not read back (" + again.message() + ")");
        if (!again->legacy.empty() || again->values != walked->values || again->channels != walked->channels) {
            return Status::error(fv.file + ": the migrated text does not read back as the same options");
        }
        out.push_back(std::move(m));
    }
    return out;
}

nlohmann::ordered_json orchestrator_to_json(const OrchestratorConfig& orchestrator) {
    auto out = section_json(orchestrator, {Section::orchestrator});
    out["storage"] = section_json(orchestrator.storage, {Section::storage});
    out["auth"] = section_json(orchestrator.auth, {Section::auth});
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
    out["auth"] = section_json(stripchart.auth, {Section::auth});
    out["multicast"] = section_json(stripchart.multicast, {Section::multicast});
    return out;
}

nlohmann::ordered_json pivot_to_json(const PivotConfig& pivot) {
    auto out = section_json(pivot, {Section::pivot});
    out["storage"] = section_json(pivot.storage, {Section::storage});
    out["auth"] = section_json(pivot.auth, {Section::auth});
    out["multicast"] = section_json(pivot.multicast, {Section::multicast});
    return out;
}

}  // namespace speeddata::config
