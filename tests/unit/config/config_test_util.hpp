// Helpers for the config unit tests: throw-away config directories written from strings.
#pragma once

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

namespace speeddata::config::test {

inline std::filesystem::path source_dir() { return SPEEDDATA_SOURCE_DIR; }

// A config directory <tmp>/sd-config-<pid>-<n>/config holding the shipped schemas and
// minimal global.yaml / relay.yaml; tests overwrite the files they are about. Removed at the
// end of the test.
class ConfigDir {
public:
    ConfigDir() {
        static std::atomic<int> counter{0};
        root_ = std::filesystem::temp_directory_path() /
                ("sd-config-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(root_);
        std::filesystem::create_directories(dir() / "agents");
        for (const char* s : {"example.avsc", "temperature.avsc"}) {
            std::filesystem::copy_file(source_dir() / "config/agents" / s, dir() / "agents" / s);
        }
        write("global.yaml", "");
        write("relay.yaml",
              "channels:\n"
              "  example:\n"
              "    port: 26000\n"
              "    schema: agents/example.avsc\n");
        write("stripchart.yaml", "");
        write("pivot.yaml", "");
    }
    ~ConfigDir() {
        std::error_code ec;
        std::filesystem::remove_all(root_, ec);
    }
    ConfigDir(const ConfigDir&) = delete;
    ConfigDir& operator=(const ConfigDir&) = delete;

    std::filesystem::path root() const { return root_; }
    std::filesystem::path dir() const { return root_ / "config"; }
    // The prefix of messages about a file of this directory: "<dir>/relay.yaml: ".
    std::string prefix(const std::string& file) const { return (dir() / file).string() + ": "; }

    void write(const std::string& file, const std::string& text) const {
        std::filesystem::create_directories((dir() / file).parent_path());
        std::ofstream(dir() / file, std::ios::binary) << text;
    }
    // relay.yaml with one channel "example" (port 26000, the example schema) whose entry
    // gets extra lines (indented by 4), and an optional defaults: block (indented by 2).
    void relay_with(const std::string& channel_lines, const std::string& defaults_lines = "") const {
        std::string text;
        if (!defaults_lines.empty()) text += "defaults:\n" + defaults_lines;
        text += "channels:\n  example:\n    port: 26000\n    schema: agents/example.avsc\n" + channel_lines;
        write("relay.yaml", text);
    }

private:
    std::filesystem::path root_;
};

}  // namespace speeddata::config::test
