// Schema parsing: every type of the Avro 1.11 spec, names and namespaces, recursion, logical
// types, defaults, and error messages that locate the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/avro/schema.hpp"

using namespace speeddata::avro;

namespace {

Schema parse_ok(std::string_view text) {
    auto r = Schema::parse(text);
    EXPECT_TRUE(r.ok()) << r.message() << "\n  in: " << text;
    if (!r) return *Schema::parse("\"null\"");
    return std::move(*r);
}

std::string parse_error(std::string_view text) {
    auto r = Schema::parse(text);
    EXPECT_FALSE(r.ok()) << "parsed but should not have: " << text;
    return r.ok() ? "" : r.message();
}

std::string source_dir() { return SPEEDDATA_SOURCE_DIR; }

}  // namespace

TEST(AvroSchema, Primitives) {
    const std::pair<const char*, Type> cases[] = {
        {"null", Type::null_type}, {"boolean", Type::boolean}, {"int", Type::int_type},
        {"long", Type::long_type}, {"float", Type::float_type}, {"double", Type::double_type},
        {"bytes", Type::bytes},   {"string", Type::string},
    };
    for (auto [name, type] : cases) {
        Schema a = parse_ok("\"" + std::string(name) + "\"");
        EXPECT_EQ(a.root().type, type);
        Schema b = parse_ok("{\"type\": \"" + std::string(name) + "\"}");
        EXPECT_EQ(b.root().type, type);
        EXPECT_EQ(type_name(type), name);
    }
}

TEST(AvroSchema, ExampleSchemasFromConfig) {
    for (const char* f : {"config/agents/example.avsc", "config/agents/temperature.avsc", "tests/data/avro/rich.avsc"}) {
        auto s = Schema::load(source_dir() + "/" + f);
        ASSERT_TRUE(s.ok()) << s.message();
        EXPECT_EQ(s->root().type, Type::record);
        EXPECT_FALSE(s->canonical_form().empty());
    }
    auto s = Schema::load(source_dir() + "/config/agents/example.avsc");
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->root().full_name, "speeddata.example.data");  // the earlier version's name
    EXPECT_EQ(s->root().fields.size(), 7u);
    EXPECT_EQ(s->field_index("time"), 0);
    EXPECT_EQ(s->field_index("noise"), 6);
    EXPECT_EQ(s->field_index("nope"), -1);
    // The earlier file puts logicalType on the field, not in the type: per the specification
    // it is then no logical type at all (the relay infers the time unit from the values).
    EXPECT_EQ(s->node(s->root().fields[0].type).logical, LogicalType::none);
    EXPECT_EQ(s->root().fields[1].doc, "A random word");
}

TEST(AvroSchema, RecordEnumFixedArrayMapUnion) {
    Schema s = parse_ok(R"({
        "type": "record", "name": "r", "namespace": "ns", "doc": "top", "aliases": ["old", "x.older"],
        "fields": [
            {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B"], "default": "B", "doc": "d"}},
            {"name": "f", "type": {"type": "fixed", "name": "F", "size": 4}},
            {"name": "a", "type": {"type": "array", "items": "E"}},
            {"name": "m", "type": {"type": "map", "values": "F"}},
            {"name": "u", "type": ["null", "E", "F", {"type": "array", "items": "int"}], "default": null,
             "aliases": ["uu"], "doc": "a union", "order": "ignore"}
        ]})");
    const Node& r = s.root();
    EXPECT_EQ(r.full_name, "ns.r");
    EXPECT_EQ(r.doc, "top");
    ASSERT_EQ(r.aliases.size(), 2u);
    EXPECT_EQ(r.aliases[0], "ns.old");  // named-type aliases are resolved like names
    EXPECT_EQ(r.aliases[1], "x.older");
    ASSERT_EQ(r.fields.size(), 5u);
    const Node& e = s.node(r.fields[0].type);
    EXPECT_EQ(e.type, Type::enum_type);
    EXPECT_EQ(e.full_name, "ns.E");
    EXPECT_EQ(e.symbols, (std::vector<std::string>{"A", "B"}));
    EXPECT_EQ(e.enum_default, "B");
    const Node& f = s.node(r.fields[1].type);
    EXPECT_EQ(f.type, Type::fixed);
    EXPECT_EQ(f.fixed_size, 4u);
    const Node& a = s.node(r.fields[2].type);
    EXPECT_EQ(a.type, Type::array);
    EXPECT_EQ(a.items, r.fields[0].type);  // a reference is the definition's id
    const Node& m = s.node(r.fields[3].type);
    EXPECT_EQ(m.values, r.fields[1].type);
    const Node& u = s.node(r.fields[4].type);
    ASSERT_EQ(u.branches.size(), 4u);
    EXPECT_EQ(s.node(u.branches[0]).type, Type::null_type);
    EXPECT_EQ(u.branches[1], r.fields[0].type);
    EXPECT_EQ(r.fields[4].aliases, (std::vector<std::string>{"uu"}));
    EXPECT_EQ(r.fields[4].doc, "a union");
    ASSERT_TRUE(r.fields[4].default_value.has_value());
    EXPECT_TRUE(r.fields[4].default_value->is_null());
}

