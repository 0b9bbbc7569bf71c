// decode/encode and the Avro JSON encoding, for every type.
#include <gtest/gtest.h>

#include <cmath>

#include "avro_test_util.hpp"

using namespace avro_test;
using nlohmann::json;

namespace {

// Encodes, decodes, re-encodes: the bytes must be identical and the whole input used.
void expect_binary_round_trip(const Schema& s, const Value& v) {
    std::string a;
    ASSERT_TRUE(encode(s, v, a).ok());
    const uint8_t* p = bytes_of(a);
    auto d = decode(s, p, p + a.size());
    ASSERT_TRUE(d.ok()) << d.message();
    EXPECT_EQ(p, bytes_of(a) + a.size());
    std::string b;
    ASSERT_TRUE(encode(s, *d, b).ok());
    EXPECT_EQ(a, b);
}

Value from(const Schema& s, const std::string& json_text) {
    auto v = from_json(s, json::parse(json_text));
    EXPECT_TRUE(v.ok()) << v.message() << "\n  json: " << json_text;
    return v.ok() ? std::move(*v) : Value{};
}

std::string json_error(const Schema& s, const std::string& json_text) {
    auto v = from_json(s, json::parse(json_text));
    EXPECT_FALSE(v.ok()) << "accepted: " << json_text;
    return v.ok() ? "" : v.message();
}

std::string text_of(const Schema& s, const Value& v) {
    std::string out;
    append_json(s, v, out);
    return out;
}

}  // namespace

TEST(AvroValue, BinaryEncodingOfEachType) {
    struct Case {
        const char* schema;
        const char* json;
        std::string bytes;
    };
    const Case cases[] = {
        {"\"null\"", "null", ""},
        {"\"boolean\"", "true", "\x01"},
        {"\"int\"", "-64", "\x7f"},
        {"\"int\"", "64", std::string("\x80\x01", 2)},
        {"\"long\"", "-9223372036854775808", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"},
        {"\"float\"", "1.5", std::string("\x00\x00\xc0\x3f", 4)},
        {"\"double\"", "-2", std::string("\x00\x00\x00\x00\x00\x00\x00\xc0", 8)},
        {"\"bytes\"", "\"a\\u00ff\"", "\x04" "a\xff"},
        {"\"string\"", "\"\\u00e9\"", "\x04\xc3\xa9"},
        {R"({"type":"enum","name":"E","symbols":["A","B"]})", "\"B\"", "\x02"},
        {R"({"type":"fixed","name":"F","size":2})", "\"\\u0000\\u0080\"", std::string("\x00\x80", 2)},
        {R"({"type":"array","items":"int"})", "[1,2]", std::string("\x04\x02\x04\x00", 4)},
        {R"({"type":"array","items":"int"})", "[]", std::string("\x00", 1)},
        {R"({"type":"map","values":"int"})", "{\"k\":3}", std::string("\x02\x02k\x06\x00", 5)},
        {R"(["null","string"])", "null", std::string("\x00", 1)},
        {R"(["null","string"])", "{\"string\":\"x\"}", "\x02\x02x"},
        {R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]})",
         "{\"a\":1,\"b\":\"z\"}", "\x02\x02z"},
    };
    for (const auto& c : cases) {
        Schema s = parse(c.schema);
        Value v = from(s, c.json);
        std::string enc;
        ASSERT_TRUE(encode(s, v, enc).ok()) << c.schema;
        EXPECT_EQ(enc, c.bytes) << c.schema << " " << c.json;
        expect_binary_round_trip(s, v);
        // And back to the same JSON.
        EXPECT_EQ(to_json(s, v), json::parse(c.json)) << c.schema;
        EXPECT_EQ(json::parse(text_of(s, v)), json::parse(c.json)) << c.schema;
    }
}

TEST(AvroValue, RandomRoundTripsOfRichSchema) {
    Schema s = load("tests/data/avro/rich.avsc");
    RandomValues gen(s, 99);
    for (int i = 0; i < 500; ++i) {
        Value v = gen.make();
        expect_binary_round_trip(s, v);
        // JSON both ways (tree and text) gives back the same value. (Compared as JSON:
        // nlohmann::json sorts object keys, so map entries may come back in another order.)
        const json tree = to_json(s, v);
        auto via_tree = from_json(s, tree);
        ASSERT_TRUE(via_tree.ok()) << via_tree.message();
        EXPECT_EQ(to_json(s, *via_tree), tree);
        auto via_text = from_json(s, json::parse(text_of(s, v)));
        ASSERT_TRUE(via_text.ok()) << via_text.message() << "\n" << text_of(s, v);
        EXPECT_EQ(to_json(s, *via_text), tree);
        EXPECT_EQ(json::parse(text_of(s, v)), tree);
    }
}

