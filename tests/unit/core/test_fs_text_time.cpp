// core/fs.hpp, core/text.hpp and core/time.hpp helpers that every part calls: their
// contracts, on real files in a temporary directory.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/fs.hpp"
#include "core/text.hpp"
#include "core/time.hpp"

namespace fs = std::filesystem;
using namespace speeddata;

namespace {

struct TempDir {
    fs::path dir;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "sd-fs-XXXXXX").string();
        dir = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
};

std::vector<std::string> names_in(const fs::path& d) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(d)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST(Fs, ReadFileWholeAndItsErrors) {
    TempDir t;
    const std::string big(200'000, 'x');  // more than one read() may return
    ASSERT_TRUE(write_file_atomically(t.dir / "a.txt", big).ok());
    auto got = read_file(t.dir / "a.txt");
    ASSERT_TRUE(got.ok()) << got.message();
    EXPECT_EQ(*got, big);

    auto missing = read_file(t.dir / "nope.txt");
    EXPECT_EQ(missing.status().code(), StatusCode::not_found);
    EXPECT_EQ(missing.message(), "cannot read " + (t.dir / "nope.txt").string() + ": No such file or directory");
    auto dir = read_file(t.dir);
    EXPECT_EQ(dir.message(), "cannot read " + t.dir.string() + ": Is a directory");
    auto capped = read_file(t.dir / "a.txt", 1000);
    EXPECT_EQ(capped.status().code(), StatusCode::too_large);

    // A file that says size 0 but has content (as /proc files do) is read to its end.
    auto proc = read_file("/proc/self/status");
    ASSERT_TRUE(proc.ok());
    EXPECT_NE(proc->find("Pid:"), std::string::npos);
}

TEST(Fs, AtomicWriteReplacesWholeAndLeavesNoTemporaryFile) {
    TempDir t;
    const auto p = t.dir / "sub" / "status.json";  // parents are created
    ASSERT_TRUE(write_file_atomically(p, "first").ok());
    ASSERT_TRUE(write_file_atomically(p, "second, longer").ok());
    EXPECT_EQ(*read_file(p), "second, longer");
    EXPECT_EQ(names_in(p.parent_path()), std::vector<std::string>{"status.json"});

    // Permissions: 0644 by default; kept when asked (a config holding a token may be 0600).
    ::chmod(p.c_str(), 0600);
    ASSERT_TRUE(write_file_atomically(p, "kept", {.keep_permissions = true}).ok());
    struct stat st{};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_TRUE(write_file_atomically(p, "default").ok());
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    const mode_t mask = ::umask(0);
    ::umask(mask);
    EXPECT_EQ(st.st_mode & 0777, 0644u & ~static_cast<unsigned>(mask));
}

TEST(Fs, AtomicWriteFailureNamesTheCallAndPath) {
    TempDir t;
    // The target is a directory: rename fails, the temporary file is removed.
    fs::create_directories(t.dir / "taken" / "x");
    auto st = write_file_atomically(t.dir / "taken", "data");
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), StatusCode::io);
    EXPECT_EQ(st.message().rfind("rename " + (t.dir / "taken").string() + ": ", 0), 0u) << st.message();
    EXPECT_EQ(names_in(t.dir), std::vector<std::string>{"taken"});
}

TEST(Fs, IsInsideComparesWholeComponents) {
    EXPECT_TRUE(is_inside("/srv/web", "/srv/web/index.html"));
    EXPECT_TRUE(is_inside("/srv/web/", "/srv/web/a/b"));
    EXPECT_FALSE(is_inside("/srv/web", "/srv/web"));  // the root itself is not below it
    EXPECT_FALSE(is_inside("/srv/web", "/srv/website/index.html"));
    EXPECT_FALSE(is_inside("/srv/web", "/srv"));
    EXPECT_FALSE(is_inside("/srv/web", "/etc/shadow"));
    EXPECT_TRUE(is_inside("/", "/etc"));
}

TEST(Text, JoinAndHex) {
    EXPECT_EQ(join(std::vector<std::string>{"a", "b", "c"}, ", "), "a, b, c");
    EXPECT_EQ(join(std::vector<std::string>{}, ","), "");
    EXPECT_EQ(join(std::vector<std::string>{"x"}, ","), "x");
    EXPECT_EQ(double_quoted("a\"b\\c\n\t\x01"), R"("a\"b\\c\n\t\x01")");
    EXPECT_EQ(double_quoted("abcdef", 3), R"("abc...")");
    EXPECT_EQ(hex16(0), "0000000000000000");
    EXPECT_EQ(hex16(0x63dd24e7cc258f8aULL), "63dd24e7cc258f8a");  // the Avro spec's "null"
}

TEST(Time, SecondsAndMillisecondForms) {
    const int64_t t = 1'764'576'000'123'456'789;  // 2025-12-01T08:00:00.123456789Z
    EXPECT_EQ(format_iso8601_seconds(t), "2025-12-01T08:00:00Z");
    std::string out = "x";
    append_iso8601_ms(out, t);
    EXPECT_EQ(out, "x2025-12-01T08:00:00.123Z");
    const int64_t a = monotonic_ns(), b = monotonic_ns();
    EXPECT_GT(a, 0);
    EXPECT_GE(b, a);
}
