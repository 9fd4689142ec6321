# mk/scan.mk — `make bench-scan`: how cost grows with the work (bench/bench_scan.cpp, issue 16):
# time per sample against its floor over the MLP's batch size and hidden width and over the
# fused losses' rows, as a table and as a chart in results/bench_scan.svg (git-ignored;
# docs/performance_scan.svg is the copy the docs show). About a minute on a quiet machine.
#   make bench-scan                          SCAN_SVG=docs/performance_scan.svg to refresh the docs' chart

SCAN_SVG ?= results/bench_scan.svg

.PHONY: bench-scan

bench-scan: $(BIN)/bench_scan
	@mkdir -p $(dir $(SCAN_SVG))
	$(BIN)/bench_scan --svg $(SCAN_SVG)
