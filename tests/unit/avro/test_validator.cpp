// Validator: every type, every DecodeError, negative block counts, top-level field spans,
// and random truncation/mutation that must never crash and must agree with decode().
#include <gtest/gtest.h>

#include <cstring>

#include "avro_test_util.hpp"

using namespace avro_test;

namespace {

// Bytes from a list of values 0..255.
std::string b(std::initializer_list<int> xs) {
    std::string s;
    for (int x : xs) s.push_back(static_cast<char>(x));
    return s;
}

ValidateResult check(const Validator& v, const std::string& data, FieldSpan* spans = nullptr) {
    // Copy into an exactly sized heap buffer so that ASan catches any read past the end.
    std::unique_ptr<uint8_t[]> buf(new uint8_t[data.size() + 1]);
    std::memcpy(buf.get(), data.data(), data.size());
    return v.validate(buf.get(), data.size(), spans);
}

void expect_ok(const Validator& v, const std::string& data, size_t consumed) {
    auto r = check(v, data);
    EXPECT_TRUE(r.ok()) << decode_error_name(r.error) << " at " << r.error_offset;
    EXPECT_EQ(r.consumed, consumed);
}

void expect_error(const Validator& v, const std::string& data, DecodeError e, size_t offset) {
    auto r = check(v, data);
    EXPECT_EQ(r.error, e) << "got " << decode_error_name(r.error);
    EXPECT_EQ(r.error_offset, offset);
}

}  // namespace

