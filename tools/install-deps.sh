#!/bin/sh
# install-deps.sh — installs the Debian packages lowbit builds, tests and benchmarks with, only when one
# is missing (idempotent: a second run changes nothing and needs no network). clang and its runtimes
# (libFuzzer, sanitizers) are for `make test-clang`; glslang-tools and spirv-headers for the ggml-vulkan peer
# of the engine benchmarks (tools/install-peer.sh).
set -eu

PACKAGES="build-essential cmake pkg-config python3 python3-venv \
pocl-opencl-icd ocl-icd-opencl-dev opencl-headers clinfo \
libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools glslc spirv-tools \
glslang-tools spirv-headers \
libcmocka-dev gnuplot-nox \
clang libclang-rt-14-dev"

missing=""
for package in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $package"
    fi
done

if [ -z "$missing" ]; then
    echo "install-deps: all packages present"
    exit 0
fi

echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
        echo "install-deps: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
else
    SUDO=""
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
