# orderstore image: built from source, for a machine that can pull the
# official Go image.
#
#   docker build -t orderstore:dev .
#   docker compose up --build            (docker-compose.yml: build: .)
#
# Where no registry is reachable, Dockerfile.prebuilt makes the same image
# from a binary built on the host: integration/build-image.sh.
# docs/docker.md describes both.

# The Go of go.mod's go line (integration/dockerfile_test.go checks it).
ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first: this layer stays cached while only the code changes.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static (the embedded store's SQLite is pure Go): the image has no libc.
# TARGETOS/TARGETARCH are set by BuildKit (docker buildx --platform);
# the classic builder leaves them empty, which builds for its own machine.
ARG TARGETOS
ARG TARGETARCH
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -o /out/orderstore ./cmd/orderstore
# /data and /tmp, to be owned by the service user in the image.
RUN mkdir -p /out/data /out/tmp

FROM scratch
# The CA bundle of the Go image (Debian's ca-certificates), for
# esdb://…?tls=true.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build --chown=65532:65532 /out/data/ /data/
# SQLite puts temporary files (large sorts, index builds) in /tmp; scratch
# has none, and / is not writable by the service user.
COPY --from=build --chown=65532:65532 /out/tmp/ /tmp/
COPY --from=build /out/orderstore /orderstore

# From here on, the same as Dockerfile.prebuilt (the test checks it).
# Numeric, so that no /etc/passwd is needed; the same uid owns /data, and a
# fresh named volume mounted there inherits that ownership.
USER 65532:65532
# The embedded event store and the read models (SQLite files).
VOLUME /data
EXPOSE 8080

# No shell in the image: the binary checks its own readiness (GET /readyz).
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s CMD ["/orderstore", "health", "--addr", "127.0.0.1:8080"]

ENTRYPOINT ["/orderstore"]
CMD ["serve", "--addr", "0.0.0.0:8080", "--data", "/data"]
