// The request target parser: one normalised path for authorisation, routing and files.
#include <gtest/gtest.h>

#include "http/target.hpp"

using namespace speeddata::http;

namespace {
std::string path_of(const char* raw) {
    auto t = parse_target(raw);
    return t ? t->path : "ERROR: " + t.message();
}
}  // namespace

TEST(Target, NormalisesEverySpellingToOnePath) {
    EXPECT_EQ(path_of("/api/v1/x"), "/api/v1/x");
    EXPECT_EQ(path_of("//api/v1/x"), "/api/v1/x");
    EXPECT_EQ(path_of("/%2fapi/v1/x"), "/api/v1/x");
    EXPECT_EQ(path_of("/api//v1///x/"), "/api/v1/x");
    EXPECT_EQ(path_of("/api/./v1/x"), "/api/v1/x");
    EXPECT_EQ(path_of("/api/v2/../v1/x"), "/api/v1/x");
    EXPECT_EQ(path_of("/api/v1/%2e/x"), "/api/v1/x");
    EXPECT_EQ(path_of("/a%2e%2e/x"), "/a../x");  // ".." only as a whole segment
    EXPECT_EQ(path_of("/"), "/");
    EXPECT_EQ(path_of("//"), "/");
    EXPECT_EQ(path_of("/x/.."), "/");
    EXPECT_EQ(path_of("/caf%C3%A9"), "/caf\xC3\xA9");
}

TEST(Target, DecodesOnceOnly) {
    // "%252e%252e" is "%2e%2e" after one decode: a literal name, not "..".
    EXPECT_EQ(path_of("/%252e%252e/etc"), "/%2e%2e/etc");
}

TEST(Target, RefusesWhatCannotBeAPath) {
    for (const char* bad : {"", "api/v1", "http://host/x", "*", "/../etc/passwd", "/%2e%2e/etc", "/a/../../b",
                            "/%00", "/a%5cb", "/a\\b", "/%ff", "/%C0%AF", "/%ED%A0%80", "/%zz", "/%4", "/x#frag"}) {
        EXPECT_FALSE(parse_target(bad).ok()) << bad;
    }
}

TEST(Target, QueryDecodedWithPlusAsSpaceLastWins) {
    auto t = parse_target("/p?a=1&b=x+y&c=%2F&a=2&flag&=v&&");
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->query.at("a"), "2");
    EXPECT_EQ(t->query.at("b"), "x y");
    EXPECT_EQ(t->query.at("c"), "/");
    EXPECT_EQ(t->query.at("flag"), "");
    EXPECT_EQ(t->query_list.size(), 6u);
    EXPECT_EQ(t->path, "/p");
    EXPECT_FALSE(parse_target("/p?a=%ff").ok());
    EXPECT_FALSE(parse_target("/p?a=%").ok());
    EXPECT_FALSE(parse_target("/p?a=%00").ok());
    // '?' in the query is data.
    EXPECT_EQ(parse_target("/p?q=a?b")->query.at("q"), "a?b");
}

TEST(Target, Utf8Validation) {
    EXPECT_TRUE(valid_utf8(""));
    EXPECT_TRUE(valid_utf8("plain"));
    EXPECT_TRUE(valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
    EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong '/'
    EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // surrogate
    EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
    EXPECT_FALSE(valid_utf8("\xE2\x82"));          // truncated
    EXPECT_FALSE(valid_utf8("\x80"));
}

TEST(Target, EncodePathRoundTrips) {
    for (const char* p : {"/a b/c", "/caf\xC3\xA9", "/x%y", "/q?r", "/h#i"}) {
        auto t = parse_target(encode_path(p));
        ASSERT_TRUE(t.ok()) << p;
        EXPECT_EQ(t->path, p);
    }
}
