# Cross build for arm64 (Raspberry Pi 3/4/5 on a 64-bit OS): Debian's cross toolchain
# (crossbuild-essential-arm64) and the multiarch :arm64 -dev packages in /usr/lib/aarch64-linux-gnu.
# `./install --arm64` installs them; `make build-arm64` configures build-arm64/ with this file.
#
# Two -dev packages cannot be installed beside their amd64 twins (libhdf5-dev and libyaml-cpp-dev
# are not Multi-Arch: same; apt would remove the native ones). Their arm64 runtime libraries are
# co-installable, so ./install --arm64 installs those and unpacks only the two -dev packages
# (dpkg -x) into an overlay, SPEEDDATA_ARM64_OVERLAY (build-arm64/overlay/usr), searched first.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

if(NOT SPEEDDATA_ARM64_OVERLAY)
  set(SPEEDDATA_ARM64_OVERLAY ${CMAKE_CURRENT_LIST_DIR}/../build-arm64/overlay/usr)
endif()
get_filename_component(SPEEDDATA_ARM64_OVERLAY ${SPEEDDATA_ARM64_OVERLAY} ABSOLUTE)
set(SPEEDDATA_ARM64_OVERLAY ${SPEEDDATA_ARM64_OVERLAY} CACHE PATH "arm64 -dev files unpacked by ./install --arm64")
list(PREPEND CMAKE_PREFIX_PATH ${SPEEDDATA_ARM64_OVERLAY})

# Build tools (ccache, the host's cmake scripts) come from the host; libraries, headers and
# package files only from the arm64 locations: CMake looks in lib/aarch64-linux-gnu first and
# never in lib/x86_64-linux-gnu, and pkg-config reads only the arm64 .pc files.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(ENV{PKG_CONFIG_LIBDIR} "${SPEEDDATA_ARM64_OVERLAY}/lib/aarch64-linux-gnu/pkgconfig:/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# HDF5: FindHDF5 would ask the host's h5cc (amd64 paths); point it at the overlay instead.
set(HDF5_C_COMPILER_EXECUTABLE "" CACHE FILEPATH "no h5cc when cross compiling")
set(HDF5_ROOT ${SPEEDDATA_ARM64_OVERLAY}/lib/aarch64-linux-gnu/hdf5/serial)
set(HDF5_PREFER_PARALLEL OFF)

# Tests run under user-mode QEMU with the multiarch arm64 loader and libc (libc6:arm64,
# /lib/ld-linux-aarch64.so.1), not `-L /usr/aarch64-linux-gnu`: that gives the cross package's
# ld.so (libc6-arm64-cross, another build of glibc) beside the multiarch libc.so.6 the :arm64
# libraries pull in, and the mismatch hangs the first pthread_create.
find_program(SPEEDDATA_QEMU_AARCH64 qemu-aarch64-static)
if(SPEEDDATA_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${SPEEDDATA_QEMU_AARCH64})
endif()