TEST(AvroSchema, NamespacesAndFullNames) {
    Schema s = parse_ok(R"({
        "type": "record", "name": "outer", "namespace": "a.b",
        "fields": [
            {"name": "x", "type": {"type": "record", "name": "inner", "fields": []}},
            {"name": "y", "type": {"type": "record", "name": "c.d.other", "fields": [
                {"name": "z", "type": {"type": "enum", "name": "E", "symbols": ["Q"]}}]}},
            {"name": "w", "type": {"type": "fixed", "name": "G", "namespace": "", "size": 1}},
            {"name": "r1", "type": "inner"},
            {"name": "r2", "type": "a.b.inner"},
            {"name": "r3", "type": "c.d.E"},
            {"name": "r4", "type": "G"}
        ]})");
    const Node& r = s.root();
    EXPECT_EQ(r.full_name, "a.b.outer");
    EXPECT_EQ(s.node(r.fields[0].type).full_name, "a.b.inner");
    EXPECT_EQ(s.node(r.fields[1].type).full_name, "c.d.other");
    // A nested definition takes the namespace of the enclosing full name.
    EXPECT_EQ(s.node(s.node(r.fields[1].type).fields[0].type).full_name, "c.d.E");
    EXPECT_EQ(s.node(r.fields[2].type).full_name, "G");  // explicit null namespace
    EXPECT_EQ(r.fields[3].type, r.fields[0].type);
    EXPECT_EQ(r.fields[4].type, r.fields[0].type);
    EXPECT_EQ(r.fields[5].type, s.node(r.fields[1].type).fields[0].type);
    EXPECT_EQ(r.fields[6].type, r.fields[2].type);  // null-namespace fallback, as Java does
}

TEST(AvroSchema, RecursiveLinkedListAndMutualRecursion) {
    Schema s = parse_ok(R"({"type": "record", "name": "LongList", "aliases": ["LinkedLongs"],
        "fields": [{"name": "value", "type": "long"}, {"name": "next", "type": ["null", "LongList"]}]})");
    const Node& u = s.node(s.root().fields[1].type);
    EXPECT_EQ(u.branches[1], s.root_id());
    EXPECT_EQ(s.canonical_form(),
              R"({"name":"LongList","type":"record","fields":[{"name":"value","type":"long"},{"name":"next","type":["null","LongList"]}]})");

    Schema t = parse_ok(R"({"type": "record", "name": "A", "fields": [
        {"name": "b", "type": ["null", {"type": "record", "name": "B", "fields": [
            {"name": "a", "type": ["null", "A"]}]}]}]})");
    EXPECT_EQ(t.root().type, Type::record);
}