TEST(AvroValidator, Primitives) {
    Validator null_v(parse("\"null\""));
    expect_ok(null_v, "", 0);
    expect_ok(null_v, "xyz", 0);

    Validator bool_v(parse("\"boolean\""));
    expect_ok(bool_v, b({0}), 1);
    expect_ok(bool_v, b({1}), 1);
    expect_error(bool_v, b({2}), DecodeError::bad_boolean, 0);
    expect_error(bool_v, "", DecodeError::truncated, 0);

    Validator int_v(parse("\"int\""));
    expect_ok(int_v, b({0}), 1);
    expect_ok(int_v, b({0xfe, 0xff, 0xff, 0xff, 0x0f}), 5);  // INT32_MAX
    expect_ok(int_v, b({0xff, 0xff, 0xff, 0xff, 0x0f}), 5);  // INT32_MIN
    expect_error(int_v, b({0xff, 0xff, 0xff, 0xff, 0x1f}), DecodeError::bad_varint, 0);  // 33 bits
    expect_error(int_v, b({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), DecodeError::bad_varint, 0);
    expect_error(int_v, b({0x80, 0x80}), DecodeError::truncated, 0);
    expect_error(int_v, "", DecodeError::truncated, 0);

    Validator long_v(parse("\"long\""));
    expect_ok(long_v, b({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), 10);  // INT64_MAX
    expect_error(long_v, b({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), DecodeError::bad_varint, 0);
    expect_error(long_v, b({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), DecodeError::bad_varint, 0);
    expect_error(long_v, b({0xff}), DecodeError::truncated, 0);

    Validator float_v(parse("\"float\""));
    expect_ok(float_v, b({0, 0, 0x80, 0x3f, 9}), 4);
    expect_error(float_v, b({0, 0, 0x80}), DecodeError::truncated, 0);
    Validator double_v(parse("\"double\""));
    expect_ok(double_v, std::string(8, '\0'), 8);
    expect_error(double_v, std::string(7, '\0'), DecodeError::truncated, 0);

    Validator bytes_v(parse("\"bytes\""));
    expect_ok(bytes_v, b({0}), 1);
    expect_ok(bytes_v, b({6, 0xff, 0, 0xc3}), 4);  // any bytes
    expect_error(bytes_v, b({1}), DecodeError::negative_length, 0);
    expect_error(bytes_v, b({8, 1, 2, 3}), DecodeError::truncated, 0);

    Validator string_v(parse("\"string\""));
    expect_ok(string_v, b({4, 0xc3, 0xa9}), 3);
    expect_ok(string_v, b({8, 0xf0, 0x9f, 0x98, 0x80}), 5);
    expect_error(string_v, b({2, 0xff}), DecodeError::bad_utf8, 0);
    expect_error(string_v, b({4, 0xc0, 0x80}), DecodeError::bad_utf8, 0);        // overlong NUL
    expect_error(string_v, b({6, 0xed, 0xa0, 0x80}), DecodeError::bad_utf8, 0);  // surrogate
    expect_error(string_v, b({4, 0xc3}), DecodeError::truncated, 0);
    expect_error(string_v, b({3}), DecodeError::negative_length, 0);
    // UTF-8 checking can be turned off.
    ValidatorOptions lax;
    lax.check_utf8 = false;
    Validator string_lax(parse("\"string\""), lax);
    EXPECT_TRUE(check(string_lax, b({2, 0xff})).ok());
}

// The ASCII fast paths (32 and 8 bytes at a time) must stop exactly at the string's end and
// still find a bad byte at any position, whatever the length.
TEST(AvroValidator, Utf8FastPathsAtEveryLengthAndPosition) {
    Validator v(parse(R"({"type":"record","name":"r","fields":[{"name":"s","type":"string"},{"name":"n","type":"int"}]})"));
    for (size_t len = 0; len <= 100; ++len) {
        std::vector<uint8_t> d;
        uint64_t z = len * 2;
        do {
            d.push_back(static_cast<uint8_t>((z & 0x7f) | (z > 0x7f ? 0x80 : 0)));
            z >>= 7;
        } while (z);
        const size_t text = d.size();
        d.insert(d.end(), len, 'a');
        d.push_back(0x80 | 0x02);  // the int after the string: a varint whose first byte is >= 0x80
        d.push_back(0x01);
        auto ok = v.validate(d.data(), d.size());
        EXPECT_TRUE(ok.ok()) << len;
        EXPECT_EQ(ok.consumed, d.size()) << len;
        for (size_t bad = 0; bad < len; ++bad) {
            auto e = d;
            e[text + bad] = 0xff;
            EXPECT_EQ(v.validate(e.data(), e.size()).error, DecodeError::bad_utf8) << len << " at " << bad;
        }
    }
}

TEST(AvroValidator, EnumFixedUnion) {
    Validator e(parse(R"({"type":"enum","name":"E","symbols":["A","B","C"]})"));
    expect_ok(e, b({4}), 1);
    expect_error(e, b({6}), DecodeError::bad_enum_index, 0);
    expect_error(e, b({1}), DecodeError::bad_enum_index, 0);  // -1

    Validator f(parse(R"({"type":"fixed","name":"F","size":3})"));
    expect_ok(f, b({1, 2, 3, 4}), 3);
    expect_error(f, b({1, 2}), DecodeError::truncated, 0);

    Validator u(parse(R"(["null","int","string"])"));
    expect_ok(u, b({0}), 1);
    expect_ok(u, b({2, 0x7e}), 2);
    expect_ok(u, b({4, 2, 'x'}), 3);
    expect_error(u, b({6}), DecodeError::bad_union_index, 0);
    expect_error(u, b({1}), DecodeError::bad_union_index, 0);
    expect_error(u, b({4, 2}), DecodeError::truncated, 1);

    Validator empty_union(parse("[]"));
    expect_error(empty_union, b({0}), DecodeError::bad_union_index, 0);
}

TEST(AvroValidator, ArraysAndMapsWithBlocks) {
    Validator a(parse(R"({"type":"array","items":"int"})"));
    expect_ok(a, b({0}), 1);
    expect_ok(a, b({4, 2, 4, 0}), 4);                 // [1, 2]
    expect_ok(a, b({2, 2, 2, 4, 0}), 5);              // two blocks of one
    expect_ok(a, b({3, 4, 2, 4, 0}), 5);              // count -2, byte size 2
    expect_error(a, b({3, 6, 2, 4, 0}), DecodeError::too_large, 0);   // size 3 but items take 2
    expect_error(a, b({3, 40, 2, 4, 0}), DecodeError::too_large, 1);  // size 20 > what is left
    expect_error(a, b({3, 3, 2, 4, 0}), DecodeError::negative_length, 1);
    expect_error(a, b({0xc8, 0x01, 2}), DecodeError::too_large, 0);  // 100 items in 1 byte
    expect_error(a, b({4, 2}), DecodeError::too_large, 0);            // 2 ints cannot fit in 1 byte
    expect_error(a, b({4, 2, 0x80}), DecodeError::truncated, 2);
    expect_error(a, b({4, 2, 4}), DecodeError::truncated, 3);         // no terminating 0
    // INT64_MIN as a count cannot be negated.
    expect_error(a, b({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), DecodeError::too_large, 0);

    Validator doubles(parse(R"({"type":"array","items":"double"})"));
    expect_ok(doubles, b({2}) + std::string(8, '\0') + b({0}), 10);
    expect_error(doubles, b({4}) + std::string(8, '\0') + b({0}), DecodeError::too_large, 0);
    expect_ok(doubles, b({1, 16}) + std::string(8, '\0') + b({0}), 11);  // count -1, size 8

    // Zero-size items: a count may still not exceed the bytes left (a reader would spin).
    Validator nulls(parse(R"({"type":"array","items":"null"})"));
    expect_ok(nulls, b({6, 0, 0, 0}), 2);
    expect_error(nulls, b({0xd0, 0x0f, 0}), DecodeError::too_large, 0);  // 1000 nulls

    Validator m(parse(R"({"type":"map","values":"long"})"));
    expect_ok(m, b({0}), 1);
    expect_ok(m, b({2, 2, 'k', 6, 0}), 5);
    expect_ok(m, b({1, 6, 2, 'k', 6, 0}), 6);      // count -1, size 3
    expect_error(m, b({1, 4, 2, 'k', 6, 0}), DecodeError::too_large, 0);
    expect_error(m, b({2, 2, 0xff, 6, 0}), DecodeError::bad_utf8, 1);
    expect_error(m, b({2, 1, 6, 0}), DecodeError::negative_length, 1);
    expect_error(m, b({2, 2, 'k'}), DecodeError::truncated, 3);
}

TEST(AvroValidator, RecordsAndNesting) {
    Schema s = parse(R"({"type":"record","name":"R","fields":[
        {"name":"a","type":"int"},
        {"name":"n","type":"null"},
        {"name":"inner","type":{"type":"record","name":"I","fields":[{"name":"x","type":"float"},{"name":"y","type":"double"}]}},
        {"name":"again","type":"I"},
        {"name":"tags","type":{"type":"map","values":{"type":"array","items":["null","I"]}}},
        {"name":"s","type":"string"}]})");
    Validator v(s);
    EXPECT_EQ(v.field_count(), 6u);
    std::string d = b({2}) + std::string(12, '\0') + std::string(12, '\0') + b({2, 2, 'k', 4, 0, 2}) +
                    std::string(12, '\0') + b({0, 0, 4, 'h', 'i'});
    expect_ok(v, d, d.size());
    expect_error(v, b({2}) + std::string(12, '\0') + std::string(11, '\0'), DecodeError::truncated, 13);
}

TEST(AvroValidator, RecursionDepthLimit) {
    Schema s = parse(R"({"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]})");
    auto list = [](int n) {
        std::string d;
        for (int i = 0; i < n; ++i) d += b({2, 2});  // v = 1, branch 1
        d += b({2, 0});                              // last: v = 1, null
        return d;
    };
    Validator v(s);  // default max_depth 128; two levels per element (union + record)
    expect_ok(v, list(10), 22);
    auto deep = check(v, list(1000));
    EXPECT_EQ(deep.error, DecodeError::too_deep);
    ValidatorOptions opts;
    opts.max_depth = 5000;
    Validator v2(s, opts);
    expect_ok(v2, list(1000), 2002);
}

// The validator counts nesting as decode() does (one level per record field, union branch,
// array item, map value), so that the relay never caches a datum a reader rejects as too
// deep. Found by the datum fuzz target: a 64-node list passed the validator, not decode().
TEST(AvroValidator, DepthLimitAgreesWithDecode) {
    Schema list_schema = parse(
        R"({"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]})");
    auto list = [](int n) {
        std::string d;
        for (int i = 0; i < n; ++i) d += b({2, 2});
        return d + b({2, 0});
    };
    // Records nested `levels` deep without recursion (inlined by the compiler), holding
    // an array of fixed-width records (skipped without a loop) at the bottom.
    auto nested = [](int levels) {
        std::string t = R"({"type":"array","items":{"type":"record","name":"P","fields":[{"name":"x","type":"double"}]}})";
        for (int i = 0; i < levels; ++i)
            t = R"({"type":"record","name":"N)" + std::to_string(i) + R"(","fields":[{"name":"f","type":)" + t + "}]}";
        return t;
    };
    int accepted = 0, rejected = 0;
    const auto agree = [&](const Schema& s, const std::string& d) {
        Validator v(s);
        FieldSpan spans[4];
        auto r = check(v, d, spans);
        auto plain = check(v, d);
        const uint8_t* p = bytes_of(d);
        auto dec = decode(s, p, p + d.size());
        EXPECT_EQ(r.ok(), dec.ok()) << decode_error_name(r.error) << " / " << dec.message();
        EXPECT_EQ(plain.ok(), dec.ok());
        (r.ok() ? accepted : rejected)++;
        if (!r.ok()) {
            EXPECT_EQ(r.error, DecodeError::too_deep);
        }
    };
    for (int n = 55; n <= 70; ++n) agree(list_schema, list(n));
    for (int levels = 120; levels <= 130; ++levels) {
        Schema s = parse(nested(levels));
        agree(s, b({0}));                                     // an empty array: no item visited
        agree(s, b({2}) + std::string(8, '\0') + b({0}));   // one item, two levels deeper
    }
    EXPECT_GT(accepted, 5);
    EXPECT_GT(rejected, 5);
}

