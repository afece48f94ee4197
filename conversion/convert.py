"""`facellava convert`: the three downloaded folders -> one self-contained serving folder for vLLM, offline.

Inputs are what a user downloads: chaubeyG/FaceLLaVA (LLaVA-style config, LLaMA + projector + landmark
modules, usually with an embedded copy of both towers), LanguageBind/LanguageBind_Image and
LanguageBind/LanguageBind_Video_merge (CLIP-style checkpoints whose `vision_model.*` is the tower; the
official loader takes the towers from these). The output keeps the official state-dict names (the plugin maps
them by name); only the tower prefix changes: `vision_model.` ->
`model.{image,video}_tower.{image,video}_tower.`.

Anything that does not fit the configs is refused with the tensor or field named, because a silently wrong
weight would serve plausible-looking but wrong answers: wrong model type, shape mismatches, missing required
tensors, unknown tensors (unless ignore_unknown), an embedded tower copy that differs from the LanguageBind
folder. Tensors are streamed one at a time into output shards (see checkpoint_io), so converting the 7B
checkpoint needs about one shard of RAM.

This module orchestrates and holds the CLI; the parts live in released_config (config checks),
checkpoint_schema (expected tensors), conversion_plan (FaceLLaVA's tensors, landmark decision), tower_merge
(towers, LoRA, embedded copies) and serving_tokenizer.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel
from tqdm import tqdm

from conversion.checkpoint_io import CheckpointReadError, ShardedWeightWriter, TensorSource, sha256_file
from conversion.errors import ConversionError
from conversion.plan import LandmarkChoice, Plan, plan_facellava
from conversion.released_config import check_facellava_config, read_json, text_config_from
from conversion.serving_tokenizer import write_serving_tokenizer
from conversion.tower_merge import TowerInput, TowerPair
from model import serving_format as fmt
from model.config import FaceLlavaConfig

logger = logging.getLogger("facellava.convert")

DEFAULT_MAX_SHARD_BYTES = 2 * 1024**3
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class SourceFiles(BaseModel):
    """One input folder, identified by content so a serving folder can be traced back to its downloads."""

    folder: str
    hub_id: str
    files: dict[str, str]  # file name -> sha256


class ConversionReport(BaseModel):
    """What `convert` did, written next to the weights as conversion_report.json."""

    out_dir: str
    sources: dict[str, SourceFiles]
    landmark_conditioning: Literal["on", "off"]
    landmark_reason: str
    dtype: str
    tensors_written: int
    output_files: list[str]
    dropped_tensors: list[str]
    unused_tensors: list[str]
    ignored_unknown_tensors: list[str]
    lora_merged: dict[str, list[str]]
    embedded_tower_tensors_verified: int
    warnings: list[str]


def _open_source(folder: Path) -> TensorSource:
    """A folder's tensors; an unreadable layout becomes a ConversionError like every other refusal."""
    try:
        return TensorSource(folder)
    except CheckpointReadError as error:
        raise ConversionError(str(error)) from None


def _sources_record(folder: Path, source: TensorSource, hub_id: str, extra: tuple[str, ...]) -> SourceFiles:
    files = [*source.files, *(folder / name for name in extra if (folder / name).is_file())]
    hashes = {
        path.name: sha256_file(path)
        for path in tqdm(files, desc=f"sha256 {folder.name}", unit="file", leave=False)
    }
    return SourceFiles(folder=folder.name, hub_id=hub_id, files=hashes)


