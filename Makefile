# focalgrad — build, test, demo, bench, install.
#
#   make                  library (build/libfocalgrad.a) + every examples/*.cpp and bench/*.cpp
#   make test             build and run all tests; ends with "tests: N passed, M failed"
#   make test SANITIZE=1  the same under AddressSanitizer + UBSan, in build-asan/
#   make demo             the imbalanced-MNIST study (examples/imbalanced_mnist.cpp)
#   make demo-dense       the dense-detection study (examples/dense_digits.cpp), <= 5 minutes
#   make bench            focalgrad's own benchmarks, one table (with a NATIVE=1 column)
#   make format           clang-format every tracked .cpp and .h (.ci/run checks it)
#   make lib              the library only (and the package files for using it uninstalled)
#   make install PREFIX=  the library, headers, focalgrad.pc, CMake config (mk/install.mk);
#                         make uninstall, make check-install
#   make clean
#
# Sources are found by glob: a new .cpp in one of the LIB_DIRS (or in its internal/
# subfolder) joins the library, a new tests/*.cpp joins the test binary, a new
# examples/*.cpp or bench/*.cpp becomes a program. Missing system packages are installed
# by scripts/setup.sh. Both cores are used by default (-j$(nproc)); `make -j1` overrides.
#
# Which CPU the code is built for (README "Build flavours"); each flag set has its own
# build directory, so objects built with different flags never mix:
#   make              -O3 -march=x86-64-v3 (AVX2, FMA: x86-64 CPUs since about 2013-2015)  build/
#   make NATIVE=1     -O3 -march=native (this machine's CPU, whatever it has)               build-native/
#   make PORTABLE=1   -O3 -march=x86-64-v2 (SSE4.2, no AVX: x86-64 CPUs since about 2009)   build-portable/
#   SANITIZE=1        -O1 -g1, ASan + UBSan, with the ISA of the flavour above               build[-native|-portable]-asan/

# The library's folders: a new library folder is one more word here.
LIB_DIRS := core nn losses optim data detection report train

NATIVE   ?= 0
PORTABLE ?= 0
SANITIZE ?= 0
ifeq ($(NATIVE)$(PORTABLE),11)
  $(error NATIVE=1 and PORTABLE=1 contradict each other: pick one)
endif
ifeq ($(NATIVE),1)
  ARCH   := -march=native
  FLAVOR := -native
else ifeq ($(PORTABLE),1)
  ARCH   := -march=x86-64-v2
  FLAVOR := -portable
else
  ARCH   := -march=x86-64-v3
  FLAVOR :=
endif

# OPT is the library's and the programs' optimisation; TEST_OPT that of the tests' own code
# (see "The tests' own code" below).
ifeq ($(SANITIZE),1)
  BUILD    := build$(FLAVOR)-asan
  # -g1: line tables, all that the sanitizers' reports need (file:line in every frame), and
  # a fifth less compile time than -g's full debug information.
  SAN      := -g1 -fno-omit-frame-pointer -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all
  OPT      := -O1 $(ARCH) $(SAN)
  TEST_OPT := -O0 $(ARCH) $(SAN)
  SAN_LD   := -fsanitize=address,undefined,float-cast-overflow
  # Leak checking on.
  RUN_ENV  := ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
else
  BUILD    := build$(FLAVOR)
  OPT      := -O3 $(ARCH)
  TEST_OPT := -O1 $(ARCH)
  SAN_LD   :=
  RUN_ENV  :=
endif

# Both cores by default. Only the top-level make adds -j: a recursive $(MAKE) shares its
# parent's job slots, and a -j given on the command line wins.
ifeq ($(MAKELEVEL),0)
  ifeq ($(filter -j%,$(MAKEFLAGS)),)
    MAKEFLAGS += -j$(shell nproc)
  endif
endif

