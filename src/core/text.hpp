// Small text helpers shared by every part (header-only: the Avro core, which sd_core links
// against, uses them too).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace speeddata {

// Appends byte c as it stands inside a JSON string: quote, backslash and control characters
// escaped (JSON.stringify's escapes), every other byte as is (UTF-8 passes through).
inline void append_json_char(std::string& out, unsigned char c) {
    static constexpr char hex[] = "0123456789abcdef";
    switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (c < 0x20) {
                out += "\\u00";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 15]);
            } else {
                out.push_back(static_cast<char>(c));
            }
    }
}

// s as a JSON string's contents (no quotes), escaped as append_json_char does.
inline std::string json_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) append_json_char(out, static_cast<unsigned char>(c));
    return out;
}

// s in double quotes with \" \\ \n \t and \xHH for other control bytes escaped: a YAML
// double-quoted scalar (what config migrate writes), and how error messages show a value.
// Longer than max_chars: cut there, with "..." inside the quotes.
inline std::string double_quoted(std::string_view s, size_t max_chars = std::string_view::npos) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (size_t i = 0; i < s.size() && i < max_chars; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > max_chars) out += "...";
    return out + "\"";
}

// The items with sep between them: join({"a", "b"}, ", ") == "a, b".
template <class Range>
std::string join(const Range& items, std::string_view sep) {
    std::string out;
    bool first = true;
    for (const auto& item : items) {
        if (!first) out += sep;
        out += item;
        first = false;
    }
    return out;
}

// A 64-bit value as 16 lowercase hex digits, no prefix: the one spelling of a schema
// fingerprint (CRC-64-AVRO) in the API, the HDF5 attributes and the CLI ("0x" is added
// only where prose prints it as a number).
inline std::string hex16(uint64_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i, v >>= 4) out[static_cast<size_t>(i)] = digits[v & 15];
    return out;
}

}  // namespace speeddata
