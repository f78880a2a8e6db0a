"""Video files with PyAV: probing, a threaded frame reader, an H.264 writer that keeps the sound.

Frames travel as uint8 BGR (H, W, 3), already scaled and rotated upright, with
their source timestamps so the output keeps the input's timing (variable frame
rate included). Audio packets travel beside them untouched and are remuxed.
"""
from __future__ import annotations

import io
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from ..errors import UserError
from ..model import MIN_SIDE
from ..safeio import check_input_file

VIDEO_EXTS = (".mp4", ".mov", ".m4v", ".mkv")   # containers that hold H.264 + the usual audio codecs
_MUXERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int                 # as displayed (rotation applied)
    height: int
    rotation: int              # degrees counter-clockwise to turn the coded frames upright
    fps: Fraction              # average rate
    time_base: Fraction
    start: float               # seconds of the first frame
    frames: int                # count declared by the container (0: unknown)
    duration: float            # seconds of the video stream (0: unknown)
    exact_duration: bool       # False: the container's duration, which may include longer audio
    audio: tuple[str, ...]     # codec name of each audio stream

    def describe(self) -> str:
        sound = ", ".join(self.audio) if self.audio else "no audio"
        count = f"{self.frames} frames" if self.frames else "frame count unknown"
        return f"{self.width}×{self.height}, {float(self.fps):.3g} fps, {self.duration:.2f} s, {count}, {sound}"


@dataclass(frozen=True)
class Frame:
    index: int                 # 0-based, within the range read
    pts: int                   # in VideoInfo.time_base, relative to the start of the range
    time: float                # seconds, source timeline
    bgr: np.ndarray            # (H, W, 3) uint8


def _open(path: Path):
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.error.EOFError:
        raise UserError(f"{path}: no video data (zero-length clip, or cut off before the first frame)") from None
    except (av.FFmpegError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not a readable video file ({_reason(e)})") from None


def _reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def _rotation(frame) -> int:
    try:
        return int(round((frame.rotation or 0) / 90.0)) * 90 % 360
    except (AttributeError, TypeError, ValueError):
        return 0


def probe(path) -> VideoInfo:
    """Open a video and decode its first frame (for the rotation). Raises UserError on bad input."""
    p = check_input_file(path, "input video")
    with _open(p) as c:
        if c.format.name == "image2" or c.format.name.endswith("_pipe"):       # FFmpeg's still-image readers
            raise UserError(f"{p} is a still image, not a video; stylize it with: stylecam image {p}")
        if not c.streams.video:
            raise UserError(f"{p}: no video stream (streams: {', '.join(s.type for s in c.streams) or 'none'})")
        vs = c.streams.video[0]
        if vs.codec_context is None:
            raise UserError(f"{p}: the video stream's codec is unknown or damaged")
        if vs.time_base is None or not vs.codec_context.width:
            raise UserError(f"{p}: video stream has no usable size or time base")
        first = None
        try:
            for frame in c.decode(vs):
                first = frame
                break
        except av.FFmpegError as e:
            raise UserError(f"{p}: cannot decode the first video frame ({_reason(e)})") from None
        if first is None:
            raise UserError(f"{p}: the video stream has no frames (zero-length clip)")
        rot = _rotation(first)
        w, h = first.width, first.height
        if rot in (90, 270):
            w, h = h, w
        fps = vs.average_rate or vs.guessed_rate or vs.base_rate
        if not fps:
            raise UserError(f"{p}: cannot tell the frame rate of the video stream")
        tb = vs.time_base
        duration, exact = _stream_duration(vs)
        if not duration:
            duration = (c.duration or 0) / 1e6
        start = float(first.pts * tb) if first.pts is not None else 0.0
        audio = tuple(s.codec_context.name for s in _audio_streams(c))
        return VideoInfo(p, w, h, rot, Fraction(fps), Fraction(tb), start, vs.frames or 0, duration, exact, audio)


def _audio_streams(container) -> list:
    """The audio streams FFmpeg can tell the codec of (a damaged one is left out)."""
    return [s for s in container.streams.audio if s.codec_context is not None]


def _stream_duration(vs) -> tuple[float, bool]:
    """Seconds of the video stream, if the container says (MP4: a field; Matroska: a tag)."""
    if vs.duration:
        return float(vs.duration * vs.time_base), True
    tag = (vs.metadata or {}).get("DURATION", "")
    try:
        h, m, sec = tag.split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec), True
    except ValueError:
        return 0.0, False


