# Thin wrapper over CMake: `make demo`, `make test`, `make bench`. Each installs what is missing first.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# CI builds with warnings as errors and refuses to build without the OpenCL and Vulkan plugins.
ifeq ($(CI),true)
CMAKE_FLAGS += -DLOWBIT_WERROR=ON -DLOWBIT_REQUIRE_BACKENDS=ON
endif

.PHONY: all deps configure build demo test bench clean format

all: build

deps:
	@sh tools/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/bin/lowbit-demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/bin/lowbit-demo --repeat 20

clean:
	rm -rf $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
