# mk/exercises.mk — the exercises of docs/exercises.md.
#
#   make exercises        build your versions (exercises/exN_*.cpp), say which pass
#   make exercises N=3    build and run exercise 3 only, with its tests' full output
#
# Exercise N is exercises/exN_NAME.cpp (yours: it starts as a stub that throws), its tests
# exercises/exN_NAME_test.cpp, a solution exercises/solutions/exN_NAME.cpp and, for 1-5, a
# plausible wrong solution exercises/wrong/exN_NAME.cpp. One small binary per exercise and
# version ($(BUILD)/exercises/exN_NAME_yours, _solution, _wrong), all linking the same test
# object. `make test` runs exercises-check: every solution passes its tests, every wrong one
# fails them, and so does every exercise file that is still a stub (yours, once you have
# started one, is left to `make exercises`).

EX_TESTS := $(sort $(wildcard exercises/ex*_test.cpp))
EX_NAMES := $(patsubst exercises/%_test.cpp,%,$(EX_TESTS))
EX_WRONG := $(patsubst exercises/wrong/%.cpp,%,$(wildcard exercises/wrong/ex*.cpp))
EX_STUBS := $(patsubst exercises/%.cpp,%,$(shell grep -l 'throw NotImplemented' $(EX_NAMES:%=exercises/%.cpp) 2>/dev/null))
EX_PICK  := $(if $(N),$(filter ex$(N)_%,$(EX_NAMES)),$(EX_NAMES))
EX_BIN   := $(BUILD)/exercises
EX_OBJ   := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(EX_TESTS) $(EX_NAMES:%=exercises/%.cpp) \
                $(EX_NAMES:%=exercises/solutions/%.cpp) $(EX_WRONG:%=exercises/wrong/%.cpp))

# Compiled like the tests (Makefile, "The tests' own code"): the library is what they call.
$(EX_OBJ): CXXFLAGS := $(TEST_CXXFLAGS)

# $(1) = ex1_tanh, $(2) = yours | solution | wrong, $(3) = the source of that version.
define exercise_binary
$(EX_BIN)/$(1)_$(2): $(BUILD)/obj/exercises/$(1)_test.o $(BUILD)/obj/$(3:.cpp=.o) $(BUILD)/obj/tests/main.o $(LIB)
	@mkdir -p $$(@D)
	$$(CXX) $$(CXXFLAGS) $$^ $$(LDLIBS) -o $$@
endef
$(foreach e,$(EX_NAMES),$(eval $(call exercise_binary,$(e),yours,exercises/$(e).cpp)))
$(foreach e,$(EX_NAMES),$(eval $(call exercise_binary,$(e),solution,exercises/solutions/$(e).cpp)))
$(foreach e,$(EX_WRONG),$(eval $(call exercise_binary,$(e),wrong,exercises/wrong/$(e).cpp)))

.PHONY: exercises exercises-check

ifneq ($(filter exercises,$(MAKECMDGOALS)),)
  ifeq ($(EX_PICK),)
    $(error make exercises N=$(N): there is no exercise $(N); they are $(EX_NAMES))
  endif
endif

# Your versions are built one by one, so that one that does not compile does not hide the others.
exercises: $(CONFIG) | $(INCLUDE)/focalgrad
	+@bash scripts/exercises.sh report "$(MAKE)" "$(EX_BIN)" "$(if $(N),verbose,)" $(EX_PICK)

exercises-check: $(EX_NAMES:%=$(EX_BIN)/%_solution) $(EX_WRONG:%=$(EX_BIN)/%_wrong) $(EX_STUBS:%=$(EX_BIN)/%_yours)
	@$(RUN_ENV) bash scripts/exercises.sh check "$(EX_BIN)" "$(EX_NAMES)" "$(EX_WRONG)" "$(EX_STUBS)"

test: exercises-check

-include $(EX_OBJ:.o=.d)
