# mk/peers.mk — `make bench-peers`: focalgrad side by side with PyTorch and libtorch (issue 7).
#
#   make bench-peers                       install the peers if missing, build, run all, write bench/RESULTS.md
#   make bench-peers PEERS_ARGS=--quick    fewer repetitions, no RESULTS.md (development)
#
# The peers are the Debian packages python3-torch and libtorch-dev; bench/peers/ holds the
# workloads for each, bench/peers/run_peers.py runs them and prints one table. The libtorch
# peer is built only here, never by the plain `make` (which globs bench/*.cpp, not bench/peers/).
# The focalgrad side, build/bin/bench_peers_focalgrad, is built from bench/bench_peers_focalgrad.cpp
# when that file exists; until then its column reads "—".

PEERS_BIN      := $(BIN)
PEERS_MNIST    ?= $(abspath ../shared/data/mnist)
PEERS_PYTHON   ?= /usr/bin/python3
PEERS_ARGS     ?=

# Flags from Torch's CMake config (/usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake):
# the C++ API headers live outside /usr/include proper, and Debian builds libtorch with the
# C++11 libstdc++ ABI. -isystem keeps the library's own headers out of our -Wall -Wextra.
TORCH_CXXFLAGS := -std=c++17 -O2 -Wall -Wextra -D_GLIBCXX_USE_CXX11_ABI=1 \
                  -isystem /usr/include/torch/csrc/api/include
TORCH_LDLIBS   := -ltorch -ltorch_cpu -lc10 -lz

.PHONY: bench-peers peers-setup

peers-setup:
	@bash scripts/setup.sh python3-torch libtorch-dev

# Order-only on the setup: the package check runs first, but does not force a rebuild.
$(PEERS_BIN)/libtorch_peer: bench/peers/libtorch_peer.cpp | peers-setup
	@mkdir -p $(@D)
	$(CXX) $(TORCH_CXXFLAGS) $< $(TORCH_LDLIBS) -o $@

bench-peers: $(PEERS_BIN)/libtorch_peer
ifneq ($(wildcard bench/bench_peers_focalgrad.cpp),)
	$(MAKE) $(PEERS_BIN)/bench_peers_focalgrad
endif
	MNIST_DIR=$${MNIST_DIR:-$(PEERS_MNIST)} $(PEERS_PYTHON) bench/peers/run_peers.py \
	    --python $(PEERS_PYTHON) --libtorch $(PEERS_BIN)/libtorch_peer \
	    --focalgrad $(PEERS_BIN)/bench_peers_focalgrad --invoked-as "make bench-peers$(if $(PEERS_ARGS), PEERS_ARGS='$(PEERS_ARGS)')" $(PEERS_ARGS)