TEST(AvroValue, RecordFieldsInSchemaOrder) {
    Schema s = parse(R"({"type":"record","name":"R","fields":[{"name":"z","type":"int"},{"name":"a","type":"int"}]})");
    EXPECT_EQ(text_of(s, from(s, R"({"a":2,"z":1})")), R"({"z":1,"a":2})");
}

TEST(AvroValue, UnionsUseFullNamesInJson) {
    Schema s = parse(R"({"type":"record","name":"R","namespace":"n","fields":[
        {"name":"u","type":["null",{"type":"enum","name":"E","symbols":["A"]},{"type":"map","values":"int"},
                             {"type":"long","logicalType":"timestamp-nanos"}]}]})");
    EXPECT_EQ(text_of(s, from(s, R"({"u":{"n.E":"A"}})")), R"({"u":{"n.E":"A"}})");
    EXPECT_EQ(text_of(s, from(s, R"({"u":{"map":{"k":1}}})")), R"({"u":{"map":{"k":1}}})");
    EXPECT_EQ(text_of(s, from(s, R"({"u":{"long":5}})")), R"({"u":{"long":5}})");
    EXPECT_EQ(text_of(s, from(s, R"({"u":null})")), R"({"u":null})");
    EXPECT_NE(json_error(s, R"({"u":{"E":"A"}})").find("'E' is not a branch of union [null, n.E, map, long]"), std::string::npos);
    EXPECT_NE(json_error(s, R"({"u":5})").find("expected null or {\"<branch type>\": value}"), std::string::npos);
}

TEST(AvroValue, DefaultsFillMissingFields) {
    Schema s = parse(R"({"type":"record","name":"R","fields":[
        {"name":"a","type":"int"},
        {"name":"b","type":["string","null"],"default":"dflt"},
        {"name":"c","type":{"type":"array","items":"long"},"default":[7]},
        {"name":"d","type":{"type":"enum","name":"E","symbols":["X","Y"]},"default":"Y"}]})");
    EXPECT_EQ(text_of(s, from(s, R"({"a":1})")), R"({"a":1,"b":{"string":"dflt"},"c":[7],"d":"Y"})");
    EXPECT_NE(json_error(s, R"({"b":null})").find("missing field 'a' of record 'R'"), std::string::npos);
    EXPECT_NE(json_error(s, R"({"a":1,"extra":2})").find("record 'R' has no field 'extra'"), std::string::npos);
}

TEST(AvroValue, FloatsIncludingNonFinite) {
    Schema s = parse(R"({"type":"record","name":"R","fields":[{"name":"f","type":"float"},{"name":"d","type":"double"}]})");
    EXPECT_EQ(text_of(s, from(s, R"({"f":0.1,"d":0.1})")), R"({"f":0.1,"d":0.1})");
    EXPECT_EQ(text_of(s, from(s, R"({"f":1,"d":2})")), R"({"f":1.0,"d":2.0})");
    EXPECT_EQ(text_of(s, from(s, R"({"f":"NaN","d":"-Infinity"})")), R"({"f":"NaN","d":"-Infinity"})");
    Value v = from(s, R"({"f":"Infinity","d":"NaN"})");
    const auto& r = std::get<Value::record_index>(v.v);
    EXPECT_TRUE(std::isinf(std::get<Value::float_index>(r[0].v)));
    EXPECT_TRUE(std::isnan(std::get<Value::double_index>(r[1].v)));
    EXPECT_EQ(to_json(s, v)["d"], "NaN");
}

TEST(AvroValue, JsonErrorsNameThePath) {
    Schema s = parse(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"}]})");
    EXPECT_EQ(json_error(s, R"({"a": "x"})"), "$.a: expected an integer for int, got string");
    Schema t = parse(R"({"type":"record","name":"R","fields":[{"name":"pts","type":{"type":"array","items":
        {"type":"record","name":"P","fields":[{"name":"x","type":"int"}]}}}]})");
    EXPECT_EQ(json_error(t, R"({"pts":[{"x":1},{"x":2.5}]})"), "$.pts[1].x: expected an integer for int, got number");
    Schema i = parse("\"int\"");
    EXPECT_NE(json_error(i, "2147483648").find("out of range"), std::string::npos);
    Schema f = parse(R"({"type":"fixed","name":"F","size":2})");
    EXPECT_NE(json_error(f, "\"abc\"").find("needs 2 bytes, got 3"), std::string::npos);
    Schema by = parse("\"bytes\"");
    EXPECT_NE(json_error(by, "\"\\u0100\"").find("U+0000..U+00FF"), std::string::npos);
    Schema e = parse(R"({"type":"enum","name":"E","symbols":["A"]})");
    EXPECT_NE(json_error(e, "\"B\"").find("'B' is not a symbol of enum 'E'"), std::string::npos);
}

