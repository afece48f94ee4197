# GPU engine image: vllm 0.33.0 (requirements/engine-gpu.txt) on a CUDA base with our Face-LLaVA plugin
# (entry point vllm.general_plugins).
# The converted model is mounted read-only at /models/facellava; nothing is downloaded at start.
# Build from the repository root:  docker build -f docker/engine-gpu.Dockerfile -t facellava/engine-gpu:0.1.0 .
# vllm 0.33.0 pins torch 2.14.0, whose PyPI wheel brings its own CUDA 13 libraries; the base image supplies the
# driver integration (NVIDIA_* variables, compat libraries) the NVIDIA container runtime expects.
ARG CUDA_IMAGE=nvidia/cuda:13.0.2-base-ubuntu24.04

FROM ${CUDA_IMAGE} AS build
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/engine-gpu.txt requirements/
RUN pip install -r requirements/engine-gpu.txt
COPY pyproject.toml ./
COPY common common
COPY model model
COPY conversion conversion
COPY service service
RUN pip install --no-deps .

FROM ${CUDA_IMAGE}
LABEL org.opencontainers.image.title="facellava-engine-gpu" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV DEBIAN_FRONTEND=noninteractive
# gcc, libc6-dev, python3-dev: Triton compiles its small launcher modules with the host C compiler when the model
# first loads ("Failed to find C compiler" without them).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-dev gcc libc6-dev libnuma1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 facellava \
    && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/facellava facellava \
    && install -d -o 10001 -g 10001 /models
COPY --from=build /opt/venv /opt/venv
COPY docker/engine_serve.py /usr/local/bin/engine-serve
COPY docker/prepare-model.sh /usr/local/bin/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    VLLM_NO_USAGE_STATS=1 \
    FACELLAVA_DEVICE=gpu
USER 10001:10001
WORKDIR /home/facellava
EXPOSE 8001
HEALTHCHECK --interval=30s --timeout=5s --start-period=900s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=4)"]
ENTRYPOINT ["engine-serve"]
