"""`facellava faces PATH [--json] [--draw OUT.png]`: what the preprocessing worker sees in one file.

Prints every face (box, score, 68 landmarks in image pixels) of an image, or of each sampled frame and track
of a video (a track's entries named by track and frame, with the span it covers and the tower that answers it);
--json prints the API's field names. A refusal prints `CODE: message` on stderr and exits with the
code's exit status (error_codes.py); a face-free input prints its empty result and `no_face` on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2

from service.preprocess.error_codes import exit_status
from service.preprocess.types import Face, ImageResult, PreprocessError, PreprocessOptions, VideoResult


def faces_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        data = Path(args.path).read_bytes()
    except OSError as exc:
        print(f"cannot read {args.path}: {exc.strerror}", file=sys.stderr)
        return 2
    options = PreprocessOptions(max_faces=args.max_faces, crop=args.crop, min_face_px=args.min_face_px)
    try:
        with _native_logs_silenced():
            from service.preprocess.pipeline import analyze, release_models

            try:
                analysis = analyze(data, options)
            finally:
                release_models()
    except PreprocessError as exc:
        print(f"{exc.code}: {exc.message}", file=sys.stderr)
        return exit_status(exc.code)
    result = analysis.result
    if args.draw:
        from service.preprocess.draw import draw_result

        picture = draw_result(result, analysis.pictures)
        if not cv2.imwrite(args.draw, cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)):
            print(f"cannot write {args.draw}", file=sys.stderr)
            return 2
    if args.json:
        from service.preprocess.faces_json import result_out

        print(result_out(result).model_dump_json(indent=1))
    else:
        print(_describe(result))
    if not result.subjects:
        print("no_face: no face found", file=sys.stderr)
        return exit_status("no_face")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="facellava faces", description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="an image (JPEG, PNG, WebP, BMP, TIFF, GIF, HEIC/HEIF, AVIF, PPM/PGM/PBM) or "
                                     "a video (MP4, MOV, WebM, MKV, AVI)")
    parser.add_argument("--json", action="store_true", help="print JSON with the API's field names")
    parser.add_argument("--draw", metavar="OUT.png", help="write the picture with boxes and landmarks")
    parser.add_argument("--max-faces", type=_positive, default=PreprocessOptions.max_faces)
    parser.add_argument("--min-face-px", type=_positive, default=PreprocessOptions.min_face_px)
    parser.add_argument("--crop", choices=["official", "margin"], default=PreprocessOptions.crop)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


@contextlib.contextmanager
def _native_logs_silenced() -> Iterator[None]:
    """MediaPipe's C++ logs go straight to file descriptor 2 and no setting turns them off in 0.10.21; hide
    them so the command's stderr holds only its own messages (Python errors still surface after the block)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _describe(result: ImageResult | VideoResult) -> str:
    media = result.media
    lines = [f"{media.type} {media.format} {media.width}x{media.height}, {media.bytes} bytes"]
    if isinstance(result, ImageResult):
        lines += [_face_line(f"face {i}", face) for i, face in enumerate(result.faces)]
        return "\n".join(lines)
    lines[0] += f", {media.codec}, {media.frame_count} frames at {media.fps:.3g} fps, {media.duration:.2f} s"
    track_of = {id(face): track.id for track in result.tracks for face in track.faces}
    for frame in result.frames:
        lines.append(f"frame {frame.index} at {frame.time:.3f} s: {len(frame.faces)} face(s)")
        lines += ["  " + _face_line(_in_frame(i, track_of.get(id(face))), face) for i, face in enumerate(frame.faces)]
    for track in result.tracks:
        start, end = track.span
        lines.append(f"track {track.id}: present in {track.presence:.0%} of sampled frames, {track.tower} tower, "
                     f"{start:.3f}-{end:.3f} s, best frame {track.indices[track.best_frame]}")
        lines += ["  " + _face_line(f"track {track.id} frame {index} at {time:.3f} s", face)
                  for face, index, time in zip(track.faces, track.indices, track.times, strict=True)]
    return "\n".join(lines)


def _in_frame(number: int, track: int | None) -> str:
    """A face in one sampled frame: its number there, and the track it belongs to when it is in one."""
    return f"face {number}" if track is None else f"face {number} (track {track})"


def _face_line(name: str, face: Face) -> str:
    box = ", ".join(f"{v:.1f}" for v in face.box)
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in face.landmarks)
    flag = " interpolated" if face.interpolated else ""
    return f"{name}: box [{box}] score {face.score:.3f}{flag} landmarks {points}"