TEST(AvroSchema, LogicalTypes) {
    struct Case {
        const char* json;
        LogicalType want;
    };
    const Case cases[] = {
        {R"({"type":"bytes","logicalType":"decimal","precision":4,"scale":2})", LogicalType::decimal},
        {R"({"type":"fixed","name":"d","size":8,"logicalType":"decimal","precision":18})", LogicalType::decimal},
        {R"({"type":"string","logicalType":"uuid"})", LogicalType::uuid},
        {R"({"type":"int","logicalType":"date"})", LogicalType::date},
        {R"({"type":"int","logicalType":"time-millis"})", LogicalType::time_millis},
        {R"({"type":"long","logicalType":"time-micros"})", LogicalType::time_micros},
        {R"({"type":"long","logicalType":"timestamp-millis"})", LogicalType::timestamp_millis},
        {R"({"type":"long","logicalType":"timestamp-micros"})", LogicalType::timestamp_micros},
        {R"({"type":"long","logicalType":"timestamp-nanos"})", LogicalType::timestamp_nanos},
        {R"({"type":"long","logicalType":"local-timestamp-millis"})", LogicalType::local_timestamp_millis},
        {R"({"type":"long","logicalType":"local-timestamp-micros"})", LogicalType::local_timestamp_micros},
        {R"({"type":"long","logicalType":"local-timestamp-nanos"})", LogicalType::local_timestamp_nanos},
        {R"({"type":"fixed","name":"dur","size":12,"logicalType":"duration"})", LogicalType::duration},
        // Invalid or unknown logical types are ignored, as the specification requires.
        {R"({"type":"bytes","logicalType":"decimal","precision":2,"scale":3})", LogicalType::none},
        {R"({"type":"bytes","logicalType":"decimal"})", LogicalType::none},
        {R"({"type":"fixed","name":"d","size":2,"logicalType":"decimal","precision":5})", LogicalType::none},
        {R"({"type":"int","logicalType":"timestamp-nanos"})", LogicalType::none},
        {R"({"type":"fixed","name":"dur","size":8,"logicalType":"duration"})", LogicalType::none},
        {R"({"type":"long","logicalType":"no-such-type"})", LogicalType::none},
    };
    for (const auto& c : cases) {
        Schema s = parse_ok(c.json);
        EXPECT_EQ(s.root().logical, c.want) << c.json;
    }
    Schema d = parse_ok(R"({"type":"bytes","logicalType":"decimal","precision":9,"scale":3})");
    EXPECT_EQ(d.root().precision, 9);
    EXPECT_EQ(d.root().scale, 3);
    EXPECT_EQ(d.canonical_form(), "\"bytes\"");  // logical types are not part of the canonical form
    EXPECT_EQ(logical_type_name(LogicalType::timestamp_nanos), "timestamp-nanos");
    EXPECT_EQ(logical_type_name(LogicalType::local_timestamp_micros), "local-timestamp-micros");
}

TEST(AvroSchema, ValidDefaults) {
    parse_ok(R"({"type":"record","name":"r","fields":[
        {"name":"a","type":"int","default":-5},
        {"name":"b","type":"long","default":9007199254740993},
        {"name":"c","type":"double","default":1.5},
        {"name":"c2","type":"float","default":"NaN"},
        {"name":"d","type":"string","default":"x"},
        {"name":"e","type":"bytes","default":"\u00ff\u0000"},
        {"name":"f","type":{"type":"fixed","name":"F","size":2},"default":"ab"},
        {"name":"g","type":{"type":"enum","name":"E","symbols":["P","Q"]},"default":"Q"},
        {"name":"h","type":{"type":"array","items":"int"},"default":[1,2]},
        {"name":"i","type":{"type":"map","values":"E"},"default":{"k":"P"}},
        {"name":"j","type":["null","int"],"default":null},
        {"name":"k","type":["int","null"],"default":3},
        {"name":"l","type":{"type":"record","name":"S","fields":[{"name":"p","type":"int"},{"name":"q","type":"int","default":1}]},
         "default":{"p":2}},
        {"name":"m","type":"boolean","default":true},
        {"name":"n","type":"null","default":null}
    ]})");
}

