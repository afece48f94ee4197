"""Tracks across the 8 sampled frames: linking, gap filling, ordering, on synthetic boxes and real clips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from devkit.media import canvas_with_face, encode_clip, encode_image, face_on_screen
from service.preprocess.pipeline import _filled_face
from service.preprocess.track import fill_gaps, link
from service.preprocess.types import NUM_VIDEO_FRAMES, PreprocessOptions, Track, VideoResult
from service.preprocess.video_tracks import _filled

from .conftest import run


def _box(x: float, y: float, side: float = 50) -> tuple[float, float, float, float]:
    return (x, y, x + side, y + side)


def test_link_follows_two_faces_whatever_their_order_in_each_frame() -> None:
    left = [_box(100 + 10 * t, 100) for t in range(8)]
    right = [_box(400 - 10 * t, 120) for t in range(8)]
    frames = [[left[t], right[t]] if t % 2 else [right[t], left[t]] for t in range(8)]
    tracks = link(frames)
    assert len(tracks) == 2
    for track in tracks:
        xs = [frames[t][j][0] for t, j in enumerate(track)]
        assert xs == sorted(xs) or xs == sorted(xs, reverse=True)  # never jumps between the two faces


def test_link_bridges_a_missed_frame_and_a_large_move() -> None:
    frames = [[_box(100, 100)], [_box(160, 100)], [], [_box(260, 110)], [_box(300, 110)], [], [],
              [_box(330, 90)]]
    tracks = link(frames)
    assert tracks == [[0, 0, None, 0, 0, None, None, 0]]


def test_link_survives_one_odd_box_size() -> None:
    """Seen on an HEVC clip: the detector gave one frame a 100 px box among 62-65 px ones; the face moving on
    must stay one track (the size is compared with the track's typical size, not that one box's)."""
    boxes = [(109, 123, 174, 188), (157, 125, 219, 187), (198, 122, 263, 187), (225, 126, 325, 226),
             (289, 126, 351, 188), (330, 123, 397, 189)]
    assert link([[box] for box in boxes]) == [[0] * 6]


def test_link_starts_a_new_track_for_a_face_far_away_or_of_another_size() -> None:
    frames = [[_box(0, 0)], [_box(500, 400)], [_box(0, 0, side=200)]] + [[] for _ in range(5)]
    assert len(link(frames)) == 3


def test_fill_gaps_interpolates_inside_and_repeats_at_the_ends() -> None:
    values = [None, np.array([10.0]), None, None, np.array([40.0]), None]
    filled = fill_gaps(values)
    assert [float(v[0]) for v, _ in filled] == [10.0, 10.0, 20.0, 30.0, 40.0, 40.0]
    assert [flag for _, flag in filled] == [True, False, True, True, False, True]


def test_fill_gaps_needs_one_value() -> None:
    with pytest.raises(ValueError):
        fill_gaps([None, None])


def test_moving_face_is_one_full_track(moving_clip: bytes) -> None:
    result = run(moving_clip)
    assert isinstance(result, VideoResult)
    assert len(result.frames) == NUM_VIDEO_FRAMES
    assert [f.index for f in result.frames] == result.media.sampled_frames
    (track,) = result.tracks
    assert track.presence == 1.0
    assert len(track.faces) == NUM_VIDEO_FRAMES and not any(f.interpolated for f in track.faces)
    xs = [f.box[0] for f in track.faces]
    assert xs == sorted(xs) and xs[-1] - xs[0] > 250  # follows the face across the frame
    assert track.crops.shape == (8, 256, 256, 3)
    assert track.crop_landmarks.shape == (8, 68, 2)
    assert set(result.timings) == {"decode", "detect", "landmarks", "crop", "track"}


def _assert_every_frame_is_the_face(track: Track, present_from: float, present_until: float) -> None:
    """What the video tower gets: 8 real detections, all inside the time the face is on screen."""
    assert track.tower == "video" and len(track.faces) == NUM_VIDEO_FRAMES
    assert not any(f.interpolated for f in track.faces) and all(f.score > 0.5 for f in track.faces)
    assert all(present_from - 1e-6 <= t <= present_until + 1e-6 for t in track.times)  # times: 6 decimals
    assert track.times == sorted(track.times) and track.span == (track.times[0], track.times[-1])
    assert len(set(track.indices)) == NUM_VIDEO_FRAMES
    assert track.crops.shape == (8, 256, 256, 3)


def test_face_appearing_halfway_is_sampled_where_it_is(halfway_clip: bytes) -> None:
    result = run(halfway_clip)  # 40 frames at 30 fps, the face from frame 20 (0.667 s) on
    assert [len(f.faces) for f in result.frames] == [0, 0, 0, 0, 1, 1, 1, 1]
    (track,) = result.tracks
    assert track.presence == 0.5
    _assert_every_frame_is_the_face(track, 20 / 30, 39 / 30)
    assert track.indices[0] == 20 and track.indices[-1] == result.frames[7].index  # the edge found by halving
    assert track.faces[track.best_frame].score > 0.5


def test_face_leaving_the_picture_is_never_held_over_the_frames_without_it() -> None:
    """The issue's clip: the face leaves after 1.6 s of 4 s and sky follows; no crop of the sky is sent."""
    clip = encode_clip(face_on_screen(range(48)), 120)
    result = run(clip)
    (track,) = result.tracks
    assert sum(bool(f.faces) for f in result.frames) < 8
    _assert_every_frame_is_the_face(track, 0.0, 47 / 30)
    assert track.indices[0] == 0 and track.indices[-1] == 47  # the span's edge: the last frame with the face
    xs = [f.box[0] for f in track.faces]
    assert xs == sorted(xs)  # it follows the face as it moves


