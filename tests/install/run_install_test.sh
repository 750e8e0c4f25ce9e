#!/bin/sh
# run_install_test.sh — installs the build into a fresh prefix, checks the layout, and builds the consumer
# against that prefix twice: a plain cc command line from pkg-config, and a CMake project through
# find_package(lowbit). Nothing points the runtime at the plugins (no LOWBIT_PLUGIN_PATH, no
# LD_LIBRARY_PATH): the installed library must find them itself, also after the prefix is moved.
# usage: run_install_test.sh CMAKE BUILD_DIR WORK_DIR CC LIBDIR BINDIR [FLAGS]
#   LIBDIR, BINDIR: relative to the prefix; FLAGS: compile and link flags of the consumer (a sanitizer
#   build's liblowbit needs its runtime linked into the program)
set -eu
cmake=$1 build=$2 work=$3 cc=$4 libdir=$5 bindir=$6 flags_extra=${7:-}
here=$(cd "$(dirname "$0")" && pwd)
unset LOWBIT_PLUGIN_PATH LD_LIBRARY_PATH PKG_CONFIG_PATH
die() { echo "install test: $*" >&2; exit 1; }
command -v pkg-config > /dev/null || die "pkg-config not found (tools/install-deps.sh installs it)"

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
"$cmake" --install "$build" --prefix "$prefix" > "$work/install.log" || { cat "$work/install.log"; die "cmake --install failed"; }

# --- layout ------------------------------------------------------------------------------------------
lib=$prefix/$libdir
for file in "$lib/liblowbit.so" "$prefix/include/lowbit/lowbit.h" "$prefix/include/lowbit/lowbit_export.h" \
    "$lib/pkgconfig/lowbit.pc" "$lib/cmake/lowbit/lowbitConfig.cmake" "$lib/cmake/lowbit/lowbitConfigVersion.cmake" \
    "$prefix/$bindir/lowbit-info"; do
    [ -e "$file" ] || die "missing $file"
done
[ -L "$lib/liblowbit.so" ] || die "$lib/liblowbit.so should be the development link to the versioned library"
# test plugins, test programs, helper archives and the white-box library stay in the build tree
leftovers=$(find "$prefix" \( -name '*_plugin*' -o -name 'test_*' -o -name 'gguf_tool' -o -name '*.a' \) -print)
[ -z "$leftovers" ] || die "test or build-only files were installed: $leftovers"
backends=""
for plugin in "$lib"/liblowbit-*.so; do
    [ -e "$plugin" ] || continue
    name=${plugin##*/liblowbit-}
    backends="$backends ${name%.so}"
done
if [ "${CI:-}" = true ]; then
    case " $backends " in *" opencl "*) ;; *) die "CI=true and the OpenCL plugin was not installed";; esac
    case " $backends " in *" vulkan "*) ;; *) die "CI=true and the Vulkan plugin was not installed";; esac
fi
echo "installed plugins:$backends"

# --- the installed tools run from the prefix (RPATH $ORIGIN/../lib) ----------------------------------
"$prefix/$bindir/lowbit-info" > "$work/lowbit-info.txt" || die "installed lowbit-info failed"

# --- consumer through pkg-config -----------------------------------------------------------------------
export PKG_CONFIG_PATH="$lib/pkgconfig"
flags=$(pkg-config --cflags --libs lowbit) || die "pkg-config --cflags --libs lowbit failed"
pc_libdir=$(pkg-config --variable=libdir lowbit)
echo "pkg-config: $flags"
# shellcheck disable=SC2086 # the flags are words
"$cc" -std=c11 -Wall -Wextra -Wpedantic -Werror $flags_extra "$here/consumer.c" -o "$work/consumer-pkgconfig" $flags \
    "-Wl,-rpath,$pc_libdir" || die "building the consumer with pkg-config's flags failed"
echo "--- consumer (pkg-config)"
# shellcheck disable=SC2086
"$work/consumer-pkgconfig" "$lib" $backends || die "the pkg-config consumer failed"

# --- consumer through find_package(lowbit) -----------------------------------------------------------
consumer_build=$work/consumer-cmake
"$cmake" -S "$here" -B "$consumer_build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$flags_extra" -DCMAKE_EXE_LINKER_FLAGS="$flags_extra" \
    > "$work/consumer-configure.log" 2>&1 ||
    { cat "$work/consumer-configure.log"; die "configuring the find_package consumer failed"; }
grep -q "^lowbit_DIR:PATH=$lib/cmake/lowbit\$" "$consumer_build/CMakeCache.txt" ||
    die "find_package(lowbit) found $(grep '^lowbit_DIR' "$consumer_build/CMakeCache.txt"), not the installed package"
"$cmake" --build "$consumer_build" > "$work/consumer-build.log" 2>&1 ||
    { cat "$work/consumer-build.log"; die "building the find_package consumer failed"; }
echo "--- consumer (find_package)"
# shellcheck disable=SC2086
"$consumer_build/consumer" "$lib" $backends || die "the find_package consumer failed"

# --- a moved prefix still works: pkg-config paths follow it, tools find the library and the plugins ------
moved=$work/moved
mv "$prefix" "$moved"
moved_includedir=$(PKG_CONFIG_PATH="$moved/$libdir/pkgconfig" pkg-config --variable=includedir lowbit)
[ "$(cd "$moved_includedir" && pwd -P)" = "$(cd "$moved/include" && pwd -P)" ] ||
    die "lowbit.pc does not follow a moved prefix (includedir $moved_includedir)"
"$moved/$bindir/lowbit-info" > "$work/lowbit-info-moved.txt" || die "lowbit-info fails from a moved prefix"
if [ "${CI:-}" = true ]; then
    grep -q 'opencl:0' "$work/lowbit-info-moved.txt" || die "lowbit-info from a moved prefix lists no OpenCL device"
    grep -q 'vulkan:0' "$work/lowbit-info-moved.txt" || die "lowbit-info from a moved prefix lists no Vulkan device"
fi
echo "install test: ok"
