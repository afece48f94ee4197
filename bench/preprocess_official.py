"""The official Face-LLaVA video preprocessing recipe (ihp-lab/Face-LLaVA tools/crop_face.py), re-implemented
as the baseline for bench/preprocess_video.py: every frame resampled to 24 fps and written out as PNG, the
short-range detector run on each PNG, frames with exactly one face cropped ((w+h)/2 square from the box's
top-left, 256 px) and written as PNG, then all crops re-encoded to H.264. FFmpeg's own `fps` filter (through
PyAV, as no ffmpeg binary is installed) stands in for the `ffmpeg -vf fps=24` call.

usage: python bench/preprocess_official.py CLIP WORKDIR OUT.mp4
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import cv2
import mediapipe as mp

FPS = 24


def extract_frames(clip: Path, folder: Path) -> list[Path]:
    paths = []
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        graph = av.filter.Graph()
        source = graph.add_buffer(template=stream)
        resample = graph.add("fps", str(FPS))
        sink = graph.add("buffersink")
        source.link_to(resample)
        resample.link_to(sink)
        graph.configure()

        def drain() -> None:
            while True:
                try:
                    frame = graph.pull()
                except (av.BlockingIOError, av.EOFError):
                    return
                path = folder / f"frame_{len(paths) + 1:010d}.png"
                cv2.imwrite(str(path), frame.to_ndarray(format="bgr24"))
                paths.append(path)

        for frame in container.decode(stream):
            graph.push(frame)
            drain()
        graph.push(None)
        drain()
    return paths


def crop_frames(frames: list[Path], folder: Path) -> list[Path]:
    detector = mp.solutions.face_detection.FaceDetection(model_selection=0)
    crops = []
    for path in frames:
        image = cv2.imread(str(path))
        height, width = image.shape[:2]
        detections = detector.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).detections or []
        if len(detections) != 1:
            continue
        box = detections[0].location_data.relative_bounding_box
        x, y = int(box.xmin * width), int(box.ymin * height)
        side = (int(box.width * width) + int(box.height * height)) / 2
        image = cv2.imread(str(path))  # the recipe reads the frame again to crop it
        region = image[max(0, y): int(min(y + side, height - 1)), max(0, x): int(min(x + side, width - 1))]
        out = folder / path.name
        cv2.imwrite(str(out), cv2.resize(region, (256, 256)))
        crops.append(out)
    return crops


def encode(crops: list[Path], out: Path) -> None:
    with av.open(str(out), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = 256
        stream.pix_fmt = "yuv420p"
        for path in crops:
            frame = av.VideoFrame.from_ndarray(cv2.imread(str(path)), format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def main() -> None:
    clip, work, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    (work / "raw").mkdir(parents=True)
    (work / "crops").mkdir()
    frames = extract_frames(clip, work / "raw")
    crops = crop_frames(frames, work / "crops")
    encode(crops, out)
    print(f"{len(frames)} frames at {FPS} fps, {len(crops)} crops")


if __name__ == "__main__":
    main()
