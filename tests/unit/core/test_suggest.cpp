// core/suggest.hpp: the closest name within the edit limit, and the "did you mean" text.
#include <gtest/gtest.h>

#include "core/suggest.hpp"

using speeddata::closest_name;
using speeddata::did_you_mean;

TEST(Suggest, ClosestWithinTheLimit) {
    const std::vector<std::string> names{"example", "temperature", "sensor"};
    EXPECT_EQ(closest_name("exmple", names), "example");       // a deletion
    EXPECT_EQ(closest_name("exampel", names), "example");      // a swap of neighbours
    EXPECT_EQ(closest_name("temprature", names), "temperature");
    EXPECT_EQ(closest_name("nope", names), "");
    // Short names allow one edit only.
    EXPECT_EQ(closest_name("ab", {"abc"}), "abc");
    EXPECT_EQ(closest_name("a", {"abc"}), "");
    // Replacing every character is not a near miss.
    EXPECT_EQ(closest_name("q", {"a", "b"}), "");
}

TEST(Suggest, DidYouMeanListsTheKnownNames) {
    const std::vector<std::string> names{"example", "other"};
    EXPECT_EQ(did_you_mean("exmple", names), "did you mean 'example'? known: example, other");
    EXPECT_EQ(did_you_mean("nope", names), "known: example, other");
    EXPECT_EQ(did_you_mean("x", {}), "");
    EXPECT_EQ(did_you_mean("zz", {"a", "b", "c"}, 2), "known: a, b, ... (3 in all)");
}
