"""Build llama-cpp-python's native library once per variant, with every CPU flag set.

    python packaging/llama_builds.py wheel [VARIANT|auto]   # prints the wheel's path
    python packaging/llama_builds.py libs VARIANT DEST      # the variant's library folder
    python packaging/llama_builds.py list

Variants (the pinned sdist of pyproject.toml, compiled by pip with CMAKE_ARGS):
  cpu-avx2    x86-64-v3: AVX, AVX2, FMA, F16C, BMI2 (about 2013 on); dev setup, tests and CI
  cpu-compat  x86-64-v2: SSE4.2 and no AVX, for older and low-end CPUs
  vulkan      cpu-avx2 and Vulkan, for AMD, Intel and NVIDIA GPUs (glslc and new headers)

Never `-march=native` (a build that runs only on the machine that made it, and here one with
AMX that the sandbox refuses) nor a bare `-DGGML_NATIVE=OFF`, which quietly means AVX2, and
SSE2 when SOURCE_DATE_EPOCH is set: every flag is named. `auto` is the best variant this CPU
runs (cpu-compat where it lacks one of cpu-avx2's flags, and it says so).

Each wheel is kept in the user cache folder (MNEMO_BUILD_CACHE, else ~/.cache/mnemo-build),
under the version, the variant and a digest of its flags: pip's own wheel cache ignores
CMAKE_ARGS, so a cached build of other flags would be taken silently. A wheel carries
`llama_cpp/lib/mnemo-build.json` (the variant and its flags), which the app reads to say which
build it runs (core.llm.builds). Standard library only: it runs before anything is installed.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INFO_NAME = "mnemo-build.json"  # beside the libraries, in llama_cpp/lib

_OFF = ("AVX", "AVX2", "AVX512", "FMA", "F16C", "BMI2", "AMX_TILE", "AMX_INT8", "AMX_BF16")


def _flags(on: tuple[str, ...]) -> list[str]:
    # OpenMP stays on (core/llm/__init__.py tunes its wait policy); llama.cpp's own tools,
    # tests and servers are not built.
    return [
        "-DGGML_NATIVE=OFF",
        *(f"-DGGML_{flag}={'ON' if flag in on else 'OFF'}" for flag in _OFF),
        "-DGGML_SSE42=ON",
        "-DLLAMA_BUILD_TESTS=OFF",
        "-DLLAMA_BUILD_EXAMPLES=OFF",
        "-DLLAMA_BUILD_SERVER=OFF",
    ]


# variant: (CPU flags it needs from /proc/cpuinfo, CMake arguments, what it is)
VARIANTS: dict[str, tuple[tuple[str, ...], list[str], str]] = {
    "cpu-avx2": (
        ("sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"),
        _flags(("AVX", "AVX2", "FMA", "F16C", "BMI2")),
        "CPU (AVX2)",
    ),
    "cpu-compat": (("sse4_2",), _flags(()), "CPU (compatible, no AVX)"),
    # AMD, Intel and NVIDIA GPUs through their drivers' Vulkan loader; its CPU part is
    # cpu-avx2's. Needs glslc and Vulkan headers with vk::LayerSettingEXT (vulkan_headers).
    "vulkan": (
        ("sse4_2", "avx", "avx2", "fma", "f16c", "bmi2"),
        [*_flags(("AVX", "AVX2", "FMA", "F16C", "BMI2")), "-DGGML_VULKAN=ON"],
        "Vulkan",
    ),
}
# Debian 12's libvulkan-dev (1.3.239) lacks what ggml-vulkan uses (vk::LayerSettingEXT);
# Debian 13's headers work with Debian 12's loader and glslc (measured: ../shared/DESIGN.md).
VULKAN_HEADERS_SUITE = "trixie"


def vulkan_headers() -> list[str]:
    """CMake arguments naming Vulkan headers new enough for ggml-vulkan: the system's where
    they are, else Debian 13's libvulkan-dev unpacked into the build cache (downloaded once
    with a private apt list; nothing is installed)."""
    system = Path("/usr/include/vulkan/vulkan_structs.hpp")
    if system.is_file() and "LayerSettingEXT" in system.read_text(errors="replace"):
        return []
    if os.environ.get("VULKAN_SDK"):
        return [f"-DVulkan_INCLUDE_DIR={os.environ['VULKAN_SDK']}/include"]
    folder = cache_dir() / f"vulkan-headers-{VULKAN_HEADERS_SUITE}"
    include = folder / "usr" / "include"
    if (include / "vulkan" / "vulkan_structs.hpp").is_file():
        return [f"-DVulkan_INCLUDE_DIR={include}"]
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise SystemExit(
            "llama_builds: the Vulkan headers here lack vk::LayerSettingEXT; install the "
            "Vulkan SDK (1.3.275 or later) and set VULKAN_SDK"
        )
    print(f"llama_builds: fetching Debian {VULKAN_HEADERS_SUITE}'s Vulkan headers", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "sources.list").write_text(f"deb {_debian_mirror()} {VULKAN_HEADERS_SUITE} main\n")
        (work / "cache" / "archives" / "partial").mkdir(parents=True)
        (work / "lists" / "partial").mkdir(parents=True)
        apt = [
            "apt-get",
            "-q",
            f"-oDir::Etc::SourceList={work / 'sources.list'}",
            "-oDir::Etc::SourceParts=/dev/null",
            f"-oDir::State::Lists={work / 'lists'}",
            f"-oDir::Cache={work / 'cache'}",
            "-oDebug::NoLocking=1",
        ]
        subprocess.run([*apt, "update"], check=True, stdout=sys.stderr)
        subprocess.run([*apt, "download", "libvulkan-dev"], check=True, cwd=work, stdout=sys.stderr)
        (deb,) = work.glob("libvulkan-dev_*.deb")
        unpacked = work / "unpacked"
        subprocess.run(["dpkg-deb", "-x", deb, unpacked], check=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.move(unpacked, folder)
    return [f"-DVulkan_INCLUDE_DIR={include}"]


def _debian_mirror() -> str:
    for sources in (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list")):
        try:
            text = sources.read_text()
        except OSError:
            continue
        found = re.search(r"^URIs:\s*(\S+)|^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.MULTILINE)
        if found:
            return found[1] or found[2]
    return "http://deb.debian.org/debian"


# What a Vulkan build needs besides headers: Debian's packages, by a file each installs.
VULKAN_NEEDS = {
    "glslc": "/usr/bin/glslc",
    "libvulkan-dev": "/usr/lib/x86_64-linux-gnu/libvulkan.so",
    "spirv-headers": "/usr/share/cmake/SPIRV-Headers/SPIRV-HeadersConfig.cmake",
}


def cmake_args(variant: str) -> list[str]:
    """The variant's CMake arguments, with what this machine needs to build it."""
    flags = VARIANTS[variant][1]
    if variant != "vulkan":
        return flags
    missing = [name for name, path in VULKAN_NEEDS.items() if not Path(path).exists()]
    if missing and not os.environ.get("VULKAN_SDK"):
        raise SystemExit(
            f"llama_builds: the Vulkan build needs {', '.join(missing)} "
            f"(apt-get install {' '.join(missing)}), or the Vulkan SDK with VULKAN_SDK set"
        )
    return [*flags, *vulkan_headers()]


