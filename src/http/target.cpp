#include "http/target.hpp"

#include <cstdint>

namespace speeddata::http {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    const size_t n = s.size();
    while (i < n) {
        const auto c = static_cast<uint8_t>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len = 0;
        uint32_t cp = 0;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n) return false;
        for (size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<uint8_t>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

Result<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) return Status::error("malformed percent escape (expected %XX)");
            const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
            if (hi < 0 || lo < 0) return Status::error("malformed percent escape (expected %XX)");
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

Result<Target> parse_target(std::string_view raw) {
    if (raw.empty() || raw.front() != '/')
        return Status::error("request target must be a path starting with '/'");
    if (raw.find('#') != std::string_view::npos) return Status::error("request target must not hold a fragment ('#')");
    std::string_view raw_path = raw, raw_query;
    if (auto q = raw.find('?'); q != std::string_view::npos) {
        raw_path = raw.substr(0, q);
        raw_query = raw.substr(q + 1);
    }
    auto decoded = percent_decode(raw_path, false);
    if (!decoded) return Status::error("path: " + decoded.message());
    const std::string& p = *decoded;
    if (p.find('\0') != std::string::npos) return Status::error("path: must not hold a NUL byte");
    if (p.find('\\') != std::string::npos) return Status::error("path: must not hold a backslash");
    if (!valid_utf8(p)) return Status::error("path: not valid UTF-8");

    std::vector<std::string_view> segs;
    std::string_view rest = p;
    while (!rest.empty()) {
        const size_t j = rest.find('/');
        std::string_view seg = rest.substr(0, j);
        rest = j == std::string_view::npos ? std::string_view() : rest.substr(j + 1);
        if (seg.empty() || seg == ".") continue;
        if (seg == "..") {
            if (segs.empty()) return Status::error("path: '..' goes above the root");
            segs.pop_back();
            continue;
        }
        segs.push_back(seg);
    }
    Target t;
    t.path = "/";
    for (size_t i = 0; i < segs.size(); ++i) {
        if (i) t.path += '/';
        t.path.append(segs[i]);
    }

    size_t i = 0;
    while (i < raw_query.size()) {
        size_t j = raw_query.find('&', i);
        if (j == std::string_view::npos) j = raw_query.size();
        std::string_view kv = raw_query.substr(i, j - i);
        i = j + 1;
        if (kv.empty()) continue;
        const size_t eq = kv.find('=');
        auto k = percent_decode(kv.substr(0, eq), true);
        if (!k) return Status::error("query: " + k.message());
        Result<std::string> v = std::string();
        if (eq != std::string_view::npos) v = percent_decode(kv.substr(eq + 1), true);
        if (!v) return Status::error("query parameter '" + (valid_utf8(*k) ? *k : "?") + "': " + v.message());
        if (!valid_utf8(*k) || k->find('\0') != std::string::npos)
            return Status::error("query: a parameter name is not valid UTF-8");
        if (!valid_utf8(*v) || v->find('\0') != std::string::npos)
            return Status::error("query parameter '" + *k + "': value is not valid UTF-8");
        t.query[*k] = *v;
        t.query_list.emplace_back(std::move(*k), std::move(*v));
    }
    return t;
}

std::string encode_path(std::string_view path) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    out.reserve(path.size());
    for (char ch : path) {
        const auto c = static_cast<unsigned char>(ch);
        const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                           std::string_view("-._~/!$&'()*+,;=:@").find(static_cast<char>(c)) != std::string_view::npos;
        if (plain) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

}  // namespace speeddata::http
