# Gateway image: FastAPI + preprocessing worker pool on CPU. No torch, no vLLM (they never meet this process).
# Build from the repository root:  docker build -f docker/gateway.Dockerfile -t facellava/gateway:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/gateway.txt requirements/gateway-nodeps.txt requirements/
# mediapipe 0.10.21 declares jax and the GUI OpenCV, which the face solutions never use: installed without deps.
RUN pip install -r requirements/gateway.txt \
    && pip install --no-deps -r requirements/gateway-nodeps.txt
COPY pyproject.toml ./
COPY common common
COPY service service
RUN pip install --no-deps . \
    && python -c "import importlib.util as u, sys; sys.exit(u.find_spec('torch') is not None)"

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="facellava-gateway" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 facellava \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin facellava
COPY --from=build /opt/venv /opt/venv
# Read-only root filesystem in Kubernetes: everything that writes goes to /tmp (an emptyDir there).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    FACELLAVA_HOST=0.0.0.0 \
    FACELLAVA_PORT=8000
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["facellava", "serve"]
