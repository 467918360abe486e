# smtpfake as a sidecar: SMTP on 2525, the HTTP API and web page on 8025, servers on demand on
# 2600-2699 (POST /api/servers; publish the part of the range you use, same numbers inside and out).
#   docker build -t smtpfake .
#   docker run --rm -p 127.0.0.1:2525:2525 -p 127.0.0.1:8025:8025 smtpfake
# Offline builds (no package index reachable from the build): put wheels in .wheelhouse/ first,
# built for the image's Python and platform (not the host's), e.g. for python:3.12-slim on x86-64:
#   pip wheel --no-deps --wheel-dir dist .
#   pip download --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
#     --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --dest .wheelhouse \
#     "$(ls dist/smtpfake-*.whl)[tls,sidecar]" hatchling
#   docker build --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=/src/.wheelhouse .
ARG BASE=python:3.12-slim
FROM ${BASE}

# pip reads these from the environment; empty means its defaults (the public index)
ARG PIP_NO_INDEX
ARG PIP_FIND_LINKS
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

# .dockerignore keeps the context to what the package needs (and .wheelhouse/ when present)
COPY . /src
# the wheel carries the built-in scenarios (pyproject force-includes scenarios/) and the web page;
# the tls extra (trustme) generates certificates for TLS scenarios, whose CA GET /api/tls/ca hands
# out; the sidecar extra (aiohttp) serves the API
RUN python3 -m pip install '/src[tls,sidecar]' \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin smtpfake \
    && mkdir -p /scenarios

USER 10001:10001
WORKDIR /tmp

# in a container, listen on every interface; publish the ports on 127.0.0.1, or set a token
ENV SMTPFAKE_HOST=0.0.0.0 \
    SMTPFAKE_PORT=2525 \
    SMTPFAKE_API_HOST=0.0.0.0 \
    SMTPFAKE_API_PORT=8025 \
    SMTPFAKE_SERVER_PORTS=2600-2699 \
    SMTPFAKE_SCENARIO_DIRS=/scenarios
EXPOSE 2525 8025 2600-2699

# readiness: the scenario is loaded and SMTP listens (no token needed for /api/health)
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/api/health' % os.environ.get('SMTPFAKE_API_PORT', '8025'), timeout=2)"]

# exec form: smtpfake is PID 1 and handles SIGTERM itself (exit 0 within a second)
ENTRYPOINT ["smtpfake", "serve"]