def _prepare_out_dir(out_dir: Path) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConversionError(f"{out_dir} exists and is not empty; choose a new folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))


def _publish(staging: Path, out_dir: Path) -> None:
    """Give the finished folder ordinary permissions (mkdtemp makes it owner-only) and move it into place in
    one rename, so a reader never sees a half-written serving folder."""
    staging.chmod(0o755)
    if out_dir.exists():
        out_dir.rmdir()
    staging.rename(out_dir)


def _ignored_warning(ignored: list[str]) -> str:
    """The warning for tensors dropped with ignore_unknown: every name, since the user must judge them."""
    message = f"ignored {len(ignored)} unknown tensor(s) (ignore_unknown): {', '.join(ignored)}"
    logger.warning("%s", message)
    return message


def convert(
    facellava_dir: Path | str,
    image_tower_dir: Path | str,
    video_tower_dir: Path | str,
    out_dir: Path | str,
    landmark_conditioning: LandmarkChoice = "off",
    dtype: str | None = None,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    ignore_unknown: bool = False,
) -> ConversionReport:
    """Convert the three downloaded folders into a serving folder at `out_dir` (must be new or empty).

    dtype None keeps every tensor's stored dtype (vLLM casts at load); "float32"/"bfloat16"/"float16" casts
    all floating tensors. ignore_unknown drops tensors that fit no module of the configured model (listed in
    a warning and the report) instead of refusing: for a release that carries extras we have not seen. The
    folder appears only when complete: it is written beside `out_dir`, then renamed.
    """
    facellava_dir, image_tower_dir, video_tower_dir, out_dir = map(
        Path, (facellava_dir, image_tower_dir, video_tower_dir, out_dir)
    )
    if landmark_conditioning not in ("on", "off"):
        raise ConversionError(f"landmark_conditioning must be on or off, not {landmark_conditioning!r}")
    if dtype is not None and dtype not in DTYPES:
        raise ConversionError(f"dtype must be one of {sorted(DTYPES)}, not {dtype!r}")
    for folder in (facellava_dir, image_tower_dir, video_tower_dir):
        if not folder.is_dir():
            raise ConversionError(f"{folder} is not a folder")

    released = read_json(facellava_dir / fmt.CONFIG_FILE)
    where_llava = f"{facellava_dir.name}/config.json"
    fields = check_facellava_config(released, where_llava)
    text = text_config_from(released, where_llava)
    towers = [
        TowerInput.read("image", image_tower_dir, released["mm_image_tower"]),
        TowerInput.read("video", video_tower_dir, released["mm_video_tower"]),
    ]
    for tower in towers:
        if tower.config["hidden_size"] != fields["mm_hidden_size"]:
            raise ConversionError(
                f"{where_llava}: field 'mm_hidden_size' is {fields['mm_hidden_size']} but the "
                f"{tower.kind} tower ({tower.folder.name}) has hidden_size {tower.config['hidden_size']}"
            )

    llava_source = _open_source(facellava_dir)
    plan = plan_facellava(
        llava_source, fields, text, landmark_conditioning, facellava_dir.name, ignore_unknown
    )
    pairs = {
        tower.kind: TowerPair.open(
            tower, _open_source(tower.folder), llava_source, facellava_dir.name, ignore_unknown
        )
        for tower in towers
    }
    ignored = plan.ignored + [key for pair in pairs.values() for key in pair.ignored]
    warnings = plan.warnings + ([_ignored_warning(ignored)] if ignored else [])

    staging = _prepare_out_dir(out_dir)
    try:
        # The tokenizer first: a refused tokenizer must not cost a full pass over the weights.
        write_serving_tokenizer(facellava_dir, staging, text["vocab_size"])
        writer = ShardedWeightWriter(staging, max_shard_bytes)
        _write_weights(writer, llava_source, plan, pairs, DTYPES[dtype] if dtype else None)
        output_files = writer.close()
        sources = {
            "facellava": _sources_record(
                facellava_dir, llava_source, "chaubeyG/FaceLLaVA", (fmt.CONFIG_FILE, fmt.TOKENIZER_MODEL_FILE)
            ),
        }
        for tower in towers:
            sources[f"{tower.kind}_tower"] = _sources_record(
                tower.folder, pairs[tower.kind].downloaded.source, tower.hub_id, (fmt.CONFIG_FILE,)
            )
        stored_dtype = dtype or str(released.get("torch_dtype") or "float32")
        conditioning = "on" if plan.landmark_on else "off"
        config = FaceLlavaConfig(
            text_config=text,
            image_tower_config=towers[0].config,
            video_tower_config=towers[1].config,
            **fields,
            landmark_conditioning=conditioning,
            image_token_id=text["vocab_size"],
            video_token_id=text["vocab_size"] + 1,
            num_video_frames=towers[1].config["num_frames"],
            facellava_source={key: value.model_dump() for key, value in sources.items()},
            torch_dtype=stored_dtype,
        )
        config.save_pretrained(staging)
        _write_generation_config(facellava_dir, staging, text)
        report = ConversionReport(
            out_dir=str(out_dir),
            sources=sources,
            landmark_conditioning=conditioning,
            landmark_reason=plan.landmark_reason,
            dtype=stored_dtype,
            tensors_written=len(plan.llm_tensors)
            + sum(len(pair.downloaded.entries) for pair in pairs.values()),
            output_files=output_files,
            dropped_tensors=plan.dropped + [key for pair in pairs.values() for key in pair.dropped],
            unused_tensors=[key for pair in pairs.values() for key in pair.unused],
            ignored_unknown_tensors=ignored,
            lora_merged={kind: list(pair.downloaded.merged) for kind, pair in pairs.items()},
            embedded_tower_tensors_verified=sum(pair.verified for pair in pairs.values()),
            warnings=warnings,
        )
        (staging / fmt.CONVERSION_REPORT_FILE).write_text(report.model_dump_json(indent=2) + "\n")
        _publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return report


def _write_weights(
    writer: ShardedWeightWriter,
    llava_source: TensorSource,
    plan: Plan,
    pairs: dict[str, TowerPair],
    torch_dtype: torch.dtype | None,
) -> None:
    """Stream every output tensor into the writer, one input tensor at a time, with a progress bar."""

    def cast(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(torch_dtype) if torch_dtype is not None and tensor.is_floating_point() else tensor

    work: list[tuple[str, int, Callable[[], torch.Tensor]]] = []
    for name in plan.llm_tensors:
        work.append((name, llava_source.tensors[name].nbytes, lambda n=name: llava_source.get(n)))
    for pair in pairs.values():
        for name in pair.downloaded.entries:  # the embedded copy's prefix is the official output name
            size = pair.downloaded.nbytes(name)
            work.append((pair.embedded.prefix + name, size, lambda n=name, p=pair: p.tensor(n)))
    with tqdm(total=sum(size for _, size, _ in work), unit="B", unit_scale=True, desc="converting") as bar:
        for out_name, size, load in work:
            writer.add(out_name, cast(load()))
            bar.update(size)
    llava_source.close()


def _write_generation_config(facellava_dir: Path, out: Path, text: dict[str, Any]) -> None:
    source = facellava_dir / fmt.GENERATION_CONFIG_FILE
    if source.is_file():
        shutil.copyfile(source, out / fmt.GENERATION_CONFIG_FILE)
        return
    ids = {key: text[key] for key in ("bos_token_id", "eos_token_id", "pad_token_id") if key in text}
    (out / fmt.GENERATION_CONFIG_FILE).write_text(json.dumps(ids, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------------- CLI


def parse_size(text: str) -> int:
    """'2GB', '500MB', '1.5GiB' or a byte count -> bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)(i?B)?\s*", text, flags=re.IGNORECASE)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    base = 1024 if (match[3] or "").lower() == "ib" else 1000
    power = " KMGT".index(match[2].upper() or " ")
    return int(float(match[1]) * base**power)


def build_parser() -> argparse.ArgumentParser:
    """The `facellava convert` options."""
    parser = argparse.ArgumentParser(prog="facellava convert", description=__doc__.split("\n\n")[0])
    parser.add_argument("--facellava", type=Path, required=True, help="downloaded chaubeyG/FaceLLaVA folder")
    parser.add_argument(
        "--image-tower", type=Path, required=True, help="downloaded LanguageBind_Image folder"
    )
    parser.add_argument(
        "--video-tower", type=Path, required=True, help="downloaded LanguageBind_Video_merge folder"
    )
    parser.add_argument("--out", type=Path, required=True, help="serving folder to create (new or empty)")
    parser.add_argument(
        "--landmark-conditioning",
        choices=("on", "off"),
        default="off",
        help="off (default): what the official inference computes (it passes no landmarks); complete landmark "
        "weights are still written, so an engine can turn it on with --hf-overrides. on: needs every landmark "
        "weight",
    )
    parser.add_argument(
        "--dtype",
        choices=sorted(DTYPES),
        default=None,
        help="cast floating tensors (default: keep each tensor's stored dtype)",
    )
    parser.add_argument(
        "--max-shard-size",
        type=parse_size,
        default=DEFAULT_MAX_SHARD_BYTES,
        help="largest output shard, e.g. 2GB (also bounds the converter's memory)",
    )
    parser.add_argument(
        "--ignore-unknown",
        action="store_true",
        help="drop tensors that fit no module of the configured model (listed in a warning and the report) "
        "instead of refusing",
    )
    return parser


def convert_main(argv: list[str]) -> int:
    """`facellava convert ...`; a refused checkpoint is a one-line error and exit status 2."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = convert(
            args.facellava,
            args.image_tower,
            args.video_tower,
            args.out,
            landmark_conditioning=args.landmark_conditioning,
            dtype=args.dtype,
            max_shard_bytes=args.max_shard_size,
            ignore_unknown=args.ignore_unknown,
        )
    except ConversionError as error:
        logger.error("conversion refused: %s", error)
        return 2
    print(
        f"wrote {report.out_dir}: {report.tensors_written} tensors in {len(report.output_files)} file(s), "
        f"landmark conditioning {report.landmark_conditioning} ({report.landmark_reason})"
    )
    return 0
