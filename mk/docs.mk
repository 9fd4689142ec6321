# docs.mk — every ```cpp block of README.md, docs/*.md and the folders' README.md is
# compiled, and run when it has main(), by `make test` (scripts/doc_blocks.sh; the
# convention is in README.md, "Code in the docs"). The blocks are extracted into
# $(BUILD)/docs, compiled at -O1 with warnings as errors, and checked again only when
# their text or the library changes.

DOC_MD  := README.md $(wildcard docs/*.md */README.md)
DOC_DIR := $(BUILD)/docs
DOC_CXX  = $(CXX) $(filter-out -MMD -MP,$(CXXFLAGS)) $(BLAS_CFLAGS) -O1 -Werror
# Printed numbers are compared in the default build only: the other flavours (SANITIZE=1,
# NATIVE=1, PORTABLE=1) generate other code, and a float can differ in its last digits.
DOC_COMPARE_OUTPUT := $(if $(filter 1,$(SANITIZE) $(NATIVE) $(PORTABLE)),0,1)

ifeq ($(filter clean,$(MAKECMDGOALS)),)
$(DOC_DIR)/blocks.mk: $(DOC_MD) scripts/doc_blocks.sh
	@bash scripts/doc_blocks.sh extract $(DOC_DIR) $(DOC_MD)
	@touch $@
-include $(DOC_DIR)/blocks.mk
endif

$(DOC_DIR)/%.ok: $(DOC_DIR)/%.cpp $(LIB) scripts/doc_blocks.sh | $(INCLUDE)/focalgrad
	@DOC_CXX="$(DOC_CXX)" DOC_LIBS="$(LIB) $(LDLIBS)" RUN_ENV="$(RUN_ENV)" \
	    DOC_COMPARE_OUTPUT=$(DOC_COMPARE_OUTPUT) bash scripts/doc_blocks.sh check $<

.PHONY: docs-check
docs-check: $(addsuffix .ok,$(DOC_BLOCKS))
test: docs-check