def output_size(info: VideoInfo, size: int = 0, max_size: int = 0) -> tuple[int, int]:
    """(width, height) of the output: longer side ``size`` (or at most ``max_size``), even numbers
    (yuv420p needs them), at least MIN_SIDE."""
    w, h = info.width, info.height
    target = size or (min(max_size, max(w, h)) if max_size else max(w, h))
    s = target / max(w, h)
    even = lambda v: max(MIN_SIDE, int(round(v * s)) // 2 * 2)  # noqa: E731
    return even(w), even(h)


def read_frames(info: VideoInfo, size: tuple[int, int], start: float = 0.0, duration: float = 0.0,
                audio: bool = True, stop: threading.Event | None = None) -> Iterator[Frame | av.Packet]:
    """Frames (scaled to ``size`` = (w, h), upright) and, if ``audio``, the audio packets of the
    range [start, start + duration) in demux order; timestamps shifted so the range starts at 0.
    Raises UserError naming the frame and time where decoding failed or the file ends early."""
    end = start + duration if duration else float("inf")
    w, h = size
    coded_w, coded_h = (h, w) if info.rotation in (90, 270) else (w, h)
    index, last_t = 0, None
    with _open(info.path) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"                  # frame + slice threads inside FFmpeg
        streams = [vs] + (_audio_streams(c) if audio else [])
        t0 = None                                # source time of the first frame kept
        if start > 0:
            c.seek(int(start / vs.time_base), stream=vs)     # lands on the keyframe before
        whole = start == 0 and not duration
        pending_audio: list[av.Packet] = []      # audio before the first kept frame is known
        try:
            for packet in c.demux(*streams):
                if stop is not None and stop.is_set():
                    return
                if packet.stream.type == "audio":
                    if packet.pts is None or packet.size == 0:
                        continue
                    pending_audio.append(packet)
                    if t0 is not None:
                        yield from _audio_in_range(pending_audio, t0, end, whole)
                        pending_audio.clear()
                    continue
                for frame in packet.decode():
                    t = float(frame.pts * vs.time_base) if frame.pts is not None else \
                        (last_t or 0.0) + 1 / float(info.fps)
                    last_t = t
                    if t < start - 1e-6 or t >= end:
                        continue
                    if t0 is None:
                        t0 = t
                        yield from _audio_in_range(pending_audio, t0, end, whole)
                        pending_audio.clear()
                    img = _to_bgr(frame, coded_w, coded_h)
                    if info.rotation:
                        img = np.ascontiguousarray(np.rot90(img, k=info.rotation // 90))
                    pts = int(round((t - t0) / info.time_base))
                    yield Frame(index, pts, t, img)
                    index += 1
                if last_t is not None and last_t >= end:
                    break
        except av.FFmpegError as e:
            where = f"after frame {index} ({last_t:.2f} s)" if last_t is not None else "at the start"
            raise UserError(f"{info.path}: corrupt or truncated video {where}: {_reason(e)}") from None
        if index == 0:
            raise UserError(f"{info.path}: no video frames in the range {start:g} s – "
                            f"{'end' if end == float('inf') else f'{end:g} s'}")
        if start == 0 and not duration:
            _check_complete(info, index, last_t)
        if stop is not None:
            # Packets handed out refer to this container's streams: keep it open until the
            # consumer has muxed them and says so.
            yield END
            stop.wait()


def _to_bgr(frame, w: int, h: int) -> np.ndarray:
    """Scale and convert a decoded frame; a failure here is the size asked for, not the input."""
    try:
        return frame.to_ndarray(format="bgr24", width=w, height=h)
    except (av.FFmpegError, ValueError, MemoryError) as e:
        raise UserError(f"cannot scale the frames to {w}×{h}: {_reason(e)}") from None


def _check_complete(info: VideoInfo, frames: int, last_t: float) -> None:
    """A file cut short or damaged often just ends early: compare with what the container declares."""
    if info.frames and frames < info.frames:
        raise UserError(f"{info.path}: truncated or corrupt video: it declares {info.frames} frames but "
                        f"decoding stopped after frame {frames} ({last_t:.2f} s)")
    end = last_t + 1 / float(info.fps)
    slack = 2 / float(info.fps) + 0.05 if info.exact_duration else max(1.0, 0.1 * info.duration)
    if info.duration and end < info.start + info.duration - slack:
        raise UserError(f"{info.path}: truncated or corrupt video: it lasts {info.duration:.2f} s but "
                        f"decoding stopped after frame {frames} ({last_t:.2f} s)")


def _audio_in_range(packets, t0: float, end: float, whole: bool) -> Iterator[av.Packet]:
    """Packets from t0 to end, shifted by t0; ``whole``: all of them (encoder priming packets
    before the first frame included: dropping them would click)."""
    for pk in packets:
        t = float(pk.pts * pk.time_base)
        if whole or t0 - 1e-3 <= t < end:
            shift = int(round(t0 / pk.time_base))
            pk.pts -= shift
            if pk.dts is not None:
                pk.dts -= shift
            yield pk


END = object()   # read_frames: everything was read; the container stays open until ``stop``


class Threaded:
    """Run an iterator in a thread, a few items ahead; re-raises its exception in the consumer.
    The iterator may yield ``END`` to end the consumer's loop while it keeps running."""

    _END = END

    def __init__(self, make_iter, ahead: int = 8):
        self.stop = threading.Event()
        self._q: queue.Queue = queue.Queue(maxsize=ahead)
        self._make_iter = make_iter
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def _run(self):
        try:
            ended = False
            for item in self._make_iter(self.stop):
                ended = ended or item is self._END
                if not self._put(item):
                    return
            if not ended:
                self._put(self._END)
        except BaseException as e:   # handed to the consumer
            self._put(e)

    def __iter__(self):
        while True:
            item = self._q.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self.stop.set()
        self._thread.join(timeout=5)


class VideoWriter:
    """H.264 (yuv420p) at the source time base and rate, plus the input's audio streams:
    copied when the container accepts the codec, transcoded to AAC otherwise.
    Writes to ``path`` directly: callers pass the temporary file of ``safeio.atomic_output``."""

    def __init__(self, path: Path, fmt_hint: str, info: VideoInfo, size: tuple[int, int],
                 crf: int = 18, preset: str = "fast", audio: bool = True):
        try:
            self.out = av.open(str(path), "w", format=_format_for(fmt_hint))
        except (ValueError, av.FFmpegError) as e:
            raise UserError(f"cannot write {fmt_hint}: {_reason(e)}") from None
        if "h264" not in self.out.supported_codecs:
            self.out.close()
            raise UserError(f"the {fmt_hint} container cannot hold H.264 video; use one of {', '.join(VIDEO_EXTS)}")
        self.video = self.out.add_stream("libx264", rate=info.fps)
        self.video.width, self.video.height = size
        self.video.pix_fmt = "yuv420p"
        self.video.time_base = info.time_base
        self.video.codec_context.time_base = info.time_base
        self.video.options = {"crf": str(crf), "preset": preset}
        self.frame_duration = max(1, int(round(1 / (info.fps * info.time_base))))
        self.audio_map: dict[int, object] = {}    # input stream index -> output stream
        self.transcoded: set[int] = set()
        if audio:
            self._add_audio(info)

    def _add_audio(self, info: VideoInfo):
        with _open(info.path) as c:
            for s in _audio_streams(c):
                if _can_copy(s, self.out.format.name):
                    self.audio_map[s.index] = self.out.add_stream_from_template(s)
                else:
                    a = self.out.add_stream("aac", rate=s.codec_context.sample_rate or 48000)
                    self.audio_map[s.index] = a
                    self.transcoded.add(s.index)

    def write_frame(self, bgr: np.ndarray, pts: int):
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24").reformat(format="yuv420p")
        frame.pts = pts
        frame.time_base = self.video.codec_context.time_base
        frame.duration = self.frame_duration
        for pk in self.video.encode(frame):
            self.out.mux(pk)

    def write_audio(self, packet: av.Packet):
        idx = packet.stream.index
        ostream = self.audio_map.get(idx)
        if ostream is None:
            return
        if idx in self.transcoded:
            for frame in packet.decode():
                frame.pts = None                     # the encoder numbers samples itself
                for pk in ostream.encode(frame):
                    self.out.mux(pk)
            return
        packet.stream = ostream
        self.out.mux(packet)

    def close(self):
        """Flush the encoders and finish the file."""
        for pk in self.video.encode(None):
            self.out.mux(pk)
        for idx in self.transcoded:
            for pk in self.audio_map[idx].encode(None):
                self.out.mux(pk)
        self.out.close()

    def abort(self):
        try:
            self.out.close()
        except Exception:   # the file is deleted anyway
            pass


def _can_copy(audio_stream, fmt: str) -> bool:
    """Whether the muxer takes this audio stream as it is: tried on a throw-away in-memory file,
    since ``supported_codecs`` says yes to some codecs whose header then fails (Opus in MOV)."""
    if audio_stream.codec_context.name not in av.open(io.BytesIO(), "w", format=fmt).supported_codecs:
        return False
    try:
        with av.open(io.BytesIO(), "w", format=fmt) as probe_out:
            probe_out.add_stream_from_template(audio_stream)
            probe_out.start_encoding()
        return True
    except (av.FFmpegError, ValueError):
        return False


def _format_for(name: str) -> str:
    """Muxer name for an output file name's extension; UserError for any other extension:
    WebM cannot hold H.264, and AVI cannot keep the input's timestamps."""
    ext = Path(name).suffix.lower()
    if ext in _MUXERS:
        return _MUXERS[ext]
    what = f"'{Path(name).suffix}' is not a supported video output" if ext else "has no file extension"
    raise UserError(f"output {name}: {what}; use one of {', '.join(VIDEO_EXTS)}")


def check_output_format(name: str) -> None:
    """Fail early on an extension stylecam does not write."""
    _format_for(name)


def inspect(path) -> dict:
    """What a player would see: per stream its codec, frames counted by decoding, duration."""
    with _open(Path(path)) as c:
        result = {"duration": (c.duration or 0) / 1e6, "streams": []}
        for s in c.streams:
            if s.type not in ("video", "audio"):
                continue
            entry = {"type": s.type, "codec": s.codec_context.name,
                     "duration": float(s.duration * s.time_base) if s.duration else None}
            if s.type == "video":
                entry.update(width=s.codec_context.width, height=s.codec_context.height,
                             fps=float(s.average_rate or 0))
            result["streams"].append(entry)
        counts: dict[int, int] = {}
        for pk in c.demux():
            if pk.size and pk.stream.type in ("video", "audio"):
                counts[pk.stream.index] = counts.get(pk.stream.index, 0) + 1
        for s, entry in zip([s for s in c.streams if s.type in ("video", "audio")], result["streams"]):
            entry["packets"] = counts.get(s.index, 0)
        return result
