"""What the two stages of capture hand each other (see core.capture.pipeline): the counters
both keep, and a frame that passed the exclusions and the change detector."""

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime

from PIL import Image

from core.capture.change import Change, merge_boxes
from core.capture.desktop import Window


@dataclass
class CaptureStats:
    ticks: int = 0
    frames_seen: int = 0
    unchanged: int = 0
    kept: int = 0
    excluded: int = 0  # frames dropped whole for an exclusion
    masked: int = 0  # excluded windows painted over in kept frames
    skipped: Counter[str] = field(default_factory=Counter)  # locked, idle, no monitors
    failed: int = 0  # broken frames and errors, each logged with its reason
    deferred: int = 0  # frames held while the screen kept changing, read with a later one
    read: int = 0
    stored: int = 0  # capture sources written
    pictures: int = 0
    recycled: int = 0  # pictures deleted by the retention period or the disk budget
    ocr_cpu_s: float = 0.0
    last_error: str = ""

    def as_dict(self) -> dict[str, object]:
        out = {k: v for k, v in self.__dict__.items() if k != "skipped"}
        out["skipped"] = dict(self.skipped)
        out["ocr_cpu_s"] = round(self.ocr_cpu_s, 3)
        return out


@dataclass
class Frame:
    """A frame that passed the exclusions and the change detector. Boxes are relative to its
    monitor."""

    image: Image.Image
    monitor: int
    change: Change
    at: datetime
    window: Window | None  # the focused window, or the top-most one on this monitor
    windows: list[Window]
    full: bool  # read and store all of its text: first frame, keyframe, or a new window


def merge_frames(older: list[Frame], newer: list[Frame]) -> list[Frame]:
    """One tick's frames folded into the next's: the newer image shows every region either
    changed, so it is read with both sets of regions."""
    by_monitor = {f.monitor: f for f in older}
    merged = []
    for frame in newer:
        old = by_monitor.pop(frame.monitor, None)
        if old is not None:
            regions = merge_boxes(old.change.regions + frame.change.regions)
            change = replace(frame.change, regions=regions)
            frame = replace(frame, change=change, full=frame.full or old.full)
        merged.append(frame)
    return merged + list(by_monitor.values())
