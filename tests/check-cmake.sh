#!/bin/sh
# Stage an install the way a distribution package is built (DESTDIR, PREFIX
# /usr, a multiarch LIBDIR), check what it holds, then build a small CMake
# project against the staged tree with find_package(reexec 0.1 REQUIRED):
# the program linked to reexec::reexec needs libreexec.so.0, the one linked
# to reexec::reexec_static does not, both run. Exits 77 (skipped) when
# cmake is missing.
#   tests/check-cmake.sh
set -u
fail() { echo "check-cmake: $*"; exit 1; }
command -v cmake >/dev/null 2>&1 ||
	{ echo "check-cmake: cmake is missing (apt-get install cmake): skipped"; exit 77; }

# Neither the flags of a sanitizer build of the suites nor the make that
# runs us (its variables, its jobserver) reach the install or the consumer.
unset CFLAGS CPPFLAGS LDFLAGS MAKEFLAGS MFLAGS MAKELEVEL
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/stage"
arch=$(cc -print-multiarch 2>/dev/null)
libdir=/usr/lib${arch:+/$arch}
[ -n "$arch" ] || libdir=/usr/lib64

make --no-print-directory -s install BUILD="$tmp/build" CFLAGS=-O2 LDFLAGS= CPPFLAGS= \
	DESTDIR="$stage" PREFIX=/usr LIBDIR="$libdir" >/dev/null || fail "make install failed"
for f in /usr/include/reexec.h "$libdir/libreexec.so.0" "$libdir/libreexec.so" \
	"$libdir/libreexec.a" "$libdir/pkgconfig/reexec.pc" \
	"$libdir/cmake/reexec/reexecConfig.cmake" \
	"$libdir/cmake/reexec/reexecConfigVersion.cmake" /usr/share/man/man3/reexec.3; do
	[ -e "$stage$f" ] || fail "$f is not installed"
done
grep -qx "libdir=$libdir" "$stage$libdir/pkgconfig/reexec.pc" ||
	fail "reexec.pc does not name $libdir"

# The requests the version file refuses, then the ones it accepts, all
# from the staged tree.
mkdir "$tmp/app"
cp examples/tour.c "$tmp/app/"
cat >"$tmp/app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(consumer C)
set(refused 1.0 0.2 0.1.1)
if(NOT CMAKE_VERSION VERSION_LESS 3.19)
  list(APPEND refused 0.2...<1 0.0...0.0.9)
endif()
foreach(v IN LISTS refused)
  find_package(reexec ${v} QUIET)
  if(reexec_FOUND)
    message(FATAL_ERROR "find_package(reexec ${v}) accepted ${reexec_VERSION}")
  endif()
endforeach()
if(NOT CMAKE_VERSION VERSION_LESS 3.19)
  find_package(reexec 0.1...<1 REQUIRED)
endif()
find_package(reexec 0.1.0 EXACT REQUIRED)
find_package(reexec 0.1 REQUIRED)
if(NOT reexec_DIR STREQUAL STAGED_DIR)
  message(FATAL_ERROR "found ${reexec_DIR}, not ${STAGED_DIR}")
endif()
add_executable(tour tour.c)
target_link_libraries(tour PRIVATE reexec::reexec)
add_executable(tour_static tour.c)
target_link_libraries(tour_static PRIVATE reexec::reexec_static)
CMAKE

log="$tmp/log"
cmake -S "$tmp/app" -B "$tmp/app/build" -DCMAKE_PREFIX_PATH="$stage/usr" \
	-DSTAGED_DIR="$stage$libdir/cmake/reexec" >"$log" 2>&1 &&
	cmake --build "$tmp/app/build" >>"$log" 2>&1 ||
	{ cat "$log"; fail "the CMake project did not build"; }

needs() { readelf -d "$1" | grep -q 'NEEDED.*\[libreexec\.so\.0\]'; }
needs "$tmp/app/build/tour" || fail "reexec::reexec did not link libreexec.so.0"
! needs "$tmp/app/build/tour_static" || fail "reexec::reexec_static links libreexec.so.0"
LD_LIBRARY_PATH="$stage$libdir" "$tmp/app/build/tour" | grep -q '^exit status 7$' ||
	fail "the program linked to reexec::reexec failed"
"$tmp/app/build/tour_static" | grep -q '^exit status 7$' ||
	fail "the program linked to reexec::reexec_static failed"
