# syntax=docker/dockerfile:1
# flowload on the official Locust image: same user (locust), venv (/opt/venv) and ports (8089 web
# UI, 5557 workers), with flowload installed from this checkout.
#
#   docker build -t flowload .
#   docker run --rm -v "$PWD/reports:/flowload/reports" flowload --headless -u 10 -r 10 -t 20s
#
# With no target, the bundled simulator runs inside the container. Keys are never part of the
# image (the build context holds only the files listed in .dockerignore): give them when the
# container runs (docker run -e FLOW_API_KEY, a Kubernetes Secret). Kubernetes: deploy/kubernetes.
ARG LOCUST_VERSION=2.47.0
FROM locustio/locust:${LOCUST_VERSION}

# The base image runs as "locust", who owns /opt/venv. The checkout is bind-mounted for this step
# only and copied to a scratch directory (setuptools writes its build files next to the sources),
# so no source tree, wheel or pip cache stays in a layer.
RUN --mount=type=bind,target=/tmp/context \
    mkdir /tmp/flowload-build \
    && cp -r /tmp/context/pyproject.toml /tmp/context/README.md /tmp/context/harness \
        /tmp/flowload-build/ \
    && pip install --no-cache-dir /tmp/flowload-build \
    && rm -rf /tmp/flowload-build

USER 0
COPY locustfiles /opt/flowload/locustfiles
COPY deploy/docker/entrypoint.py /opt/flowload/entrypoint.py
# The working directory belongs to the run: reports/<time>-<id>/ lands in the volume below.
# USER by number (the base image's "locust" is 1000): Kubernetes' runAsNonRoot can check it.
RUN mkdir -p /flowload/reports && chown -R locust:locust /flowload \
    && test "$(id -u locust):$(id -g locust)" = "1000:1000"
USER 1000:1000
WORKDIR /flowload
VOLUME ["/flowload/reports"]

# HOME may be read-only (the Locust operator mounts its ConfigMap there): matplotlib's cache
# goes to /tmp instead of a warning.
ENV LOCUST_LOCUSTFILE=/opt/flowload/locustfiles/flow_stream.py \
    FLOWLOAD_REPORTS=/flowload/reports \
    MPLCONFIGDIR=/tmp/matplotlib
# Fails the build if flowload, its Locust glue or the bundled simulator does not import.
RUN python -c "import harness.locust_glue, harness.simulator"

ENTRYPOINT ["python", "/opt/flowload/entrypoint.py"]
