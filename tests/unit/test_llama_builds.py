"""Choosing the llama.cpp build (core.llm.builds): the order, the CPU's flags, the probes in a
child process, and what is remembered of them."""

import json
import sys
from pathlib import Path

import pytest

from core.llm import builds
from core.llm.builds import Build, BuildUnavailable

AVX2_CPU = {"sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"}
OLD_CPU = {"sse4_2", "popcnt"}  # x86-64-v2, no AVX (a Nehalem)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache" / "llama-builds.json"
    monkeypatch.setattr(builds, "_cache_file", lambda: path)
    monkeypatch.delenv(builds.CHOICE_ENV, raising=False)
    return path


def folder(root: Path, variant: str) -> Build:
    lib = root / variant
    lib.mkdir(parents=True)
    (lib / "libllama.so").write_bytes(b"not a library")
    (lib / builds.INFO_NAME).write_text(json.dumps({"variant": variant}))
    return Build(variant, lib)


def scripted(monkeypatch: pytest.MonkeyPatch, flags: set[str], answers: dict[str, dict]) -> list:
    """This CPU has `flags`; the probe of each variant answers as `answers` says."""
    probed: list[str] = []

    def probe(build: Build) -> dict:
        probed.append(build.variant)
        return answers.get(build.variant, {"ok": True, "device": "", "why": ""})

    monkeypatch.setattr(builds, "cpu_flags", lambda: flags)
    monkeypatch.setattr(builds, "probe", probe)
    return probed


def test_a_bundles_builds_are_its_folders_that_say_what_they_are(tmp_path: Path) -> None:
    for variant in ("cpu-avx2", "vulkan"):
        folder(tmp_path, variant)
    (tmp_path / "stray").mkdir()  # no mnemo-build.json: not a build
    found = builds.bundled(tmp_path)
    assert [(b.variant, b.gpu) for b in found] == [("cpu-avx2", False), ("vulkan", True)]


def test_a_gpu_build_whose_probe_finds_a_device_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = [folder(tmp_path, v) for v in ("cpu-avx2", "cpu-compat", "vulkan")]
    gpu = {"vulkan": {"ok": True, "device": "llvmpipe (LLVM 15.0.6, 256 bits)", "why": ""}}
    scripted(monkeypatch, AVX2_CPU, gpu)
    chosen = builds.choose(builds=here)
    assert chosen.build.variant == "vulkan"
    assert chosen.label == "Vulkan: llvmpipe (LLVM 15.0.6, 256 bits)"


def test_without_a_gpu_the_best_cpu_build_for_this_cpu_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = [folder(tmp_path, v) for v in ("cpu-compat", "cpu-avx2", "vulkan")]
    no_gpu = {"vulkan": {"ok": False, "device": "", "why": "no GPU device found"}}
    scripted(monkeypatch, AVX2_CPU, no_gpu)
    chosen = builds.choose(builds=here)
    assert chosen.label == "CPU (AVX2)"
    assert "Vulkan: no GPU device found" in chosen.why

    # A CPU without AVX: neither the AVX2 build nor the GPU build (its CPU part needs AVX2)
    # is tried; the compatible one is.
    monkeypatch.setattr(builds, "_read_cache", dict)
    probed = scripted(monkeypatch, OLD_CPU, {})
    chosen = builds.choose(builds=here)
    assert chosen.build.variant == "cpu-compat" and probed == ["cpu-compat"]
    assert "CPU (AVX2): this CPU lacks avx, avx2, fma, f16c, bmi2" in chosen.why
    assert "Vulkan: this CPU lacks avx, avx2, fma, f16c, bmi2" in chosen.why


def test_a_build_chosen_by_name_that_cannot_run_here_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = [folder(tmp_path, v) for v in ("cpu-avx2", "cpu-compat")]
    scripted(monkeypatch, OLD_CPU, {})
    with pytest.raises(BuildUnavailable, match="cannot run on this CPU: it lacks avx, avx2"):
        builds.choose("cpu-avx2", builds=here)
    with pytest.raises(BuildUnavailable, match=r"no llama.cpp build 'cuda' here"):
        builds.choose("cuda", builds=here)
    monkeypatch.setenv(builds.CHOICE_ENV, "cpu-compat")
    assert builds.choose(builds=here).build.variant == "cpu-compat"


