// The HTTP request target, parsed once: one normalised path decides both authorisation and
// routing (and static-file lookup), so no spelling of a path can reach a handler while skipping
// a check made on another spelling. No Beast here: this is plain string work, fuzzed on its own
// (tests/fuzz).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.hpp"

namespace speeddata::http {

struct Target {
    // Percent-decoded exactly once, then split on '/': empty and "." segments dropped, ".."
    // removes the previous segment. Always starts with '/', never ends with one (except "/"),
    // never holds "//", a "." or ".." segment, a NUL, a backslash or invalid UTF-8.
    // "/%2fapi//v1/./x" and "//api/v1/x" both become "/api/v1/x".
    std::string path;
    // Decoded query parameters in order ('+' is a space); a name without '=' has value "".
    std::vector<std::pair<std::string, std::string>> query_list;
    // The same, by name; the last occurrence wins.
    std::map<std::string, std::string> query;
};

// Parses an origin-form request target ("/path?query"). Errors (HTTP 400, the message says
// which rule): not starting with '/', a malformed percent escape, an encoded or raw NUL or
// backslash, invalid UTF-8 in the path or the query, ".." above the root, a '#'.
Result<Target> parse_target(std::string_view raw);

// Percent-decoding of a URL component ('+' is a space in query strings). A malformed escape
// is an error; the result is not checked for UTF-8 (see valid_utf8).
Result<std::string> percent_decode(std::string_view s, bool plus_is_space);

// True when s is well-formed UTF-8 (no overlong forms, no surrogates, at most U+10FFFF).
bool valid_utf8(std::string_view s);

// Percent-encodes a path so that parse_target gives it back: every byte outside
// [A-Za-z0-9-._~/!$&'()*+,;=:@] is escaped.
std::string encode_path(std::string_view path);

}  // namespace speeddata::http
