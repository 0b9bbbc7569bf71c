// Parsing Canonical Form and CRC-64-AVRO against published test vectors:
//  - tests/data/avro/schema-tests.txt: apache/avro share/test/data/schema-tests.txt, the vectors
//    the Java and C suites run (fingerprints are the Java implementation's, signed decimal);
//  - a few cases from apache/avro lang/py/avro/test/test_schema.py (CanonicalFormTestCase).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/avro/schema.hpp"

using namespace speeddata::avro;

namespace {

struct Vector {
    std::string name;
    std::string input;
    std::string canonical;
    std::optional<int64_t> fingerprint;
};

// Reads the <<INPUT / <<canonical / <<fingerprint format (an INPUT may span lines up to a
// line "INPUT").
std::vector<Vector> read_vectors(const std::string& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    std::vector<Vector> out;
    std::string line, last_comment;
    while (std::getline(in, line)) {
        if (line.rfind("// ", 0) == 0 && line.size() <= 7) last_comment = line.substr(3);
        if (line.rfind("<<INPUT", 0) == 0) {
            Vector v;
            v.name = last_comment;
            if (line.size() > 8) {
                v.input = line.substr(8);
            } else {
                std::string l;
                while (std::getline(in, l) && l != "INPUT") v.input += l + "\n";
            }
            out.push_back(std::move(v));
        } else if (line.rfind("<<canonical ", 0) == 0 && !out.empty()) {
            out.back().canonical = line.substr(12);
        } else if (line.rfind("<<fingerprint ", 0) == 0 && !out.empty()) {
            out.back().fingerprint = std::stoll(line.substr(14));
        }
    }
    return out;
}

}  // namespace

TEST(AvroCanonical, Crc64OfEmptyInputIsTheSeed) {
    // The spec's EMPTY constant: the fingerprint of zero bytes.
    EXPECT_EQ(crc64_avro(""), 0xc15d213aa4d7a795ULL);
}

TEST(AvroCanonical, ApacheSchemaTestVectors) {
    auto vectors = read_vectors(std::string(SPEEDDATA_SOURCE_DIR) + "/tests/data/avro/schema-tests.txt");
    ASSERT_EQ(vectors.size(), 34u);  // cases 000..033
    int fingerprints = 0;
    for (const auto& v : vectors) {
        // Case 026 has a default ("true" for a boolean) that the spec's rules reject; these
        // vectors are about the canonical form, so defaults are not checked here.
        ParseOptions opts;
        opts.validate_defaults = false;
        auto s = Schema::parse(v.input, opts);
        ASSERT_TRUE(s.ok()) << "case " << v.name << ": " << s.message();
        EXPECT_EQ(s->canonical_form(), v.canonical) << "case " << v.name;
        if (v.fingerprint) {
            ++fingerprints;
            EXPECT_EQ(static_cast<int64_t>(s->fingerprint()), *v.fingerprint) << "case " << v.name;
            EXPECT_EQ(crc64_avro(v.canonical), static_cast<uint64_t>(*v.fingerprint)) << "case " << v.name;
        }
        // The canonical form is itself a schema with the same canonical form.
        auto again = Schema::parse(s->canonical_form());
        ASSERT_TRUE(again.ok()) << again.message();
        EXPECT_EQ(again->canonical_form(), v.canonical);
    }
    EXPECT_EQ(fingerprints, 26);
    // And case 026's default is caught when defaults are checked.
    auto strict = Schema::parse(vectors[26].input);
    ASSERT_FALSE(strict.ok());
    EXPECT_NE(strict.message().find("field 'f1' of record 'foo': invalid default \"true\""), std::string::npos)
        << strict.message();
}

