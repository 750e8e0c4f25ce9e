#!/bin/sh
# install-peer.sh — builds the peer for the engine benchmarks: the pinned llama.cpp with ggml-vulkan, in the
# engine cache beside tools/install-engine.sh's build. Idempotent; about 25 minutes on 2 cores the first time
# (mostly ggml-vulkan's shader generation).
#
#   tools/install-peer.sh           build once; later runs print the folder and do nothing
#   tools/install-peer.sh --where   print LOWBIT_PEER_BUILD=… of a finished build (exit 1 when there is none)
#
# Debian 12's Vulkan headers (1.3.239) predate VK_EXT_layer_settings, which the pinned ggml-vulkan names when
# it creates its instance (only to turn on the validation layer's best-practice checks, and only when that
# layer offers the extension, which Debian's does not). The peer is therefore built from a copy of the
# engine's source in the cache, in which that settings structure is taken out of the instance create-info
# chain; nothing else changes. The unpacked engine source itself is left as it is.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
JOBS=${LOWBIT_ENGINE_JOBS:-2}
say() { printf 'install-peer: %s\n' "$*"; }

source_dir=$(sh "$here/install-engine.sh" --fetch | sed -n 's/^LOWBIT_ENGINE_SOURCE=//p')
[ -d "$source_dir" ] || { say "no engine source (tools/install-engine.sh --fetch failed)" >&2; exit 1; }
cache=$(dirname "$(dirname "$source_dir")") # …/llama-cpp-python-<version>
flags=$(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null | sed 's/.*://' | tr ' ' '\n' | sort | tr '\n' ' ')
build_dir=$cache/build-vulkan-$(uname -m)-$(printf '%s' "$flags" | cksum | cut -d' ' -f1)
stamp=$build_dir/.lowbit-peer-built

if [ "${1:-}" = "--where" ]; then
    [ -f "$stamp" ] || { say "no finished peer build under $build_dir (run tools/install-peer.sh)" >&2; exit 1; }
    printf 'LOWBIT_PEER_BUILD=%s\n' "$build_dir"
    exit 0
fi
[ $# -eq 0 ] || { echo "usage: $0 [--where]" >&2; exit 2; }
if [ -f "$stamp" ]; then
    say "already built"
    printf 'LOWBIT_PEER_BUILD=%s\n' "$build_dir"
    exit 0
fi
for tool in glslc glslangValidator cmake c++; do
    command -v "$tool" >/dev/null 2>&1 || { say "missing $tool (run tools/install-deps.sh)" >&2; exit 1; }
done
started=$(date +%s)

peer_source=$cache/peer-src
if [ ! -f "$peer_source/.lowbit-patched" ]; then
    say "copying the engine source to $peer_source and taking VK_EXT_layer_settings out of ggml-vulkan"
    rm -rf "$peer_source"
    cp -a "$source_dir" "$peer_source"
    python3 - "$peer_source/ggml/src/ggml-vulkan/ggml-vulkan.cpp" <<'EOF'
import re, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
# the block from the best-practice flag to the settings create-info, and its use in the instance create-info
block = re.compile(r"\n[ \t]*VkBool32 enable_best_practice = layer_settings;.*?vk::LayerSettingsCreateInfoEXT "
                   r"layer_setting_info\(settings\);\n", re.S)
text, blocks = block.subn("\n", text)
text, uses = re.subn(r"extensions, &layer_setting_info\)", "extensions, nullptr)", text)
if blocks != 1 or uses != 1:
    sys.exit(f"install-peer: ggml-vulkan.cpp does not look as expected ({blocks} blocks, {uses} uses)")
open(path, "w", encoding="utf-8").write(text)
EOF
    touch "$peer_source/.lowbit-patched"
fi

say "configuring $build_dir (GGML_VULKAN=ON)"
mkdir -p "$build_dir"
cmake -S "$peer_source" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_NATIVE=ON \
    -DGGML_CCACHE=OFF -DGGML_VULKAN=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF >"$build_dir.configure.log" 2>&1 || {
    tail -n 30 "$build_dir.configure.log" >&2
    say "configure failed (log: $build_dir.configure.log)" >&2
    exit 1
}
say "building llama-bench and llama-completion with ggml-vulkan, -j$JOBS"
nice -n 10 cmake --build "$build_dir" -j "$JOBS" --target llama-bench llama-completion
for program in llama-bench llama-completion; do
    [ -x "$build_dir/bin/$program" ] || { say "$program was not built" >&2; exit 1; }
done
echo "built in $(($(date +%s) - started)) s" >"$stamp"
say "done in $(($(date +%s) - started)) s"
printf 'LOWBIT_PEER_BUILD=%s\n' "$build_dir"
