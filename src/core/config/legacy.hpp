// The earlier version's (v0.6) spellings of config keys, mapped onto the option table's keys in
// one place. A file is rewritten into the new form as a YAML tree before the walker of
// load.cpp checks it against the option table, so values are parsed, range-checked and
// documented by the table alone: an alias is a different path to an option, not a second
// parser. Each old-form key gives one notice naming the file, the key as written and its new
// spelling; an error about a value that came through an alias names the key as written.
//
// Internal to sd_config (load.cpp, migrate.cpp).
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.hpp"

namespace speeddata::config::detail {

// Which config file a YAML document is; decides the keys it may hold (load.cpp) and the
// earlier spellings recognised in it.
enum class FileKind { global, relay, stripchart, pivot, channel_entry, orchestrator };

// What rewriting one file found.
struct Legacy {
    // "<file>: <old key>: <what it is now>", in file order.
    std::vector<std::string> notices;
    // New dotted key (or key prefix) -> the key as the file spells it ("channels.example" ->
    // "channels[0]", "multicast.full.group" -> "multicast.full_rate.address").
    std::map<std::string, std::string> origins;
    // New keys whose comments must not come from their origin's line: their meaning changed
    // (rotation.threshold's "seconds if mode=time" is not about rotation.max_size).
    std::set<std::string> no_comment;
    // Earlier key names accepted in a new mapping ("multicast.full" -> address), for the
    // did-you-mean of an unknown key there.
    std::map<std::string, std::vector<std::string>> old_names;

    bool empty() const { return notices.empty(); }
    // The old dotted key a new one came from (itself when it was not renamed).
    std::string old_key(const std::string& new_key) const;
    // A key for messages: as the file spells it, plus "(now NEW)" when an alias renamed it.
    std::string shown(const std::string& new_key) const;
};

// The new form of root (the document of `file`, a config file of kind): a new tree sharing
// the unchanged subtrees of root, which itself is left as it is (the migrate command still
// reads its marks). Records notices and origins in out. config_dir resolves schema paths
// written relative to the repository root (the earlier form). Errors name the file and the
// key as written: an old and a new spelling of the same option, an old-form value that
// cannot be translated.
Result<YAML::Node> rewrite_legacy(const YAML::Node& root, FileKind kind, const std::string& file,
                                  const std::filesystem::path& config_dir, Legacy& out);

// The new-form text of a rewritten document: block YAML with two-space indentation, values
// as written (quoted ones double-quoted), and the comments of the original text kept above
// and beside the keys they belonged to. Comments that belonged to keys with no counterpart in
// the new form are returned in dropped ("line 14: # Options: time, size").
std::string emit_migrated(const YAML::Node& original_root, const YAML::Node& new_root,
                          const std::string& original_text, const Legacy& legacy,
                          std::vector<std::string>& dropped);

// One row of docs/config.md's table of earlier spellings (kept beside the code in legacy.cpp).
struct AliasDoc {
    std::string_view file;      // "global.yaml", "relay.yaml", "any file"
    std::string_view earlier;   // the earlier form
    std::string_view now;       // the new form, or what happens to it
};
const std::vector<AliasDoc>& alias_docs();

}  // namespace speeddata::config::detail
