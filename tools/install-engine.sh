#!/bin/sh
# install-engine.sh — fetches the pinned engine (llama.cpp from the PyPI sdist of llama-cpp-python) into a
# cache folder outside the clone and builds what lowbit's ggml adapter and its tests need. Idempotent.
#
#   tools/install-engine.sh           fetch + build once; later runs print the folders and do nothing
#   tools/install-engine.sh --where   print LOWBIT_ENGINE_SOURCE=… and LOWBIT_ENGINE_BUILD=… of a finished
#                                     build (exit 1 when there is none); builds nothing
#   tools/install-engine.sh --fetch   download and unpack the source only
#
# The engine's source is never copied into the clone. Cache: $LOWBIT_ENGINE_CACHE, else
# $XDG_CACHE_HOME/lowbit/engine, else ~/.cache/lowbit/engine; one folder per pinned version. The build
# folder is keyed by the machine and its CPU flags, because ggml builds with -march=native: a cache shared
# between different CPUs gets one build per CPU kind instead of one that faults with SIGILL.
set -eu

ENGINE_PACKAGE=llama-cpp-python
ENGINE_VERSION=0.3.36
ENGINE_TARGETS="ggml ggml-base ggml-cpu llama test-backend-ops llama-completion llama-bench llama-perplexity llama-quantize llama-imatrix"
# the programs that must exist afterwards; the stamp records them, so a cache built for an older list
# builds the missing ones (incrementally) instead of being taken as finished
ENGINE_PROGRAMS="test-backend-ops llama-completion llama-bench llama-perplexity llama-quantize llama-imatrix"
JOBS=${LOWBIT_ENGINE_JOBS:-2}

cache_root=${LOWBIT_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lowbit/engine}
cache=$cache_root/$ENGINE_PACKAGE-$ENGINE_VERSION
source_dir=$cache/src/vendor/llama.cpp

cpu_key() {
    # the CPU flags decide what -march=native emits; hash them so one cache serves several machine kinds
    flags=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null | sed 's/.*://' | tr ' ' '\n' | sort | tr '\n' ' ')
    printf '%s' "$flags" | cksum | cut -d' ' -f1
}
build_dir=$cache/build-$(uname -m)-$(cpu_key)
stamp=$build_dir/.lowbit-engine-built
# finished = the stamp exists and names every program of ENGINE_PROGRAMS
built() {
    [ -f "$stamp" ] && grep -q "programs: $ENGINE_PROGRAMS\$" "$stamp"
}

say() { printf 'install-engine: %s\n' "$*"; }
where() {
    printf 'LOWBIT_ENGINE_SOURCE=%s\nLOWBIT_ENGINE_BUILD=%s\n' "$source_dir" "$build_dir"
}

if [ "${1:-}" = "--where" ]; then
    built || { say "no finished build under $build_dir (run tools/install-engine.sh)" >&2; exit 1; }
    where
    exit 0
fi
fetch_only=""
if [ "${1:-}" = "--fetch" ]; then
    fetch_only=1
    shift
fi
if [ $# -gt 0 ]; then
    echo "usage: $0 [--where | --fetch]" >&2
    exit 2
fi

if built && [ -z "$fetch_only" ]; then
    say "already built ($ENGINE_PACKAGE $ENGINE_VERSION)"
    where
    exit 0
fi

missing=""
for tool in cc c++ cmake make tar python3; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    say "missing:$missing (Debian: apt-get install build-essential cmake python3 python3-venv)" >&2
    exit 1
fi

mkdir -p "$cache"
# One builder per cache folder: a second run (another CI job) waits, then finds the stamp.
if command -v flock >/dev/null 2>&1 && [ -z "${LOWBIT_ENGINE_LOCKED:-}" ]; then
    say "waiting for the cache lock $cache/.lock"
    LOWBIT_ENGINE_LOCKED=1 exec flock "$cache/.lock" sh "$0" ${fetch_only:+--fetch}
fi
if built && [ -z "$fetch_only" ]; then
    say "already built ($ENGINE_PACKAGE $ENGINE_VERSION)"
    where
    exit 0
fi

started=$(date +%s)

if [ ! -f "$cache/src/.lowbit-unpacked" ]; then
    say "downloading the $ENGINE_PACKAGE $ENGINE_VERSION sdist from PyPI"
    # Debian's python3 has no pip unless python3-pip is installed; python3-venv brings one into a venv
    if python3 -m pip --version >/dev/null 2>&1; then
        pip="python3 -m pip"
    else
        [ -x "$cache_root/pip-venv/bin/pip" ] || python3 -m venv "$cache_root/pip-venv" || {
            say "python3 has neither pip nor venv (Debian: apt-get install python3-venv)" >&2
            exit 1
        }
        pip="$cache_root/pip-venv/bin/pip"
    fi
    rm -rf "$cache/download" "$cache/src" "$cache/src.tmp"
    mkdir -p "$cache/download" "$cache/src.tmp"
    # --no-binary for the engine only: with :all: pip also builds the sdist's build backend (and its
    # backends, recursively) from source just to read the engine's metadata
    $pip download --no-deps --no-binary "$ENGINE_PACKAGE" --index-url https://pypi.org/simple \
        -d "$cache/download" "$ENGINE_PACKAGE==$ENGINE_VERSION"
    archive=$(ls "$cache"/download/*.tar.gz | head -n 1)
    say "unpacking $(basename "$archive")"
    tar -xzf "$archive" -C "$cache/src.tmp" --strip-components=1
    [ -f "$cache/src.tmp/vendor/llama.cpp/ggml/CMakeLists.txt" ] || {
        say "the sdist holds no vendor/llama.cpp/ggml" >&2
        exit 1
    }
    touch "$cache/src.tmp/.lowbit-unpacked"
    mv "$cache/src.tmp" "$cache/src"
    rm -rf "$cache/download"
fi
if [ -n "$fetch_only" ]; then
    printf 'LOWBIT_ENGINE_SOURCE=%s\n' "$source_dir"
    exit 0
fi

say "configuring $build_dir"
cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=ON -DGGML_CCACHE=OFF \
    -DLLAMA_BUILD_TESTS=ON -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF >"$build_dir.configure.log" 2>&1 || {
    tail -n 30 "$build_dir.configure.log" >&2
    say "configure failed (log: $build_dir.configure.log)" >&2
    exit 1
}

say "building $ENGINE_TARGETS with -j$JOBS (about 10-15 minutes on 2 cores)"
# shellcheck disable=SC2086
nice -n 10 cmake --build "$build_dir" -j "$JOBS" --target $ENGINE_TARGETS

for program in $ENGINE_PROGRAMS; do
    [ -x "$build_dir/bin/$program" ] || { say "$program was not built" >&2; exit 1; }
done
finished=$(date +%s)
printf '%s %s built in %ss\nprograms: %s\n' "$ENGINE_PACKAGE" "$ENGINE_VERSION" "$((finished - started))" \
    "$ENGINE_PROGRAMS" >"$stamp"
say "done in $((finished - started)) s"
where