TEST(AvroSchema, InvalidDefaults) {
    auto check = [](const char* field_type, const char* def, const char* expect) {
        std::string text = std::string(R"({"type":"record","name":"r","fields":[{"name":"x","type":)") + field_type +
                           ",\"default\":" + def + "}]}";
        std::string e = parse_error(text);
        EXPECT_NE(e.find("field 'x' of record 'r': invalid default"), std::string::npos) << e;
        EXPECT_NE(e.find(expect), std::string::npos) << e;
    };
    check("\"int\"", "\"1\"", "expected an integer");
    check("\"int\"", "4294967296", "out of range");
    check("\"boolean\"", "\"true\"", "expected true or false");
    check("[\"null\",\"int\"]", "1", "first branch");
    check("{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}", "\"ab\"", "needs 3 bytes");
    check("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", "\"B\"", "is not a symbol");
    check("{\"type\":\"array\",\"items\":\"int\"}", "[1,\"a\"]", "expected an integer");
    check("{\"type\":\"record\",\"name\":\"S\",\"fields\":[{\"name\":\"p\",\"type\":\"int\"}]}", "{}", "'p' of record 'S' is missing");
    check("\"bytes\"", "\"\\u0100\"", "U+0000..U+00FF");

    // Readers of foreign files may turn the check off.
    ParseOptions lax;
    lax.validate_defaults = false;
    EXPECT_TRUE(Schema::parse(R"({"type":"record","name":"r","fields":[{"name":"x","type":"int","default":"no"}]})", lax).ok());
}

TEST(AvroSchema, ErrorsLocateTheProblem) {
    struct Case {
        const char* json;
        const char* expect;
    };
    const Case cases[] = {
        {R"({"type":"record","name":"b","namespace":"a","fields":[{"name":"x","type":"flot"}]})",
         "field 'x' of record 'a.b': unknown type 'flot'"},
        {R"({"type":"record","name":"r","fields":[{"name":"x","type":"int"},{"name":"x","type":"long"}]})",
         "field 'x' of record 'r': duplicate field 'x'"},
        {R"({"type":"record","name":"r","fields":[{"name":"u","type":[{"type":"array","items":"int"},{"type":"array","items":"long"}]}]})",
         "field 'u' of record 'r': union contains two arrays"},
        {R"(["int", "string", "int"])", "schema: union contains two 'int'"},
        {R"([{"type":"map","values":"int"},{"type":"map","values":"long"}])", "union contains two maps"},
        {R"([{"type":"enum","name":"E","symbols":["A"]}, "E"])", "union contains 'E' twice"},
        {R"(["null", ["int"]])", "union branch 1: a union may not directly contain another union"},
        {R"({"type":"enum","name":"e","symbols":["ok","1a"]})", "enum 'e': enum symbol '1a' is not a valid name"},
        {R"({"type":"enum","name":"e","symbols":["A","A"]})", "duplicate enum symbol 'A'"},
        {R"({"type":"enum","name":"e","symbols":["A"],"default":"B"})", "enum default 'B' is not one of its symbols"},
        {R"({"type":"enum","name":"e"})", "enum 'e': enum has no 'symbols'"},
        {R"({"type":"record","name":"r"})", "record 'r': record has no 'fields'"},
        {R"({"type":"record","fields":[]})", "schema: record has no 'name'"},
        {R"({"type":"record","name":"9r","fields":[]})", "record name '9r' is not a valid name"},
        {R"({"type":"record","name":"r","namespace":"a..b","fields":[]})", "namespace 'a..b' is not a valid namespace"},
        {R"({"type":"record","name":"r","fields":[{"name":"a-b","type":"int"}]})", "'a-b' is not a valid name"},
        {R"({"type":"record","name":"r","fields":[{"name":"a"}]})", "field 'a' of record 'r': field has no 'type'"},
        {R"({"type":"record","name":"r","fields":[{"type":"int"}]})", "record 'r', field #0: field has no 'name'"},
        {R"({"type":"record","name":"r","fields":[{"name":"a","type":"int","order":"up"}]})", "'order' must be"},
        {R"({"type":"fixed","name":"f"})", "fixed 'f': fixed has no 'size'"},
        {R"({"type":"fixed","name":"f","size":-1})", "'size' must be a non-negative integer"},
        {R"({"type":"fixed","name":"f","size":"16"})", "'size' must be a non-negative integer"},
        {R"({"type":"array"})", "schema: array has no 'items'"},
        {R"({"type":"map"})", "schema: map has no 'values'"},
        {R"({"type":"array","items":"nope"})", "schema, array items: unknown type 'nope'"},
        {R"({"type":"map","values":{"type":"array","items":"nope"}})", "schema, map values, array items: unknown type 'nope'"},
        {R"({"type":"record","name":"int","fields":[]})", "redefines a primitive type"},
        {R"({"type":"record","name":"r","fields":[{"name":"a","type":{"type":"fixed","name":"r","size":1}}]})",
         "redefinition of named type 'r'"},
        {R"({"no":"type"})", "schema: type object has no 'type' attribute"},
        {R"({"type":{"type":"int"}})", "'type' of a type object must be a string"},
        {R"(42)", "schema: expected a type name, a type object or a union array, got integer"},
        {R"("record")", "type 'record' must be written as a JSON object"},
        {R"({"type":"record","name":"r","fields":{}})", "'fields' must be an array"},
        {R"({"type":"record","name":"r","doc":5,"fields":[]})", "'doc' must be a string"},
        {R"({"type":"record","name":"r","aliases":["1x"],"fields":[]})", "alias '1x' is not a valid name"},
        {R"({"type":"long","logicalType":7})", "'logicalType' must be a string"},
        {R"({"type":"record","name":"outer","fields":[{"name":"x","type":{"type":"record","name":"in","fields":[{"name":"y","type":"flot"}]}}]})",
         "field 'y' of record 'in': unknown type 'flot'"},
    };
    for (const auto& c : cases) {
        std::string e = parse_error(c.json);
        EXPECT_NE(e.find(c.expect), std::string::npos) << "input: " << c.json << "\n  error: " << e << "\n  wanted: " << c.expect;
    }
}

