// The CSV export's field quoting (RFC 4180) and time format.
#include <gtest/gtest.h>

#include "pivot/csv.hpp"

using namespace speeddata;

TEST(Csv, QuotesOnlyWhatRfc4180Needs) {
    EXPECT_EQ(pivot::csv_quote("plain text"), "plain text");
    EXPECT_EQ(pivot::csv_quote(""), "");
    EXPECT_EQ(pivot::csv_quote("a,b"), "\"a,b\"");
    EXPECT_EQ(pivot::csv_quote("say \"hi\""), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(pivot::csv_quote("two\nlines"), "\"two\nlines\"");
    EXPECT_EQ(pivot::csv_quote("cr\r"), "\"cr\r\"");
    EXPECT_EQ(pivot::csv_quote("\""), "\"\"\"\"");
}

TEST(Csv, TimeHasNineFractionDigits) {
    EXPECT_EQ(pivot::csv_time(0), "1970-01-01T00:00:00.000000000Z");
    EXPECT_EQ(pivot::csv_time(1700000000000000001LL), "2023-11-14T22:13:20.000000001Z");
    EXPECT_EQ(pivot::csv_time(1700000000123456789LL), "2023-11-14T22:13:20.123456789Z");
    EXPECT_EQ(pivot::csv_time(-1), "1969-12-31T23:59:59.999999999Z");
}
