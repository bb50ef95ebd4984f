# vineyardd for local container runs and the container tests; in the cluster Fluid provides it.
# The binary comes from the vineyard-bdist wheel, the same one the workspace's vineyard pulls in.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
COPY deploy/images/.build/extra-ca-certs.pem /tmp/extra-ca-certs.pem
RUN cat /etc/ssl/certs/ca-certificates.crt /tmp/extra-ca-certs.pem > /tmp/ca-bundle.pem
ENV PIP_CERT=/tmp/ca-bundle.pem
ARG VINEYARD_VERSION=0.24.2
RUN python3 -m venv /opt/pip \
 && /opt/pip/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps \
      --target /opt/bdist "vineyard-bdist==${VINEYARD_VERSION}"


FROM ${BASE_IMAGE}
# Same uid as the step images: the socket it creates must be usable by them.
RUN groupadd --gid 1000 shmpipe \
 && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin shmpipe
COPY --from=builder /opt/bdist/vineyard/bdist/vineyardd /usr/local/bin/vineyardd
USER 1000:1000
# The image's own socket, for local runs and the container tests (tests/containers). Fluid's worker
# listens on vineyard-worker.sock instead (charts/vineyard/templates/worker/statefulset.yaml), and
# the workflow tests start this image with that name.
ENTRYPOINT ["vineyardd", "-meta=local", "-rpc=false", "-socket=/var/run/vineyard/vineyard.sock"]
CMD ["-size=512Mi"]
