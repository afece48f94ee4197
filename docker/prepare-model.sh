#!/bin/sh
# Fills the model volume with the converted serving folder the engine loads, once.
#   prepare-model.sh tiny  random tiny Face-LLaVA made in code (cpu-dev, compose cpu profile): no download at all.
#   prepare-model.sh hub   the three released folders from the Hugging Face Hub (chaubeyG/FaceLLaVA,
#                          LanguageBind/LanguageBind_Image, LanguageBind/LanguageBind_Video_merge), then converted.
#                          Skips the download of any folder already present under $FACELLAVA_SOURCES_DIR, so an
#                          air-gapped cluster can pre-fill that folder instead.
# The result is built beside its final place and renamed into it, so a reader (the engine's wait-for-model init
# container) sees either no folder or a complete one, and a re-run after success does nothing.
set -eu

mode="${1:?usage: prepare-model.sh tiny|hub}"
out="${FACELLAVA_MODEL_DIR:-/models/facellava}"
sources="${FACELLAVA_SOURCES_DIR:-/models/src}"

if [ -f "$out/config.json" ]; then
    echo "prepare-model: $out already holds a converted model; nothing to do"
    exit 0
fi

case "$mode" in
    tiny)
        rm -rf "$sources"
        facellava tiny-checkpoint "$sources"
        ;;
    hub)
        for repo in chaubeyG/FaceLLaVA LanguageBind/LanguageBind_Image LanguageBind/LanguageBind_Video_merge; do
            dest="$sources/${repo#*/}"
            if [ ! -f "$dest/config.json" ]; then
                hf download "$repo" --local-dir "$dest"
            fi
        done
        ;;
    *)
        echo "prepare-model: unknown mode '$mode' (expected tiny or hub)" >&2
        exit 2
        ;;
esac

partial="$out.partial"
rm -rf "$partial"
facellava convert \
    --facellava "$sources/FaceLLaVA" \
    --image-tower "$sources/LanguageBind_Image" \
    --video-tower "$sources/LanguageBind_Video_merge" \
    --out "$partial"
mv "$partial" "$out"
echo "prepare-model: converted model ready at $out"