TEST(AvroValidator, FieldSpans) {
    Schema s = load("config/agents/example.avsc");
    Validator v(s);
    ASSERT_EQ(v.field_count(), 7u);
    Value rec = Value::make_record({});
    auto& r = std::get<Value::record_index>(rec.v);
    Value t; t.v.emplace<Value::long_index>(1700000000123456789LL); r.push_back(t);
    Value w; w.v.emplace<Value::string_index>("hello"); r.push_back(w);
    Value c; c.v.emplace<Value::int_index>(-3); r.push_back(c);
    for (double x : {0.5, 0.25, -1.0, 0.125}) {
        Value d; d.v.emplace<Value::double_index>(x); r.push_back(d);
    }
    std::string enc;
    ASSERT_TRUE(encode(s, rec, enc).ok());
    // time: 9-byte varint; message: 1 + 5; counter: 1; doubles: 8 each.
    const FieldSpan want[7] = {{0, 9}, {9, 6}, {15, 1}, {16, 8}, {24, 8}, {32, 8}, {40, 8}};
    FieldSpan spans[7];
    auto res = check(v, enc + "trailing", spans);
    ASSERT_TRUE(res.ok());
    EXPECT_EQ(res.consumed, 48u);
    for (int i = 0; i < 7; ++i) {
        EXPECT_EQ(spans[i].offset, want[i].offset) << i;
        EXPECT_EQ(spans[i].length, want[i].length) << i;
    }
    // Without spans nothing is written anywhere.
    EXPECT_TRUE(check(v, enc).ok());

    // A recursive root: spans are those of the top level only.
    Schema l = parse(R"({"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]})");
    Validator lv(l);
    FieldSpan ls[2];
    auto lr = check(lv, b({2, 2, 4, 2, 6, 0}), ls);
    ASSERT_TRUE(lr.ok());
    EXPECT_EQ(lr.consumed, 6u);
    EXPECT_EQ(ls[0].offset, 0u);
    EXPECT_EQ(ls[0].length, 1u);
    EXPECT_EQ(ls[1].offset, 1u);
    EXPECT_EQ(ls[1].length, 5u);

    Validator not_record(parse("\"long\""));
    EXPECT_EQ(not_record.field_count(), 0u);
    FieldSpan untouched{7, 7};
    EXPECT_TRUE(check(not_record, b({2}), &untouched).ok());
    EXPECT_EQ(untouched.offset, 7u);
}

