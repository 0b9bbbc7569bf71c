// skip_value and append_json_value (core/avro/walk.hpp): the binary walk that the pivot's
// column decoder uses must agree with decode + append_json on every value, and reject every
// truncated datum.
#include <gtest/gtest.h>

#include "avro_test_util.hpp"
#include "core/avro/json_node.hpp"
#include "core/avro/walk.hpp"

using namespace avro_test;

namespace {

void expect_walk_agrees(const Schema& s, uint32_t seed, int count) {
    RandomValues gen(s, seed);
    for (int i = 0; i < count; ++i) {
        const Value v = gen.make();
        std::string bin;
        ASSERT_TRUE(encode(s, v, bin).ok());
        const uint8_t* p = bytes_of(bin);
        const uint8_t* end = p + bin.size();
        EXPECT_EQ(skip_value(s, s.root_id(), p, end), end);
        std::string expected, got;
        append_json(s, v, expected);
        EXPECT_EQ(append_json_value(s, s.root_id(), p, end, got), end);
        EXPECT_EQ(got, expected);
        // Every field on its own, as the pivot renders a JSON column.
        if (s.root().type == Type::record) {
            const auto& rec = std::get<Value::record_index>(v.v);
            const uint8_t* q = p;
            for (size_t f = 0; f < rec.size(); ++f) {
                const NodeId id = s.root().fields[f].type;
                std::string want, have;
                append_json(s, id, rec[f], want);
                q = append_json_value(s, id, q, end, have);
                ASSERT_NE(q, nullptr);
                EXPECT_EQ(have, want);
            }
            EXPECT_EQ(q, end);
        }
        for (size_t cut = 0; cut < bin.size(); ++cut) {
            std::string partial;
            EXPECT_EQ(skip_value(s, s.root_id(), p, p + cut), nullptr) << "cut at " << cut;
            EXPECT_EQ(append_json_value(s, s.root_id(), p, p + cut, partial), nullptr) << "cut at " << cut;
        }
    }
}

}  // namespace

TEST(AvroWalk, AgreesWithDecodeAndAppendJsonOnEveryType) {
    expect_walk_agrees(load("tests/data/pivot_all_types.avsc"), 3, 50);
    expect_walk_agrees(load("tests/data/avro/rich.avsc"), 5, 50);
}

TEST(AvroWalk, RejectsBadIndexesAndNestingPastTheLimit) {
    Schema u = parse(R"(["null", "long"])");
    const uint8_t bad_branch[] = {4, 2};  // branch 2 of a two-branch union
    EXPECT_EQ(skip_value(u, u.root_id(), bad_branch, bad_branch + 2), nullptr);
    Schema e = parse(R"({"type": "enum", "name": "E", "symbols": ["A"]})");
    const uint8_t bad_symbol[] = {2};
    EXPECT_EQ(skip_value(e, e.root_id(), bad_symbol, bad_symbol + 1), nullptr);
    // A linked list nested deeper than walk_max_depth.
    Schema list = parse(R"({"type": "record", "name": "L", "fields": [
        {"name": "next", "type": ["null", "L"]}]})");
    std::string deep(static_cast<size_t>(walk_max_depth), '\x02');
    deep.push_back('\0');
    const uint8_t* p = bytes_of(deep);
    EXPECT_EQ(skip_value(list, list.root_id(), p, p + deep.size()), nullptr);
    std::string shallow(10, '\x02');
    shallow.push_back('\0');
    p = bytes_of(shallow);
    EXPECT_EQ(skip_value(list, list.root_id(), p, p + shallow.size()), p + shallow.size());
}
