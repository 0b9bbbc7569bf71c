// Fuzz target: the HTTP request target (src/http/target.hpp), what every server decides
// access and routing on. The input is a raw origin-form target ("/path?query").
// Properties, for every accepted target:
//   * the path starts with '/', holds no "//", no "." or ".." segment, no NUL, no backslash,
//     is valid UTF-8, and ends with '/' only when it is "/";
//   * the path re-encoded (encode_path) parses to the same path, and so does the path
//     followed by the query re-encoded byte by byte: the same parameters in the same order;
//   * query holds, for each name, the value of its last occurrence in query_list.
// Rejected targets have a message; nothing may crash or read out of bounds.
#include <string>

#include "fuzz_check.hpp"
#include "http/target.hpp"

using namespace speeddata;

namespace {

std::string encode_component(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out.push_back(ch);
        } else {
            out += {'%', hex[c >> 4], hex[c & 15]};
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view raw = fuzz::text_of(data, size);
    auto t = http::parse_target(raw);
    if (!t) {
        FUZZ_CHECK(!t.message().empty());
        return 0;
    }
    const std::string& path = t->path;
    FUZZ_CHECK(!path.empty() && path.front() == '/', path);
    FUZZ_CHECK(path.find("//") == std::string::npos, path);
    FUZZ_CHECK(path == "/" || path.back() != '/', path);
    FUZZ_CHECK(path.find('\0') == std::string::npos);
    FUZZ_CHECK(path.find('\\') == std::string::npos, path);
    FUZZ_CHECK(http::valid_utf8(path), path);
    for (size_t b = 1; b < path.size();) {
        size_t e = path.find('/', b);
        if (e == std::string::npos) e = path.size();
        const std::string_view seg = std::string_view(path).substr(b, e - b);
        FUZZ_CHECK(seg != "." && seg != ".." && !seg.empty(), path);
        b = e + 1;
    }

    const std::string encoded = http::encode_path(path);
    auto again = http::parse_target(encoded);
    FUZZ_CHECK(again.ok(), encoded + ": " + again.message());
    FUZZ_CHECK(again->path == path, encoded + " -> " + again->path);
    FUZZ_CHECK(again->query_list.empty());

    std::string query;
    for (const auto& [k, v] : t->query_list) {
        query += (query.empty() ? "?" : "&") + encode_component(k) + "=" + encode_component(v);
        const auto it = t->query.find(k);
        FUZZ_CHECK(it != t->query.end(), k);
    }
    for (const auto& [k, v] : t->query) {
        std::string last;
        for (const auto& [k2, v2] : t->query_list) {
            if (k2 == k) last = v2;
        }
        FUZZ_CHECK(last == v, k);
    }
    auto whole = http::parse_target(encoded + query);
    FUZZ_CHECK(whole.ok(), encoded + query + ": " + whole.message());
    FUZZ_CHECK(whole->path == path && whole->query_list == t->query_list, encoded + query);
    return 0;
}