TEST(AvroValidator, BatchedDatumsBackToBack) {
    Schema s = load("tests/data/avro/rich.avsc");
    Validator v(s);
    RandomValues gen(s, 7);
    std::string batch;
    std::vector<size_t> sizes;
    for (int i = 0; i < 20; ++i) {
        const size_t before = batch.size();
        ASSERT_TRUE(encode(s, gen.make(), batch).ok());
        sizes.push_back(batch.size() - before);
    }
    const uint8_t* p = bytes_of(batch);
    size_t left = batch.size();
    for (size_t n : sizes) {
        auto r = v.validate(p, left);
        ASSERT_TRUE(r.ok()) << decode_error_name(r.error);
        EXPECT_EQ(r.consumed, n);
        p += r.consumed;
        left -= r.consumed;
    }
    EXPECT_EQ(left, 0u);
}

TEST(AvroValidator, ValidatorIsMovable) {
    Schema s = load("config/agents/example.avsc");
    Validator a(s);
    Validator b2(std::move(a));
    Validator c(parse("\"int\""));
    c = std::move(b2);
    EXPECT_EQ(c.field_count(), 7u);
}

TEST(AvroValidator, AgreesWithDecodeOnTruncationAndMutation) {
    // Random datums of the rich schema (every type, recursion, unions) and of a recursive
    // tree; every strict prefix must fail, and for random byte mutations the validator and
    // the decoder must agree on validity and length. Run under -fsanitize=address as well.
    for (const char* text : {"", R"({"type":"record","name":"T","fields":[{"name":"kids","type":{"type":"array","items":"T"}},
                                    {"name":"m","type":{"type":"map","values":["null","T","string"]}}]})"}) {
        Schema s = *text ? parse(text) : load("tests/data/avro/rich.avsc");
        Validator v(s);
        RandomValues gen(s, 12345);
        int mutations_ok = 0, mutations_bad = 0;
        for (int iter = 0; iter < 300; ++iter) {
            std::string enc;
            ASSERT_TRUE(encode(s, gen.make(), enc).ok());
            FieldSpan spans[64];
            auto full = check(v, enc, spans);
            ASSERT_TRUE(full.ok()) << decode_error_name(full.error) << " at " << full.error_offset;
            ASSERT_EQ(full.consumed, enc.size());
            for (size_t cut = 0; cut < enc.size(); ++cut) {
                auto r = check(v, enc.substr(0, cut));
                ASSERT_FALSE(r.ok()) << "prefix of " << cut << " of " << enc.size() << " bytes validated";
                ASSERT_LE(r.error_offset, cut);
            }
            for (int m = 0; m < 20; ++m) {
                std::string bad = enc;
                const int flips = 1 + static_cast<int>(gen.pick(3));
                for (int k = 0; k < flips; ++k) bad[gen.pick(bad.size())] = static_cast<char>(gen.rng()());
                auto r = check(v, bad, spans);
                const uint8_t* p = bytes_of(bad);
                auto d = decode(s, p, p + bad.size());
                ASSERT_EQ(r.ok(), d.ok()) << "validator: " << decode_error_name(r.error) << ", decode: " << d.message();
                if (r.ok()) {
                    ++mutations_ok;
                    ASSERT_LE(r.consumed, bad.size());
                    ASSERT_EQ(static_cast<size_t>(p - bytes_of(bad)), r.consumed);
                } else {
                    ++mutations_bad;
                    ASSERT_LE(r.error_offset, bad.size());
                }
            }
        }
        EXPECT_GT(mutations_bad, 0);
        EXPECT_GT(mutations_ok, 0);
    }
}