CXX      ?= g++
# The one include root: $(BUILD)/include/focalgrad is a symlink to this checkout, so every
# source includes <focalgrad/core/ops.h>, exactly as a user of the installed library does,
# and a user's own core/ or data/ folder can never shadow a focalgrad header.
INCLUDE  := $(BUILD)/include
CXXFLAGS_REST := -pthread -Wall -Wextra -I$(INCLUDE) -MMD -MP
CXXFLAGS      := -std=c++17 $(OPT) $(CXXFLAGS_REST)
TEST_CXXFLAGS := -std=c++17 $(TEST_OPT) $(CXXFLAGS_REST)
LIB      := $(BUILD)/libfocalgrad.a
BIN      := $(BUILD)/bin

LIB_SRC   := $(wildcard $(addsuffix /*.cpp,$(LIB_DIRS)) $(addsuffix /internal/*.cpp,$(LIB_DIRS)))
TEST_SRC  := $(wildcard tests/*.cpp)
PROG_SRC  := $(wildcard examples/*.cpp bench/*.cpp)
LIB_OBJ   := $(LIB_SRC:%.cpp=$(BUILD)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.cpp=$(BUILD)/obj/%.o)
PROG_OBJ  := $(PROG_SRC:%.cpp=$(BUILD)/obj/%.o)
PROGRAMS  := $(addprefix $(BIN)/,$(notdir $(PROG_SRC:.cpp=)))
TEST_BIN  := $(BIN)/focalgrad_tests

# Compiler and linker flags of the system libraries, written by the rule below once
# scripts/setup.sh has made sure the packages are there.
CONFIG := $(BUILD)/config.mk
ifeq ($(filter clean,$(MAKECMDGOALS)),)
  -include $(CONFIG)
endif
LDLIBS = $(BLAS_LIBS) -lz -pthread $(SAN_LD)

.PHONY: all lib test demo demo-dense bench clean setup format
.DEFAULT_GOAL := all

all: $(LIB) $(PROGRAMS)
lib: $(LIB)

$(CONFIG): scripts/setup.sh
	@bash scripts/setup.sh
	@mkdir -p $(@D)
	@echo "BLAS_CFLAGS := $$(pkg-config --cflags openblas)" > $@.tmp
	@echo "BLAS_LIBS := $$(pkg-config --libs openblas)" >> $@.tmp
	@mv $@.tmp $@

setup:
	@bash scripts/setup.sh

$(INCLUDE)/focalgrad:
	@mkdir -p $(@D)
	@ln -sfn "$$(realpath --relative-to=$(@D) .)" $@

$(BUILD)/obj/%.o: %.cpp $(CONFIG) | $(INCLUDE)/focalgrad
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(BLAS_CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	@rm -f $@
	ar rcs $@ $^

# Every examples/NAME.cpp and bench/NAME.cpp becomes $(BIN)/NAME.
define program_rule
$(BIN)/$(notdir $(1:.cpp=)): $(BUILD)/obj/$(1:.cpp=.o) $(LIB)
	@mkdir -p $$(@D)
	$$(CXX) $$(CXXFLAGS) $$< $(LIB) $$(LDLIBS) -o $$@
endef
$(foreach src,$(PROG_SRC),$(eval $(call program_rule,$(src))))

# The tests' own code is compiled with less optimisation than the code it tests: at -O3 the
# 68 test files were over half of a clean build's compile time (doctest's assertions expand
# to a lot of code for the optimiser), for no gain, since what runs long in a test is the
# library, which keeps its flags. The exception: tests of inline header code (fast_exp and
# friends, the loss tiles) compile that code into the test itself, so they keep the
# library's flags and check exactly what the library runs.
# The other test files also share one precompiled tests/helpers.h (doctest, <filesystem>,
# the tensor headers): parsing it was about 2 s of every one of them. A test file that
# includes helpers.h itself then finds it already included.
TESTS_OF_INLINE_CODE := tests/test_fastmath.cpp tests/test_loss_tiles.cpp
TEST_PCH     := $(BUILD)/pch/test_helpers.h
TEST_OBJ_PCH := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(filter-out $(TESTS_OF_INLINE_CODE),$(TEST_SRC)))
$(TEST_OBJ_PCH): CXXFLAGS := $(TEST_CXXFLAGS) -include $(TEST_PCH) -Winvalid-pch
$(TEST_OBJ_PCH): $(TEST_PCH).gch

$(TEST_PCH): | $(INCLUDE)/focalgrad
	@mkdir -p $(@D)
	@echo '#include "$(CURDIR)/tests/helpers.h"' > $@
$(TEST_PCH).gch: $(TEST_PCH) $(CONFIG)
	$(CXX) $(TEST_CXXFLAGS) $(BLAS_CFLAGS) -MF $@.d -MT $@ -x c++-header $< -o $@

$(TEST_BIN): $(TEST_OBJ) $(LIB)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) $(TEST_OBJ) $(LIB) $(LDLIBS) -o $@

# The example programs are built first: tests/test_examples_cli.cpp runs them. So are the
# benchmarks, so that a test run catches one that no longer compiles; but only in the
# default and NATIVE=1 builds: nothing in the tests runs them, and under the sanitizers
# they were a sixth of the compile time (`make SANITIZE=1` or `make PORTABLE=1` still
# builds them).
EXAMPLE_PROGRAMS := $(addprefix $(BIN)/,$(notdir $(basename $(wildcard examples/*.cpp))))
test: $(TEST_BIN) $(if $(filter 1,$(SANITIZE) $(PORTABLE)),$(EXAMPLE_PROGRAMS),$(PROGRAMS))
	@$(RUN_ENV) $(TEST_BIN)

# Only the demo's own program: a first `make demo` compiles no benchmark or test.
demo: $(BIN)/imbalanced_mnist
	@DEMO_BIN=$(BIN)/imbalanced_mnist bash scripts/demo.sh $(ARGS)

# The dense-detection study's default subset, with the same MNIST / Fashion-MNIST fallback.
demo-dense: $(BIN)/dense_digits
	@DEMO_BIN=$(BIN)/dense_digits bash scripts/demo.sh $(ARGS)

# focalgrad's own benchmarks as one table (the peers' comparison is `make bench-peers`).
# In the default build, on a CPU to which -march=native gives more than x86-64-v3 (AVX-512,
# say), the table gets a NATIVE=1 column: the same programs built in build-native/, run
# right after (BENCH_NATIVE=0 leaves it out).
BENCH_PROGRAMS := bench_core bench_losses bench_train bench_dense bench_demo_rss
BENCH_NATIVE ?= 1
isa_macros = echo | $(CXX) $(1) -dM -E - 2>/dev/null | grep -E '__(SSE|AVX|FMA|AMX)' | sort
bench_native_column = $(and $(filter 1000,$(BENCH_NATIVE)$(NATIVE)$(PORTABLE)$(SANITIZE)),$(shell \
    [ "$$($(call isa_macros,-march=native))" != "$$($(call isa_macros,-march=x86-64-v3))" ] && echo 1))
bench: $(addprefix $(BIN)/,$(BENCH_PROGRAMS)) $(BIN)/imbalanced_mnist
	@echo "make bench: $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $$(nproc) cores;" \
	    "build flags $(OPT)$(if $(bench_native_column), (NATIVE=1 column: -O3 -march=native));" \
	    "load average $$(cut -d' ' -f1-3 /proc/loadavg); MNIST_DIR=$${MNIST_DIR:-<not set>}"
	@echo "Every ratio is to a floor measured in this run (docs/performance.md, \"The floors\")."
	@echo
	@set -e; if [ -n "$(bench_native_column)" ]; then \
	    $(MAKE) --no-print-directory NATIVE=1 $(addprefix build-native/bin/,$(BENCH_PROGRAMS) imbalanced_mnist) >&2; \
	    bash scripts/bench.sh $(BIN) build-native/bin -- $(BENCH_PROGRAMS) -- $(ARGS); \
	else bash scripts/bench.sh $(BIN) -- $(BENCH_PROGRAMS) -- $(ARGS); fi
	@echo
	@echo "make bench: done; load average $$(cut -d' ' -f1-3 /proc/loadavg)"

format:
	@git ls-files '*.cpp' '*.h' | xargs $$(command -v clang-format-14 || echo clang-format) -i

clean:
	rm -rf build $(wildcard build-*)

-include $(LIB_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(PROG_OBJ:.o=.d) $(TEST_PCH).gch.d

# Optional targets (fuzzing, peer benchmarks) live in their own fragments.
include $(wildcard mk/*.mk)
