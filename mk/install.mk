# install.mk — focalgrad as another project sees it (README "Use focalgrad in your own
# project"):
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   the static library, every public header,
#                                                 focalgrad.pc, the CMake package config, LICENSE
#   make uninstall [PREFIX=...] [DESTDIR=...]     removes exactly what install wrote
#   make install NATIVE=1                         installs that flavour's library instead
#   make check-install                            installs into a temporary prefix, builds and runs
#                                                 examples/user_project with pkg-config and CMake
#
# The public headers are focalgrad.h and every .h directly in a LIB_DIRS folder; the headers
# in <dir>/internal/ are not installed. `make lib` also writes package files pointing at this
# checkout, for building a project against it without installing:
# $(BUILD)/pkgconfig/focalgrad-uninstalled.pc and $(BUILD)/cmake/focalgradConfig.cmake.

PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := $(shell sed -n 's/^\#define FOCALGRAD_VERSION "\([^"]*\)".*/\1/p' core/version.h)
PUBLIC_HEADERS := focalgrad.h $(wildcard $(addsuffix /*.h,$(LIB_DIRS)))
PACKAGE_IN     := mk/focalgrad.pc.in mk/focalgradConfig.cmake.in mk/focalgradConfigVersion.cmake.in
IN_TREE        := $(BUILD)/pkgconfig/focalgrad-uninstalled.pc $(BUILD)/cmake/focalgradConfig.cmake \
                  $(BUILD)/cmake/focalgradConfigVersion.cmake

.PHONY: install uninstall check-install

all lib: $(IN_TREE)

$(IN_TREE) &: $(PACKAGE_IN) core/version.h scripts/install.sh
	@bash scripts/install.sh in-tree "$(abspath $(BUILD))" "$(VERSION)"

install: $(LIB)
	@bash scripts/install.sh install "$(DESTDIR)" "$(PREFIX)" "$(VERSION)" $(LIB) $(PUBLIC_HEADERS)

uninstall:
	@bash scripts/install.sh uninstall "$(DESTDIR)" "$(PREFIX)"

# A recursive make (+): the script's own `make install` calls share this make's job slots.
check-install: $(LIB) $(IN_TREE)
	+@MAKE="$(MAKE)" bash scripts/check_install.sh "$(BUILD)"