TEST(AvroValidator, ErrorNames) {
    EXPECT_EQ(decode_error_name(DecodeError::none), "none");
    EXPECT_EQ(decode_error_name(DecodeError::truncated), "truncated");
    EXPECT_EQ(decode_error_name(DecodeError::bad_varint), "bad varint");
    EXPECT_EQ(decode_error_name(DecodeError::negative_length), "negative length");
    EXPECT_EQ(decode_error_name(DecodeError::bad_union_index), "bad union index");
    EXPECT_EQ(decode_error_name(DecodeError::bad_enum_index), "bad enum index");
    EXPECT_EQ(decode_error_name(DecodeError::bad_boolean), "bad boolean");
    EXPECT_EQ(decode_error_name(DecodeError::too_deep), "too deep");
    EXPECT_EQ(decode_error_name(DecodeError::too_large), "too large");
    EXPECT_EQ(decode_error_name(DecodeError::bad_utf8), "bad utf8");
}

TEST(AvroVarint, ReadWriteHelpers) {
    const int64_t values[] = {0, 1, -1, 63, -64, 64, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 1234567890123LL};
    for (int64_t x : values) {
        uint8_t buf[10];
        size_t n = write_long(x, buf);
        ASSERT_GE(n, 1u);
        ASSERT_LE(n, 10u);
        int64_t y = 0;
        EXPECT_EQ(read_long(buf, buf + n, y), n);
        EXPECT_EQ(y, x);
        EXPECT_EQ(read_long(buf, buf + n - 1, y), 0u);  // truncated
        std::string s;
        append_long(s, x);
        EXPECT_EQ(s, std::string(reinterpret_cast<char*>(buf), n));
    }
    const uint8_t eleven[11] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    int64_t y;
    EXPECT_EQ(read_long(eleven, eleven + 11, y), 0u);
    uint8_t one[1] = {0x03};
    EXPECT_EQ(read_long(one, one + 1, y), 1u);
    EXPECT_EQ(y, -2);

    std::string f;
    append_float(f, 1.5f);
    EXPECT_EQ(f, b({0, 0, 0xc0, 0x3f}));
    EXPECT_EQ(read_float(bytes_of(f)), 1.5f);
    std::string d;
    append_double(d, -2.0);
    EXPECT_EQ(d, b({0, 0, 0, 0, 0, 0, 0, 0xc0}));
    EXPECT_EQ(read_double(bytes_of(d)), -2.0);
}