TEST(AvroSchema, InvalidJsonNamesLineAndColumn) {
    std::string e = parse_error("{\n  \"type\": \"record\",\n    x}");
    EXPECT_EQ(e.rfind("invalid JSON at line 3 col 5: ", 0), 0u) << e;
    e = parse_error("");
    EXPECT_EQ(e.rfind("invalid JSON at line 1 col 1", 0), 0u) << e;
    e = parse_error("[\"int\",");
    EXPECT_NE(e.find("invalid JSON at line 1"), std::string::npos) << e;
}

TEST(AvroSchema, LoadPrefixesThePath) {
    auto dir = std::filesystem::temp_directory_path() / ("sd_schema_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto path = dir / "bad.avsc";
    std::ofstream(path) << R"({"type":"record","name":"r","fields":[{"name":"x","type":"flot"}]})";
    auto r = Schema::load(path);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.message(), path.string() + ": field 'x' of record 'r': unknown type 'flot'");
    auto missing = Schema::load(dir / "missing.avsc");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.message().find("missing.avsc: No such file or directory"), std::string::npos) << missing.message();
    std::filesystem::remove_all(dir);
}

TEST(AvroSchema, JsonTextIsKept) {
    const std::string text = R"({"type": "record", "name": "r", "doc": "kept", "fields": []})";
    Schema s = parse_ok(text);
    EXPECT_EQ(s.json_text(), text);
}

TEST(AvroSchema, NestingIsBounded) {
    std::string deep;
    for (int i = 0; i < 10000; ++i) deep += R"({"type":"array","items":)";
    deep += "\"int\"" + std::string(10000, '}');
    std::string e = parse_error(deep);
    EXPECT_NE(e.find("nested more than 256 levels deep"), std::string::npos) << e.substr(0, 200);
    std::string ok;
    for (int i = 0; i < 100; ++i) ok += R"({"type":"map","values":)";
    ok += "\"int\"" + std::string(100, '}');
    parse_ok(ok);
}
