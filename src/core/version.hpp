// The release of this build: `speeddata --version`, the servers' health answers and the
// cache files' speeddata.writer metadata. Defined in a file CMake generates from
// project(VERSION) (cmake/version.cpp.in), so the number is written once, in CMakeLists.txt.
#pragma once

namespace speeddata {

extern const char* const version;

}  // namespace speeddata