TEST(AvroValue, EncodeRejectsMismatchedValues) {
    Schema s = parse(R"({"type":"record","name":"R","fields":[{"name":"a","type":{"type":"array","items":"long"}}]})");
    Value bad = Value::make_record({Value::make_array({Value{}})});
    std::string out = "keep";
    speeddata::Status st = encode(s, bad, out);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.message(), "encode: $.a[0]: expected long, got null");
    EXPECT_EQ(out, "keep");  // nothing appended on failure
    Schema str = parse("\"string\"");
    Value v;
    v.v.emplace<Value::string_index>("\xff");
    EXPECT_FALSE(encode(str, v, out).ok());
}

TEST(AvroValue, DecodeReportsErrorKindAndOffset) {
    Schema s = parse(R"({"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"boolean"}]})");
    const std::string data("\x02\x05", 2);
    const uint8_t* p = bytes_of(data);
    auto r = decode(s, p, p + data.size());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.message(), "decode: bad boolean at offset 1");
    EXPECT_EQ(p, bytes_of(data));  // not advanced on failure
    const std::string cut("\x02", 1);
    p = bytes_of(cut);
    EXPECT_EQ(decode(s, p, p + 1).message(), "decode: truncated at offset 1");
}

TEST(AvroValue, DecodeRecursiveListAndDepthLimit) {
    Schema s = parse(R"({"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]})");
    Value v = from(s, R"({"v":1,"next":{"L":{"v":2,"next":{"L":{"v":3,"next":null}}}}})");
    expect_binary_round_trip(s, v);
    std::string deep;
    for (int i = 0; i < 5000; ++i) deep += "\x02\x02";
    deep += std::string("\x02\x00", 2);
    const uint8_t* p = bytes_of(deep);
    auto r = decode(s, p, p + deep.size());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.message().find("too deep"), std::string::npos);
}

TEST(AvroValue, Utf8Check) {
    EXPECT_TRUE(is_valid_utf8(bytes_of(std::string("plain ascii, long enough for the fast path")), 42));
    const std::string good = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf";
    EXPECT_TRUE(is_valid_utf8(bytes_of(good), good.size()));
    for (std::string bad : {"\x80", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80",
                            "abcdefgh\xff"}) {
        EXPECT_FALSE(is_valid_utf8(bytes_of(bad), bad.size())) << bad;
    }
}

// The fast paths (64 bytes, then 8 at a time) hand over to the byte-wise check at any offset:
// one sequence, good or bad, at every position of ASCII text longer than two 64-byte blocks,
// and at the very end, where a sequence is cut.
TEST(AvroValue, Utf8CheckAtEveryOffsetOfTheFastPaths) {
    const std::string good[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    const std::string bad[] = {"\x80", "\xff", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"};
    for (size_t at = 0; at <= 200; ++at) {
        for (const std::string& g : good) {
            const std::string text = std::string(at, 'a') + g + std::string(200 - at, 'b');
            EXPECT_TRUE(is_valid_utf8(bytes_of(text), text.size())) << at;
            // Cut inside the sequence: invalid.
            const std::string cut = std::string(at, 'a') + g.substr(0, g.size() - 1);
            EXPECT_FALSE(is_valid_utf8(bytes_of(cut), cut.size())) << at;
        }
        for (const std::string& b : bad) {
            const std::string text = std::string(at, 'a') + b + std::string(200 - at, 'b');
            EXPECT_FALSE(is_valid_utf8(bytes_of(text), text.size())) << at;
        }
    }
    // Mostly non-ASCII text (every 64-byte block fails the fast path).
    std::string many;
    for (int i = 0; i < 100; ++i) many += "\xe2\x82\xac x";
    EXPECT_TRUE(is_valid_utf8(bytes_of(many), many.size()));
    many[many.size() - 3] = '\xff';
    EXPECT_FALSE(is_valid_utf8(bytes_of(many), many.size()));
}

TEST(AvroValue, JsonTextIsOneLinePerRecord) {
    // Everything a line-oriented reader could take for a line break is escaped.
    Schema s = parse(R"({"type":"record","name":"R","fields":[{"name":"s","type":"string"},{"name":"b","type":"bytes"}]})");
    Value v = from(s, R"({"s":"a\n\r\u000b\u000c\u001c\u0085\u2028\u2029\u00e9\u20ac","b":"\u0085\u00ff"})");
    const std::string text = text_of(s, v);
    EXPECT_EQ(text, R"({"s":"a\n\r\u000b\f\u001c\u0085\u2028\u2029)" "\xc3\xa9\xe2\x82\xac" R"(","b":"\u0085)" "\xc3\xbf" R"("})");
    EXPECT_EQ(json::parse(text), to_json(s, v));
}
