# Thin wrapper over CMake: `make demo`, `make test`, `make bench`, `make conform`, `make tune`. Each installs what is
# missing first. CI (.ci/run) also runs the checks below `make test`: test-sanitize, test-tsan, test-clang.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
CLANG_BUILD ?= build-clang
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# The ggml adapter (lowbit inside llama.cpp) and its tests: the first configure builds the pinned engine once per
# machine (tools/install-engine.sh, ~10-35 min on 2 cores, cached outside the clone). GGML=OFF leaves it out.
GGML ?= ON
GGML_FLAGS = -DLOWBIT_GGML=$(GGML) -DLOWBIT_GGML_INSTALL_ENGINE=$(GGML)
# CI builds with warnings as errors and refuses to build without the OpenCL and Vulkan plugins.
ifeq ($(CI),true)
CMAKE_FLAGS += -DLOWBIT_WERROR=ON -DLOWBIT_REQUIRE_BACKENDS=ON
endif

.PHONY: all deps configure build demo test test-sanitize test-tsan test-clang bench bench-dot bench-engine conform tune install clean format

all: build

deps:
	@sh tools/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(GGML_FLAGS) $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# Gemma 3 270M generating text through llama.cpp, stock and with lowbit on each device (tokens/s side by side),
# then the synthetic GEMV table.
demo: build
ifeq ($(GGML),ON)
	sh tools/demo-engine.sh $(BUILD)
endif
	$(BUILD)/bin/lowbit-demo

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (halt on the first report, leaks
# checked; the options and the lavapipe/Python handling are in tests/sanitize.cmake), in its own build tree.
test-sanitize: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOWBIT_SANITIZE=address $(CMAKE_FLAGS)
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer over the concurrency test (8 threads on the CPU, PoCL and lavapipe): only that test and the
# plugins are built.
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOWBIT_SANITIZE=thread $(CMAKE_FLAGS)
	cmake --build $(TSAN_BUILD) -j $(JOBS) --target test_concurrency lowbit-opencl lowbit-vulkan
	cd $(TSAN_BUILD) && ctest --output-on-failure -R '^test_concurrency$$'

# Everything built by clang with warnings as errors, plus the libFuzzer harnesses and a short fuzz run of
# each reader from its seed corpus (tests/fuzz/).
test-clang: deps
	cmake -S . -B $(CLANG_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Release -DLOWBIT_WERROR=ON \
		-DLOWBIT_FUZZ=ON $(CMAKE_FLAGS)
	cmake --build $(CLANG_BUILD) -j $(JOBS)
	cd $(CLANG_BUILD) && ctest --output-on-failure -j $(JOBS) -L fuzz

# the default benchmark set: table on stdout, build/bench.json and build/bench.png
bench: build
	$(BUILD)/bin/lowbit-bench --json $(BUILD)/bench.json --plot $(BUILD)/bench.png
	@echo "wrote $(BUILD)/bench.json and $(BUILD)/bench.png"

# the float and integer-dot paths side by side on DRAM-sized shapes (lowbit-bench --dot), then lowbit's CPU backend
# beside ggml-cpu on the same shapes through the pinned engine's test-backend-ops perf (tools/bench-ggml-ops.py)
bench-dot: build
	$(BUILD)/bin/lowbit-bench --dot float,int --format Q4_0,Q4_K,Q6_K,Q8_0,IQ4_XS --shape 4096x14336,14336x4096 \
		--n 1,8,64 --json $(BUILD)/bench-dot.json
	python3 tools/bench-ggml-ops.py $(BUILD) --formats q4_0,q4_k,q6_k,q8_0,iq4_xs --n 1,8 --json $(BUILD)/bench-ggml-ops.json

# llama-bench through the pinned llama.cpp: stock, with lowbit on each device, and the ggml-vulkan peer (built
# once by tools/install-peer.sh, ~25 min on 2 cores); a Markdown table on stdout, records in build/bench-engine.json
bench-engine: build
	sh tools/install-peer.sh
	venv=$$(sed -n 's/^LOWBIT_VENV:PATH=//p' $(BUILD)/CMakeCache.txt) && \
	flock "$$venv.lock" sh tests/oracle/make-venv.sh python3 "$$venv" tests/oracle/requirements.txt >/dev/null && \
	"$$venv/bin/python" tools/bench-engine.py $(BUILD) --json $(BUILD)/bench-engine.json

# the full conformance suite on every device, with JUnit and JSON reports in build/
conform: build
	$(BUILD)/bin/lowbit-conform --full --junit $(BUILD)/conform.xml --json $(BUILD)/conform.json

# tunes every device for the default set and writes the user tuning database (<cache>/tuning/, docs/tuning.md) that
# every later lowbit context reads; resumable (run it again after an interruption)
tune: build
	$(BUILD)/bin/lowbit-tune --json $(BUILD)/tune.json --plot $(BUILD)/tune.png
	@echo "wrote $(BUILD)/tune.json and $(BUILD)/tune.png"

# library, headers, plugins, tools, lowbit.pc and the CMake package under PREFIX (DESTDIR stages a package)
PREFIX ?= /usr/local
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

clean:
	rm -rf $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
