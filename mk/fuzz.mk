# fuzz.mk — coverage-guided fuzzing of the file readers with clang's libFuzzer, under
# AddressSanitizer and UBSan. Every tests/fuzz/fuzz_NAME.cpp is a target (found by glob),
# built in build-fuzz/ together with the whole library compiled by clang with the same
# sanitizers; its seeds are tests/fuzz/corpus/NAME/, its past findings
# tests/fuzz/regressions/NAME/ (both replayed by `make test`, see tests/fuzz/README.md).
#
#   make fuzz                     every target for FUZZ_SECONDS (60) each, one at a time
#   make fuzz FUZZ_SECONDS=600    longer
#   make fuzz FUZZ_TARGETS=image  only some targets
#   make fuzz-build               build the targets only (build-fuzz/bin/fuzz_NAME)
#
# Needs clang and libFuzzer (Debian: clang, libclang-rt-14-dev) and libomp (libomp-dev).

FUZZ_SECONDS ?= 60
FUZZ_CXX     ?= clang++
FUZZ_BUILD   := build-fuzz
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.cpp)
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.cpp,%,$(FUZZ_SRC))
FUZZ_BINS    := $(patsubst tests/fuzz/%.cpp,$(FUZZ_BUILD)/bin/%,$(FUZZ_SRC))
FUZZ_OBJ     := $(FUZZ_SRC:%.cpp=$(FUZZ_BUILD)/obj/%.o)

# -fno-sanitize-recover: a UBSan report stops the run like an ASan one, so it is a finding.
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CXXFLAGS := -std=c++17 -O1 -g -fno-omit-frame-pointer -pthread -Wall -Wextra -I$(FUZZ_BUILD)/include -MMD -MP \
                 $(FUZZ_SAN)
FUZZ_LIB_OBJ  := $(LIB_SRC:%.cpp=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB      := $(FUZZ_BUILD)/libfocalgrad.a

.PHONY: fuzz fuzz-build fuzz-clean

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@bash tests/fuzz/run_fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BUILD) $(FUZZ_TARGETS)

# The library: instrumented for coverage (fuzzer-no-link) but without libFuzzer's main().
$(FUZZ_BUILD)/include/focalgrad:
	@mkdir -p $(@D)
	@ln -sfn "$$(realpath --relative-to=$(@D) .)" $@

$(FUZZ_BUILD)/obj/%.o: %.cpp $(CONFIG) | $(FUZZ_BUILD)/include/focalgrad
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link $(BLAS_CFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/bin/fuzz_%: $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB) $(BLAS_LIBS) -lz -o $@

# Reached through a pattern rule, so make would delete them as intermediates.
.SECONDARY: $(FUZZ_OBJ)

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

clean: fuzz-clean

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