def test_face_seen_in_one_sampled_frame_goes_to_the_image_tower() -> None:
    """On screen for 4 frames (0.13 s): too few for 8 distinct frames of the video tower."""
    clip = encode_clip(face_on_screen(range(36, 40)), 90)  # sampled: frame 38
    (track,) = run(clip).tracks
    assert track.tower == "image" and len(track.faces) == 1 and track.best_frame == 0
    assert track.span[0] == track.span[1] and 36 / 30 <= track.span[0] < 40 / 30
    assert not track.faces[0].interpolated


def test_two_faces_give_two_tracks_the_most_present_first() -> None:
    """A large face in every frame, a small one only from frame 20 on: the large one is primary."""
    def frame(i: int, n: int) -> np.ndarray:
        picture = canvas_with_face(640, 480, 300, 10, 90)
        if i >= 20:
            picture[150:350, 400:600] = canvas_with_face(200, 200, 200, 0, 0)
        return picture

    result = run(encode_clip(frame, 30))
    assert len(result.tracks) == 2
    primary, other = result.tracks
    assert primary.presence == 1.0 and primary.faces[0].box[0] < 320
    assert 0.25 <= other.presence < 1.0 and other.faces[-1].box[0] > 320
    assert [t.id for t in result.tracks] == [0, 1]
    assert len(run(encode_clip(frame, 30), max_faces=1).tracks) == 1


def test_face_free_video_has_no_tracks() -> None:
    result = run(encode_clip(lambda i, n: np.full((240, 320, 3), 40 + i, np.uint8), 10))
    assert result.tracks == []
    assert all(f.faces == [] for f in result.frames)


def test_a_missed_face_is_meshed_where_the_track_says_it_is() -> None:
    """Frame 1's face is tilted and its detection withheld: the filled-in landmarks come from FaceMesh on the
    interpolated box (the eye line is tilted), not from interpolating the upright neighbours."""
    upright = canvas_with_face(640, 480, 300, 170, 90)
    tilt = cv2.getRotationMatrix2D((320, 240), 15, 1.0)
    pictures = [upright, cv2.warpAffine(upright, tilt, (640, 480)), upright]
    options = PreprocessOptions()
    timings: dict[str, float] = {}
    found = [run(encode_image(picture, "PNG")).faces[0] for picture in (upright, upright)]
    faces = _filled([found[0], None, found[1]], pictures,
                    lambda picture, box, hint: _filled_face(picture, box, hint, options, timings))
    filled = faces[1]
    assert filled.interpolated and filled.score == 0.0
    eyes = filled.landmarks[[36, 45]]
    angle = np.degrees(np.arctan2(eyes[1, 1] - eyes[0, 1], eyes[1, 0] - eyes[0, 0]))
    assert -25 < angle < -5
    assert faces[0] is found[0] and faces[2] is found[1]
