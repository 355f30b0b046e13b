# The two commands of README.md, and the steps they are made of.
.PHONY: demo test bench deps base tree build selftests export vm-run clean

demo: build
	scripts/vm-run -t 300 build/demo/gmem_demo

test:
	scripts/run-tests

# Ratios, not times: in-place conversion against the base's destructive path.
bench: build
	scripts/vm-run -t 900 build/bench/gmem_convert_bench

deps:
	scripts/install-deps

base: deps
	scripts/fetch-base >/dev/null

tree: base
	scripts/make-tree

build: tree
	scripts/build-kernel
	scripts/build-selftests

export:
	scripts/export-series

clean:
	rm -rf build
