"""The capture pipeline, in two stages on two threads:

1. `Capturer.tick()` (core.capture.capturer; the scheduler's thread, a few ms): reads the
   desktop (windows and their stacking order, focus, idle, lock), takes each monitor's
   screenshot, applies the exclusions to every visible window (an excluded focused window drops
   the frame; what shows of other excluded windows, frame and title bar, is painted over before
   anything else sees the pixels: core.capture.masks), then asks the change detector whether
   the frame is worth keeping. Kept frames go into a bounded queue.
2. `Reader.read()` (core.capture.reader; the OCR worker): reads the text of the changed regions,
   redacts it, saves a picture when one is due, and stores a capture source holding the text
   that is new on the screen (all of it after an app switch or at a keyframe).

Nothing of an excluded window is written anywhere, its title included; only counters.
"""

from core.capture.capturer import Capturer
from core.capture.frames import CaptureStats, Frame, merge_frames
from core.capture.reader import Reader, ScreenText

__all__ = ["CaptureStats", "Capturer", "Frame", "Reader", "ScreenText", "merge_frames"]