TEST(AvroCanonical, PythonSuiteCases) {
    struct Case {
        const char* input;
        const char* canonical;
    };
    const Case cases[] = {
        {R"({"name":"\u0041","type":"fixed","size":16})", R"({"name":"A","type":"fixed","size":16})"},
        {R"({"namespace":"avro","name":"example","type":"enum","symbols":["a","b"]})",
         R"({"name":"avro.example","type":"enum","symbols":["a","b"]})"},
        {R"({"name":"foo","type":"enum","doc":"test","aliases":["bar"],"symbols":["a","b"]})",
         R"({"name":"foo","type":"enum","symbols":["a","b"]})"},
        {R"({"symbols":["a","b"],"type":"enum","name":"example"})", R"({"name":"example","type":"enum","symbols":["a","b"]})"},
        {"{\"type\": \"fixed\",\n  \"size\": 16,\n  \"name\": \"md5\"}\n", R"({"name":"md5","type":"fixed","size":16})"},
        {R"(["string","null","long"])", R"(["string","null","long"])"},
        {R"({
            "type": "record", "name": "Interop", "namespace": "org.apache.avro",
            "fields": [
                {"name": "intField", "type": "int"},
                {"name": "longField", "type": "long"},
                {"name": "stringField", "type": "string"},
                {"name": "boolField", "type": "boolean"},
                {"name": "floatField", "type": "float"},
                {"name": "doubleField", "type": "double"},
                {"name": "bytesField", "type": "bytes"},
                {"name": "nullField", "type": "null"},
                {"name": "arrayField", "type": {"type": "array", "items": "double"}},
                {"name": "mapField", "type": {"type": "map", "values": {"name": "Foo", "type": "record",
                    "fields": [{"name": "label", "type": "string"}]}}},
                {"name": "unionField", "type": ["boolean", "double", {"type": "array", "items": "bytes"}]},
                {"name": "enumField", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}},
                {"name": "fixedField", "type": {"type": "fixed", "name": "MD5", "size": 16}},
                {"name": "recordField", "type": {"type": "record", "name": "Node", "fields": [
                    {"name": "label", "type": "string"},
                    {"name": "children", "type": {"type": "array", "items": "Node"}}]}}
            ]})",
         R"({"name":"org.apache.avro.Interop","type":"record","fields":[{"name":"intField","type":"int"},)"
         R"({"name":"longField","type":"long"},{"name":"stringField","type":"string"},{"name":"boolField","type":"boolean"},)"
         R"({"name":"floatField","type":"float"},{"name":"doubleField","type":"double"},{"name":"bytesField","type":"bytes"},)"
         R"({"name":"nullField","type":"null"},{"name":"arrayField","type":{"type":"array","items":"double"}},)"
         R"({"name":"mapField","type":{"type":"map","values":{"name":"org.apache.avro.Foo","type":"record","fields":)"
         R"([{"name":"label","type":"string"}]}}},{"name":"unionField","type":["boolean","double",{"type":"array","items":"bytes"}]},)"
         R"({"name":"enumField","type":{"name":"org.apache.avro.Kind","type":"enum","symbols":["A","B","C"]}},)"
         R"({"name":"fixedField","type":{"name":"org.apache.avro.MD5","type":"fixed","size":16}},)"
         R"({"name":"recordField","type":{"name":"org.apache.avro.Node","type":"record","fields":[{"name":"label","type":"string"},)"
         R"({"name":"children","type":{"type":"array","items":"org.apache.avro.Node"}}]}}]})"},
    };
    for (const auto& c : cases) {
        auto s = Schema::parse(c.input);
        ASSERT_TRUE(s.ok()) << s.message();
        EXPECT_EQ(s->canonical_form(), c.canonical);
        EXPECT_EQ(s->fingerprint(), crc64_avro(c.canonical));
    }
}

TEST(AvroCanonical, SecondUseOfANamedTypeIsItsFullName) {
    // As the Java reference implementation writes it: the definition once, then the name.
    auto s = Schema::parse(R"({"type":"record","name":"R","namespace":"n","fields":[
        {"name":"a","type":{"type":"fixed","name":"MD5","size":16}},
        {"name":"b","type":"MD5"}]})");
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->canonical_form(),
              R"({"name":"n.R","type":"record","fields":[{"name":"a","type":{"name":"n.MD5","type":"fixed","size":16}},)"
              R"({"name":"b","type":"n.MD5"}]})");
}

TEST(AvroCanonical, ExampleSchemaFingerprintIsStable) {
    // Pinned so that an accidental change of the fingerprint (which identifies the schema in
    // every multicast datagram) fails a test. Value cross-checked with `speeddata schema
    // fingerprint` and an independent CRC-64-AVRO of the canonical form.
    auto s = Schema::load(std::string(SPEEDDATA_SOURCE_DIR) + "/config/agents/example.avsc");
    ASSERT_TRUE(s.ok()) << s.message();
    EXPECT_EQ(s->canonical_form(),
              R"({"name":"speeddata.example.data","type":"record","fields":[{"name":"time","type":"long"},)"
              R"({"name":"message","type":"string"},{"name":"counter","type":"int"},{"name":"sine_wave","type":"double"},)"
              R"({"name":"ramp","type":"double"},{"name":"square_wave","type":"double"},{"name":"noise","type":"double"}]})");
    // The earlier version's example.avsc (tests/data/v0.6/config/agents) has the same one: a
    // subscriber of the earlier version's streams sees the same schema.
    EXPECT_EQ(s->fingerprint(), 0xebb9be3d2f5cc200ULL);
    auto earlier = Schema::load(std::string(SPEEDDATA_SOURCE_DIR) + "/tests/data/v0.6/config/agents/example.avsc");
    ASSERT_TRUE(earlier.ok()) << earlier.message();
    EXPECT_EQ(earlier->fingerprint(), s->fingerprint());
}
