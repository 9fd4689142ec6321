# docs.mk — every ```cpp block of README.md, docs/*.md and the folders' README.md is
# compiled, and run when it has main(), by `make test` (scripts/doc_blocks.sh; the
# convention is in README.md, "Code in the docs"). The blocks are extracted into
# $(BUILD)/docs, compiled at -O1 with warnings as errors, and checked again only when
# their text or the library changes.

DOC_MD  := README.md $(wildcard docs/*.md */README.md)
DOC_DIR := $(BUILD)/docs
DOC_CXX  = $(CXX) $(filter-out -MMD -MP,$(CXXFLAGS)) $(BLAS_CFLAGS) -O1 -Werror

ifeq ($(filter clean,$(MAKECMDGOALS)),)
$(DOC_DIR)/blocks.mk: $(DOC_MD) scripts/doc_blocks.sh
	@bash scripts/doc_blocks.sh extract $(DOC_DIR) $(DOC_MD)
	@touch $@
-include $(DOC_DIR)/blocks.mk
endif

$(DOC_DIR)/%.ok: $(DOC_DIR)/%.cpp $(LIB) scripts/doc_blocks.sh | $(INCLUDE)/focalgrad
	@DOC_CXX="$(DOC_CXX)" DOC_LIBS="$(LIB) $(LDLIBS)" RUN_ENV="$(RUN_ENV)" bash scripts/doc_blocks.sh check $<

.PHONY: docs-check
docs-check: $(addsuffix .ok,$(DOC_BLOCKS))
test: docs-check
