"""What screen capture costs, on a virtual X screen with real windows driven by a script.

    python -m bench.capture [--seconds 60] [--interval 3]

Starts its own Xvfb (1280 × 800) and openbox, so it also runs under `xvfb-run`. Throughout,
an excluded window (a "KeePassXC" holding a canary string) sits beside the work, and the typed
notes show a fake API key. Scenarios, each with a fresh capture service and measured after its
first frame was read:
- static: nothing moves;
- typing: two characters every 200 ms at the end of a page of notes;
- scrolling: a long document scrolls three lines a second;
- switching: the notes, a travel guide and a private browser window (excluded, canary inside)
  take turns on screen every 6 s.
Each scenario runs in a capture process of its own; CPU is that process's (capture, OCR,
storage; not the X server's nor the windows'), as a percentage of one core. The OCR ratio
divides the OCR CPU seconds per kept typing frame by a
naive full-frame RapidOCR pass over a typing frame in the same run. mb_per_hour is the data
folder's growth during typing, extrapolated. RSS is without models (a hashing embedder stands
in for MiniLM and no memory agents run). Leaks count the canaries' occurrences in every file of
the data folders. Prints a table, then one JSON line.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from bench.display import app_window, virtual_display
from bench.report import report
from core.capture.ocr import bgr
from core.capture.screen import MssScreen
from core.capture.service import CaptureService
from core.embed import HashingEmbedder
from core.settings import CaptureSettings, Settings
from core.store.memories import MemoryStore

CANARY = "OKAPI-CANARY-9043"
FAKE_KEY = "sk-live-4eC39HqLyjWDarjtT1zdp7dc"
NOTES = "\n".join(
    [
        "Project Lisbon — planning notes",
        "Flights: TP 1337 on 14 March, back on 21 March",
        "Hotel: Alfama, near the river, 3 nights booked",
        f"API key for the booking service: {FAKE_KEY}",
        "Budget: 1,450 EUR for the apartment, 300 EUR for food",
        "To do: renew the passport, book the airport transfer",
        "Ask Priya about the vendor quotes before Thursday",
        "",
    ]
)
LONG = "\n".join(
    f"{n}. Section {n}: the report covers revenue, costs and hiring for quarter {n % 4 + 1}"
    for n in range(1, 400)
)
GUIDE = "\n".join(
    [
        "Lisbon in three days",
        "Day 1: Alfama, the cathedral and the castle of Sao Jorge",
        "Day 2: Belem tower, the monastery and pasteis de nata",
        "Day 3: a day trip to Sintra by train from Rossio",
    ]
)
VAULT = ("--app", "KeePassXC", "--title", "Passwords.kdbx", "--text", f"bank: {CANARY}")
VAULT_AT = "900,500,380,300"
WORK_AT = "0,0,880,780"


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory now (VmRSS) or at its highest so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def leaks(folders: list[Path], needle: str) -> int:
    count = 0
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file():
                count += path.read_bytes().count(needle.encode())
    return count


def run_scenario(folder: Path, interval: float, seconds: float) -> dict[str, float]:
    """One scenario in a process of its own, as a capture service runs in the app, so its CPU
    and memory are its own; returns its figures."""
    command = [sys.executable, "-m", "bench.capture", "--worker", str(folder)]
    command += ["--seconds", str(seconds), "--interval", str(interval)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 300)
    if done.returncode:
        raise RuntimeError(f"scenario {folder.name} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(folder: Path, settings: CaptureSettings, seconds: float) -> dict[str, float]:
    """Capture for `seconds` after the first frame is read; the figures of that span."""
    folder.mkdir(parents=True)
    with MemoryStore(folder, HashingEmbedder(), Settings()) as store:
        service = CaptureService(store, folder, settings)
        service.start()
        deadline = time.monotonic() + 60
        while service.stats.read < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        stats = service.stats
        cpu0, wall0, bytes0 = time.process_time(), time.monotonic(), folder_bytes(folder)
        ocr0, read0, seen0, kept0 = stats.ocr_cpu_s, stats.read, stats.frames_seen, stats.kept
        excluded0 = stats.excluded
        time.sleep(seconds)
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        ocr, read = stats.ocr_cpu_s - ocr0, stats.read - read0
        figures = {
            "cpu_percent": 100 * cpu / wall,
            "ocr_cpu_s_per_read": ocr / read if read else 0.0,
            "ocr_cpu_s_per_kept": ocr / (stats.kept - kept0) if stats.kept > kept0 else 0.0,
            "frames_seen": stats.frames_seen - seen0,
            "frames_kept": stats.kept - kept0,
            "frames_read": read,
            "excluded": stats.excluded - excluded0,
            "bytes_per_s": (folder_bytes(folder) - bytes0) / wall,
            "rss_mb": rss_mb(),
        }
        service.stop()
        figures["merged"] = service.frames.merged
        figures["deferred"] = stats.deferred
        figures["total_frames_seen"] = stats.frames_seen
        figures["total_kept"] = stats.kept
        figures["failed"] = stats.failed
        figures["peak_rss_mb"] = rss_mb("VmHWM")
    return figures


def grab_screen() -> Image.Image:
    screen = MssScreen()
    return screen.grab(screen.monitors()[0])


def naive_full_frame_cpu_s(frame: Image.Image) -> float:
    """CPU seconds of RapidOCR as it comes over a whole frame; run last, after the memory
    figures, since it loads a second OCR engine."""
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "error"})
    engine(bgr(frame.crop((0, 0, 64, 64))))  # first-call set-up, not counted
    started = time.process_time()
    engine(bgr(frame))
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60, help="typing scenario length")
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = CaptureSettings(interval_s=args.interval)
    if args.worker:
        print(json.dumps(worker(args.worker, settings, args.seconds)))
        return
    root = Path(tempfile.mkdtemp(prefix="mnemo-bench-capture-"))
    short = max(args.seconds / 2, 10)
    results: dict[str, dict[str, float]] = {}
    with virtual_display(), app_window(*VAULT, "--geometry", VAULT_AT):
        with app_window("--title", "Dashboard", "--text", NOTES, "--geometry", WORK_AT):
            results["static"] = run_scenario(root / "static", args.interval, short)
        typing = ("--title", "Notes — Lisbon", "--text", NOTES, "--scenario", "typing")
        with app_window(*typing, "--geometry", WORK_AT):
            results["typing"] = run_scenario(root / "typing", args.interval, args.seconds)
            typing_frame = grab_screen()
        scrolling = ("--title", "Quarterly report", "--text", LONG, "--scenario", "scrolling")
        with app_window(*scrolling, "--geometry", WORK_AT):
            results["scrolling"] = run_scenario(root / "scrolling", args.interval, short)
        switching = (
            "--title",
            "Notes — Lisbon",
            "--text",
            NOTES,
            "--scenario",
            "switching",
            "--also",
            "Lisbon travel guide — Firefox::" + GUIDE,
            "--also",
            f"Bank — Mozilla Firefox Private Browsing::Account {CANARY}",
        )
        with app_window(*switching, "--geometry", WORK_AT):
            results["switching"] = run_scenario(root / "switching", args.interval, args.seconds)

    naive = naive_full_frame_cpu_s(typing_frame)
    folders = [root / name for name in results]
    typing_figures = results["typing"]
    figures = {
        "interval_s": args.interval,
        "static_cpu_percent_of_core": round(results["static"]["cpu_percent"], 2),
        "typing_cpu_percent_of_core": round(typing_figures["cpu_percent"], 2),
        "scrolling_cpu_percent_of_core": round(results["scrolling"]["cpu_percent"], 2),
        "switching_cpu_percent_of_core": round(results["switching"]["cpu_percent"], 2),
        "ocr_cpu_s_per_kept_frame": round(typing_figures["ocr_cpu_s_per_kept"], 3),
        "ocr_cpu_s_per_read": round(typing_figures["ocr_cpu_s_per_read"], 3),
        "naive_full_frame_ocr_cpu_s": round(naive, 3),
        "ocr_cost_ratio_vs_full_frame": round(typing_figures["ocr_cpu_s_per_kept"] / naive, 3),
        "ocr_read_ratio_vs_full_frame": round(typing_figures["ocr_cpu_s_per_read"] / naive, 3),
        "mb_per_hour": round(typing_figures["bytes_per_s"] * 3600 / 1e6, 2),
        "rss_mb": round(max(r["rss_mb"] for r in results.values()), 1),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in results.values()), 1),
        "frames_seen": int(sum(r["total_frames_seen"] for r in results.values())),
        "frames_kept": int(sum(r["total_kept"] for r in results.values())),
        "frames_excluded_switching": int(results["switching"]["excluded"]),
        "frames_merged_scrolling": int(results["scrolling"]["merged"]),
        "frames_deferred_typing": int(results["typing"]["deferred"]),
        "failed": int(sum(r["failed"] for r in results.values())),
        "excluded_canary_leaks": leaks(folders, CANARY),
        "redaction_canary_leaks": leaks(folders, FAKE_KEY),
    }
    rows = [
        ("static_cpu_percent_of_core", f"{figures['static_cpu_percent_of_core']}", "target <= 2"),
        ("typing_cpu_percent_of_core", f"{figures['typing_cpu_percent_of_core']}", "target <= 25"),
        ("scrolling_cpu_percent_of_core", f"{figures['scrolling_cpu_percent_of_core']}", ""),
        ("switching_cpu_percent_of_core", f"{figures['switching_cpu_percent_of_core']}", ""),
        ("ocr_cpu_s_per_kept_frame", f"{figures['ocr_cpu_s_per_kept_frame']}", "typing"),
        ("ocr_cpu_s_per_read", f"{figures['ocr_cpu_s_per_read']}", "typing, per OCR pass"),
        ("naive_full_frame_ocr_cpu_s", f"{figures['naive_full_frame_ocr_cpu_s']}", ""),
        (
            "ocr_cost_ratio_vs_full_frame",
            f"{figures['ocr_cost_ratio_vs_full_frame']}",
            "target <= 0.25",
        ),
        ("mb_per_hour", f"{figures['mb_per_hour']}", "typing; target <= 30"),
        ("rss_mb", f"{figures['rss_mb']}", "end of a scenario; target <= 400"),
        ("rss_mb by scenario", " ".join(f"{r['rss_mb']:.0f}" for r in results.values()), ""),
        ("peak_rss_mb", f"{figures['peak_rss_mb']}", "highest in a scenario"),
        ("frames_seen / kept", f"{figures['frames_seen']} / {figures['frames_kept']}", ""),
        ("excluded_canary_leaks", f"{figures['excluded_canary_leaks']}", "target 0"),
        ("redaction_canary_leaks", f"{figures['redaction_canary_leaks']}", "target 0"),
    ]
    report(rows, figures)
    if os.environ.get("MNEMO_BENCH_KEEP") is None:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
