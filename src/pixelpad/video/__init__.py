"""Video decoding and encoding on PyAV: the one place that talks to FFmpeg.

Every stage that reads or writes pixels goes through here: the overlay stage decodes streamer
footage, the dataset stage stores episodes as H.264, the simulator and the play loop record what
they saw. Conventions, the same everywhere in pixelpad:

* a frame is a ``uint8`` array of shape ``(H, W, 3)`` in RGB order;
* a size is ``(height, width)``; a box is ``(x, y, w, h)`` in pixels of the frame it refers to;
* times are seconds from the first frame of the video, frame indices count from that frame
  (``index = round(time * fps)``), whatever the container's own start time or time base.

Decoding is threaded by FFmpeg (frame and slice threads). :func:`sample_frames` seeks only when the
next wanted frame is far ahead, so sampling N frames costs at most N seeks and never decodes a frame
twice; its ``keyframes_only`` variant decodes only key frames, for fast previews. Everything that
goes wrong with a file (missing, empty, truncated, not a video, corrupt) raises :class:`VideoError`
naming the file.

Example:
    >>> with VideoWriter("clip.mp4", fps=30) as out:          # doctest: +SKIP
    ...     for frame in frames:
    ...         out.write(frame)
    >>> video = probe("clip.mp4")                              # doctest: +SKIP
    >>> indices, images = sample_frames("clip.mp4", 8)         # doctest: +SKIP
"""

from pixelpad.video.decode import (
    DEFAULT_SEEK_THRESHOLD,
    Box,
    DecodedFrame,
    Size,
    VideoError,
    VideoInfo,
    crop,
    iter_frames,
    probe,
    read_frames,
    resize,
    sample_frames,
)
from pixelpad.video.encode import VideoWriter, splice, write_video

__all__ = [
    "DEFAULT_SEEK_THRESHOLD",
    "Box",
    "DecodedFrame",
    "Size",
    "VideoError",
    "VideoInfo",
    "VideoWriter",
    "crop",
    "iter_frames",
    "probe",
    "read_frames",
    "resize",
    "sample_frames",
    "splice",
    "write_video",
]
