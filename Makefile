# Thin wrapper over CMake: `make demo`, `make test`, `make bench`, `make conform`. Each installs what is
# missing first.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# CI builds with warnings as errors and refuses to build without the OpenCL and Vulkan plugins.
ifeq ($(CI),true)
CMAKE_FLAGS += -DLOWBIT_WERROR=ON -DLOWBIT_REQUIRE_BACKENDS=ON
endif

.PHONY: all deps configure build demo test bench conform install clean format

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

# the default benchmark set: table on stdout, build/bench.json and build/bench.png
bench: build
	$(BUILD)/bin/lowbit-bench --json $(BUILD)/bench.json --plot $(BUILD)/bench.png
	@echo "wrote $(BUILD)/bench.json and $(BUILD)/bench.png"

# the full conformance suite on every device, with JUnit and JSON reports in build/
conform: build
	$(BUILD)/bin/lowbit-conform --full --junit $(BUILD)/conform.xml --json $(BUILD)/conform.json

# library, headers, plugins, tools, lowbit.pc and the CMake package under PREFIX (DESTDIR stages a package)
PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
