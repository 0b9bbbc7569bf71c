// Helpers shared by the Avro unit tests: schema loading and random values for any schema.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/avro/codec.hpp"
#include "core/avro/schema.hpp"

namespace avro_test {

using namespace speeddata::avro;

inline std::string data_path(const std::string& rel) { return std::string(SPEEDDATA_SOURCE_DIR) + "/" + rel; }

inline Schema load(const std::string& rel) {
    auto s = Schema::load(data_path(rel));
    EXPECT_TRUE(s.ok()) << s.message();
    return std::move(*s);
}

inline Schema parse(std::string_view text) {
    auto s = Schema::parse(text);
    EXPECT_TRUE(s.ok()) << s.message();
    return std::move(*s);
}

inline const uint8_t* bytes_of(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Random valid values of any schema. Collections and recursion are kept small so datums
// stay short; strings mix ASCII and multi-byte UTF-8.
class RandomValues {
public:
    RandomValues(const Schema& s, uint32_t seed) : s_(s), rng_(seed) {}

    Value make() { return make(s_.root_id(), 0); }

    Value make(NodeId id, int depth) {
        const Node& n = s_.node(id);
        Value v;
        switch (n.type) {
            case Type::null_type: break;
            case Type::boolean: v.v.emplace<Value::boolean_index>(pick(2) == 1); break;
            case Type::int_type: v.v.emplace<Value::int_index>(static_cast<int32_t>(any_int(32))); break;
            case Type::long_type: v.v.emplace<Value::long_index>(any_int(64)); break;
            case Type::float_type: v.v.emplace<Value::float_index>(static_cast<float>(real())); break;
            case Type::double_type: v.v.emplace<Value::double_index>(real()); break;
            case Type::bytes: v.v.emplace<Value::bytes_index>(BytesValue{raw(pick(12))}); break;
            case Type::string: v.v.emplace<Value::string_index>(text(pick(12))); break;
            case Type::fixed: v.v.emplace<Value::fixed_index>(FixedValue{raw(n.fixed_size)}); break;
            case Type::enum_type:
                v.v.emplace<Value::enum_index>(EnumValue{static_cast<int32_t>(pick(n.symbols.size()))});
                break;
            case Type::record: {
                Record r;
                for (const Field& f : n.fields) r.push_back(make(f.type, depth + 1));
                v.v.emplace<Value::record_index>(std::move(r));
                break;
            }
            case Type::array: {
                Array a;
                const size_t count = depth > 6 ? 0 : pick(5);
                for (size_t i = 0; i < count; ++i) a.push_back(make(n.items, depth + 1));
                v.v.emplace<Value::array_index>(std::move(a));
                break;
            }
            case Type::map: {
                Map m;
                const size_t count = depth > 6 ? 0 : pick(4);
                for (size_t i = 0; i < count; ++i) m.emplace_back(text(pick(6)) + std::to_string(i), make(n.values, depth + 1));
                v.v.emplace<Value::map_index>(std::move(m));
                break;
            }
            case Type::union_type: {
                // Deep down, prefer a null branch so recursive types terminate.
                size_t b = pick(n.branches.size());
                if (depth > 6) {
                    for (size_t i = 0; i < n.branches.size(); ++i) {
                        if (s_.node(n.branches[i]).type == Type::null_type) b = i;
                    }
                }
                v = Value::make_union(static_cast<int32_t>(b), make(n.branches[b], depth + 1));
                break;
            }
        }
        return v;
    }

    size_t pick(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }
    std::mt19937& rng() { return rng_; }

private:
    int64_t any_int(int bits) {
        // Mix small values (1-byte varints) with values of every width.
        const int width = static_cast<int>(pick(static_cast<size_t>(bits)));
        uint64_t x = (static_cast<uint64_t>(rng_()) << 32) | rng_();
        if (width < 63) x &= (uint64_t{1} << width) - 1;
        int64_t v = static_cast<int64_t>(x);
        if (bits == 32) v = static_cast<int32_t>(static_cast<uint32_t>(v));
        return pick(2) ? v : -v - 1;
    }
    double real() {
        switch (pick(4)) {
            case 0: return 0.0;
            case 1: return static_cast<double>(static_cast<int32_t>(rng_())) / 1024.0;
            default: return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
        }
    }
    std::string raw(size_t n) {
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(rng_());
        return s;
    }
    std::string text(size_t n) {
        static const char* pieces[] = {"a", "Z", "_", " ", "\"", "\\", "\n", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "0"};
        std::string s;
        for (size_t i = 0; i < n; ++i) s += pieces[pick(std::size(pieces))];
        return s;
    }

    const Schema& s_;
    std::mt19937 rng_;
};

}  // namespace avro_test