def pinned_version() -> str:
    """llama-cpp-python's version as pyproject.toml pins it (the one place it is named)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        found = re.fullmatch(r"llama-cpp-python==([\w.]+)", requirement.strip())
        if found:
            return found[1]
    raise SystemExit("pyproject.toml pins no llama-cpp-python==VERSION")


def cpu_flags() -> set[str]:  # as core.llm.builds reads them: this runs before it installs
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    found = re.search(r"^flags\s*:(.*)$", text, re.MULTILINE)
    return set(found[1].split()) if found else set()


def best_variant(flags: set[str] | None = None) -> str:
    flags = cpu_flags() if flags is None else flags
    lacking = [flag for flag in VARIANTS["cpu-avx2"][0] if flag not in flags]
    if not lacking:
        return "cpu-avx2"
    print(
        f"llama_builds: this CPU lacks {', '.join(lacking)}: building cpu-compat (no AVX), "
        "which is slower",
        file=sys.stderr,
    )
    return "cpu-compat"


def cache_dir() -> Path:
    base = os.environ.get("MNEMO_BUILD_CACHE") or Path.home() / ".cache" / "mnemo-build"
    return Path(base)


def wheel_folder(variant: str, version: str) -> Path:
    digest = hashlib.sha256(json.dumps(VARIANTS[variant][1]).encode()).hexdigest()[:12]
    return cache_dir() / "llama" / f"{version}-{variant}-{digest}"


def wheel(variant: str, python: str = sys.executable) -> Path:
    """The variant's wheel, built by `python`'s pip the first time (~5-12 min on 2 cores)."""
    version = pinned_version()
    folder = wheel_folder(variant, version)
    found = sorted(folder.glob("llama_cpp_python-*.whl"))
    if found:
        return found[-1]
    flags = cmake_args(variant)
    print(f"llama_builds: compiling llama-cpp-python {version} ({variant})", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CMAKE_ARGS": " ".join(flags)}
        env.pop("SOURCE_DATE_EPOCH", None)  # it changes ggml's defaults; all are set anyway
        env.pop("FORCE_CMAKE", None)
        pip = [python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-cache-dir"]
        subprocess.run(
            [*pip, "--no-binary", "llama-cpp-python", f"llama-cpp-python=={version}", "-w", tmp],
            env=env,
            check=True,
            stdout=sys.stderr,  # stdout is the wheel's path alone (the Makefile reads it)
        )
        (built,) = Path(tmp).glob("llama_cpp_python-*.whl")
        marked = Path(tmp) / "marked"
        _mark(built, marked, {"variant": variant, "version": version, "cmake_args": flags})
        folder.mkdir(parents=True, exist_ok=True)
        (done,) = marked.glob("*.whl")
        partial = folder / (done.name + ".partial")
        shutil.copyfile(done, partial)
        partial.rename(folder / done.name)  # whole or absent: a build cut short is redone
    return folder / done.name


def _mark(built: Path, out: Path, info: dict) -> None:
    """The wheel again with mnemo-build.json in llama_cpp/lib (`wheel pack` rewrites RECORD)."""
    unpacked = out / "unpacked"
    quiet = {"check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([sys.executable, "-m", "wheel", "unpack", "-d", unpacked, built], **quiet)
    (tree,) = unpacked.iterdir()
    (tree / "llama_cpp" / "lib" / INFO_NAME).write_text(json.dumps(info, indent=1) + "\n")
    subprocess.run([sys.executable, "-m", "wheel", "pack", "-d", out, tree], **quiet)


def libs(variant: str, dest: Path) -> Path:
    """The variant's library folder (libllama.so and the ggml libraries, mnemo-build.json)
    at `dest`, as a bundle carries one per variant for LLAMA_CPP_LIB_PATH."""
    with zipfile.ZipFile(wheel(variant)) as archive:
        members = [name for name in archive.namelist() if name.startswith("llama_cpp/lib/")]
        dest.mkdir(parents=True, exist_ok=True)
        for name in members:
            if name.endswith("/"):
                continue
            target = dest / name.removeprefix("llama_cpp/lib/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("wheel", help="print the variant's wheel, building it if needed")
    one.add_argument("variant", nargs="?", default="auto", choices=[*VARIANTS, "auto"])
    one.add_argument("--python", default=sys.executable, help="whose pip compiles it")
    folder = commands.add_parser("libs", help="unpack the variant's library folder")
    folder.add_argument("variant", choices=list(VARIANTS))
    folder.add_argument("dest", type=Path)
    commands.add_parser("list", help="the variants and what they need")
    args = parser.parse_args()
    if args.command == "wheel":
        variant = best_variant() if args.variant == "auto" else args.variant
        print(wheel(variant, args.python))
    elif args.command == "libs":
        print(libs(args.variant, args.dest))
    else:
        for name, (needs, flags, label) in VARIANTS.items():
            print(f"{name:12} {label:26} needs {' '.join(needs)}\n{'':12} {' '.join(flags)}")


if __name__ == "__main__":
    main()
