#!/bin/sh
# vulkan-validation.sh [--expect-errors] LOG PROGRAM [ARGS...] — runs one program under the Khronos validation
# layer, synchronization validation included, and fails on any validation message (a VUID, a "Validation Error",
# a SYNC-HAZARD; loader messages do not count), when the program fails, and when it never had the layer. The
# program's output is kept in LOG; the messages found are printed. Registered by tests/validation.cmake.
# --expect-errors turns it around for the harness's self-test: pass only when both a VUID and a SYNC-HAZARD were
# reported. Outside CI a missing layer skips (77); under CI=true it fails.
set -u
expect_errors=0
if [ "$1" = --expect-errors ]; then
    expect_errors=1
    shift
fi
log=$1
shift

layer_found=0
for dir in $(echo "${XDG_DATA_DIRS:-/usr/local/share:/usr/share}:/etc" | tr ':' ' '); do
    [ -f "$dir/vulkan/explicit_layer.d/VkLayer_khronos_validation.json" ] && layer_found=1
done
if [ "$layer_found" = 0 ]; then
    echo "vulkan-validation: VK_LAYER_KHRONOS_validation is not installed (Debian: vulkan-validationlayers)"
    [ "${CI:-}" = true ] && exit 1
    exit 77
fi

# The layer goes into every instance through the loader's list, so test cases that unset
# LOWBIT_VULKAN_VALIDATION still run under it; it prints every message on stdout whatever the program does with
# its own log. Where the plugin sees LOWBIT_VULKAN_VALIDATION=1 it also installs its debug messenger (each
# message then reaches lowbit's log as an error too). Synchronization validation on; no repeat limit. The
# loader's layer log is the proof that the layer sat in a device's chain.
export VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation
export VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT
export VK_LAYER_DUPLICATE_MESSAGE_LIMIT=0
export VK_LOADER_DEBUG=layer
export LOWBIT_VULKAN_VALIDATION=1

mkdir -p "$(dirname "$log")"
"$@" >"$log" 2>&1
rc=$?
pattern='VUID-|Validation Error|SYNC-HAZARD'
messages=$(grep -c -E "$pattern" "$log")
echo "vulkan-validation: $* -> exit $rc, $messages validation messages (output: $log)"
status=0
if [ "$expect_errors" = 1 ]; then
    [ "$rc" = 77 ] && [ "${CI:-}" != true ] && exit 77
    if [ "$rc" -ne 0 ] || ! grep -q 'VUID-' "$log" || ! grep -q 'SYNC-HAZARD' "$log"; then
        echo "vulkan-validation: the self-test expected a VUID and a SYNC-HAZARD report: the layer is not validating"
        cat "$log"
        exit 1
    fi
    exit 0
fi
if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log"
    status=1
fi
if [ "$messages" -ne 0 ]; then
    grep -E "$pattern" "$log" | sort | uniq -c | sort -rn | head -n 20
    status=1
fi
if ! grep -q 'Inserted device layer "VK_LAYER_KHRONOS_validation"' "$log"; then
    echo "vulkan-validation: $(basename "$1") never created a Vulkan device under the validation layer"
    status=1
fi
exit "$status"