def test_a_build_that_kills_its_probe_is_remembered_as_bad_and_not_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path
) -> None:
    """The probe really runs in a child process; this one dies as an AVX build does on a CPU
    without AVX."""
    here = [folder(tmp_path, v) for v in ("cpu-avx2", "cpu-compat")]
    monkeypatch.setattr(builds, "cpu_flags", lambda: AVX2_CPU)  # as qemu -cpu Nehalem says
    log = tmp_path / "probes.log"
    # The child reads its build's variant where the real probe loads its library from.
    child = f"""
import json, os, signal
lib = os.environ["{builds.LIB_ENV}"]
variant = json.load(open(os.path.join(lib, "{builds.INFO_NAME}")))["variant"]
open({str(log)!r}, "a").write(variant + "\\n")
if variant == "cpu-avx2":
    os.kill(os.getpid(), signal.SIGILL)
print(json.dumps({{"ok": True, "device": "", "why": ""}}))
"""
    monkeypatch.setattr(builds, "probe_command", lambda: [sys.executable, "-c", child])

    def starts() -> list[str]:
        return log.read_text().split()

    chosen = builds.choose(builds=here)
    assert chosen.build.variant == "cpu-compat"
    assert "CPU (AVX2): this CPU cannot run it (SIGILL)" in chosen.why
    kept = json.loads(cache.read_text())
    assert {v["variant"]: v["ok"] for v in kept.values()} == {"cpu-avx2": False, "cpu-compat": True}
    assert builds.choose(builds=here).build.variant == "cpu-compat"
    assert starts() == ["cpu-avx2", "cpu-compat"]  # the second start probed nothing
    with pytest.raises(BuildUnavailable, match=r"cannot run here: this CPU cannot run it"):
        builds.choose("cpu-avx2", builds=here)

    # A new library file in the folder (an update) is probed again.
    (here[0].lib / "libggml.so").write_bytes(b"new")
    builds.choose(builds=here)
    assert starts()[2:] == ["cpu-avx2"]


def test_the_installed_build_passes_its_probe_for_real() -> None:
    """The wheel this checkout installed: loaded in a child process, the bundled model decodes
    a token there."""
    own = builds.installed()
    assert own is not None and own.installed and (own.lib / "libllama.so").exists()
    found = builds.probe(own)
    assert found == {"ok": True, "device": "", "why": ""}


def test_a_library_that_does_not_load_fails_its_probe_with_the_reason(tmp_path: Path) -> None:
    broken = folder(tmp_path, "cpu-compat")
    found = builds.probe(broken)
    assert found["ok"] is False and "libllama.so" in found["why"]


def test_a_frozen_app_runs_the_probe_through_its_own_executable() -> None:
    """A bundle has no `python -m`: its executable runs the module (core.child), as `mnemo
    --run-module` does here."""
    import subprocess

    from core.child import RUN_MODULE

    done = subprocess.run(
        [sys.executable, "-m", "app.cli", RUN_MODULE, "core.llm.probe", "--cpu"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {"ok": True, "device": "", "why": ""}


def test_frozen_commands_name_the_executable_and_the_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.child import module_command

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/mnemo/mnemo")
    assert module_command("core.capture.ocr_worker", "1") == [
        "/opt/mnemo/mnemo",
        "--run-module",
        "core.capture.ocr_worker",
        "1",
    ]
    monkeypatch.setenv(builds.WRAPPER_ENV, "qemu-x86_64 -cpu Nehalem")
    assert builds.probe_command()[:4] == ["qemu-x86_64", "-cpu", "Nehalem", "/opt/mnemo/mnemo"]


def test_a_gpu_probe_is_asked_again_when_the_devices_it_may_use_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ "No GPU found" is kept for this machine as it is: a device made visible (or a driver
    installed) is looked for again."""
    vulkan = folder(tmp_path, "vulkan")
    probed = scripted(monkeypatch, AVX2_CPU, {"vulkan": {"ok": False, "device": "", "why": "none"}})
    monkeypatch.delenv("GGML_VK_VISIBLE_DEVICES", raising=False)
    builds.verdict(vulkan, AVX2_CPU)
    builds.verdict(vulkan, AVX2_CPU)
    monkeypatch.setenv("GGML_VK_VISIBLE_DEVICES", "0")
    builds.verdict(vulkan, AVX2_CPU)
    assert probed == ["vulkan", "vulkan"]
