// Durations and sizes: the accepted syntax, exact values, and rejected input.
#include <gtest/gtest.h>

#include "core/config/config.hpp"

namespace speeddata::config {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsEveryUnitAndPlainSeconds) {
    EXPECT_EQ(*parse_duration("250ms"), milliseconds(250));
    EXPECT_EQ(*parse_duration("30s"), milliseconds(30'000));
    EXPECT_EQ(*parse_duration("5m"), milliseconds(300'000));
    EXPECT_EQ(*parse_duration("1h"), milliseconds(3'600'000));
    EXPECT_EQ(*parse_duration("7d"), milliseconds(604'800'000));
    EXPECT_EQ(*parse_duration("30"), milliseconds(30'000));
    EXPECT_EQ(*parse_duration("0"), milliseconds(0));
    EXPECT_EQ(*parse_duration("0.25"), milliseconds(250));
    EXPECT_EQ(*parse_duration("1.5s"), milliseconds(1500));
    EXPECT_EQ(*parse_duration("1.5h"), milliseconds(5'400'000));
    EXPECT_EQ(*parse_duration(" 30 s "), milliseconds(30'000));
}

TEST(ParseDuration, RejectsBadInput) {
    for (const char* bad : {"", "abc", "-5s", "5x", "5 minutes", "s", "1.5.5s", "5S", "1e3", "0.0001", "1.5ms",
                            "99999999999999999999", "5s5"}) {
        const auto r = parse_duration(bad);
        EXPECT_FALSE(r.ok()) << bad;
    }
    EXPECT_EQ(parse_duration("abc").message(),
              "expected a duration like 250ms, 30s, 5m, 1h, 7d or a number of seconds, got \"abc\"");
    EXPECT_EQ(parse_duration("1.5ms").message(), "expected a duration in whole milliseconds, got \"1.5ms\"");
}

TEST(ParseSize, AcceptsBinaryAndDecimalUnits) {
    EXPECT_EQ(*parse_size("4096"), 4096u);
    EXPECT_EQ(*parse_size("0"), 0u);
    EXPECT_EQ(*parse_size("64KiB"), 65536u);
    EXPECT_EQ(*parse_size("8MiB"), 8u << 20);
    EXPECT_EQ(*parse_size("2GiB"), 2ull << 30);
    EXPECT_EQ(*parse_size("1TiB"), 1ull << 40);
    EXPECT_EQ(*parse_size("1.5GB"), 1'500'000'000u);
    EXPECT_EQ(*parse_size("10k"), 10'000u);
    EXPECT_EQ(*parse_size("10kB"), 10'000u);
    EXPECT_EQ(*parse_size("10KB"), 10'000u);
    EXPECT_EQ(*parse_size("3M"), 3'000'000u);
    EXPECT_EQ(*parse_size("0.5KiB"), 512u);
    EXPECT_EQ(*parse_size("100B"), 100u);
    EXPECT_EQ(*parse_size("8 MiB"), 8u << 20);
}

TEST(ParseSize, RejectsBadInput) {
    for (const char* bad : {"", "abc", "-1", "8XB", "1.5", "0.3KiB", "KiB", "1e6", "99999999999999999999",
                            "20000000TiB"}) {
        EXPECT_FALSE(parse_size(bad).ok()) << bad;
    }
    EXPECT_EQ(parse_size("8XB").message(),
              "expected a size like 4096, 64KiB, 8MiB, 2GiB, 1.5GB or 10k, got \"8XB\"");
    EXPECT_EQ(parse_size("1.5").message(), "expected a size in whole bytes, got \"1.5\"");
}

TEST(Format, ReadsBackToTheSameValue) {
    EXPECT_EQ(format_duration(milliseconds(0)), "0");
    EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
    EXPECT_EQ(format_duration(milliseconds(1000)), "1s");
    EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
    EXPECT_EQ(format_duration(milliseconds(300'000)), "5m");
    EXPECT_EQ(format_duration(milliseconds(604'800'000)), "7d");
    EXPECT_EQ(format_size(0), "0");
    EXPECT_EQ(format_size(1400), "1400");
    EXPECT_EQ(format_size(256u << 10), "256KiB");
    EXPECT_EQ(format_size(1'500'000'000), "1500000000");
    for (int64_t ms : {1, 999, 1000, 61'000, 3'600'000, 90'000'000}) {
        EXPECT_EQ(*parse_duration(format_duration(milliseconds(ms))), milliseconds(ms));
    }
    for (uint64_t b : {1ull, 1023ull, 1024ull, 1ull << 30, (1ull << 30) + 1, 5ull << 40}) {
        EXPECT_EQ(*parse_size(format_size(b)), b);
    }
}

TEST(Names, AlgorithmsAndCodecs) {
    EXPECT_EQ(*parse_algorithm("minmax"), DecimationAlgorithm::minmax);
    EXPECT_EQ(*parse_algorithm("min-max"), DecimationAlgorithm::minmax);
    EXPECT_EQ(*parse_algorithm("rms"), DecimationAlgorithm::rms);
    EXPECT_FALSE(parse_algorithm("median").ok());
    for (auto a : {DecimationAlgorithm::downsample, DecimationAlgorithm::average, DecimationAlgorithm::minmax,
                   DecimationAlgorithm::rms}) {
        EXPECT_EQ(*parse_algorithm(algorithm_name(a)), a);
    }
    EXPECT_EQ(*parse_codec_name("zstd"), avro::Codec::zstandard);
    EXPECT_EQ(*parse_codec_name("none"), avro::Codec::null_codec);
    EXPECT_FALSE(parse_codec_name("lz4").ok());
    for (auto c : {avro::Codec::null_codec, avro::Codec::deflate, avro::Codec::snappy, avro::Codec::zstandard}) {
        EXPECT_EQ(*parse_codec_name(codec_config_name(c)), c);
    }
}

TEST(ChannelName, Rules) {
    EXPECT_TRUE(check_channel_name("example").ok());
    EXPECT_TRUE(check_channel_name("high_rate-2").ok());
    EXPECT_TRUE(check_channel_name("_x").ok());
    for (const char* bad : {"", "2fast", "a/b", "..", "a b", "-x", "é"}) {
        EXPECT_FALSE(check_channel_name(bad).ok()) << bad;
    }
    EXPECT_FALSE(check_channel_name(std::string(65, 'a')).ok());
    EXPECT_TRUE(check_channel_name(std::string(64, 'a')).ok());
}

}  // namespace
}  // namespace speeddata::config
