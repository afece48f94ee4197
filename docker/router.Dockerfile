# Router image: vLLM's own router (vllm-router from PyPI: Rust, with a Python launcher) in front of the engine
# replicas; none of our code. Build from the repository root:
#   docker build -f docker/router.Dockerfile -t facellava/router:0.1.0 .
# Arguments after the image name are router flags (worker URLs or Kubernetes discovery, policy, health checks).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/router.txt requirements/
RUN pip install -r requirements/router.txt

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="facellava-router" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 facellava \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --shell /usr/sbin/nologin facellava
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
# The engine's port: the gateway's FACELLAVA_ENGINE_URL keeps its port whether it names an engine or the router.
EXPOSE 8001
# /liveness: the router process answers. (/health turns 503 while any one replica is down; /readiness while none
# is healthy.)
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8001/liveness', timeout=2)"]
ENTRYPOINT ["vllm-router", "--host", "0.0.0.0", "--port", "8001"]
