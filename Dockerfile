# orderstore image: one static binary on an empty base.
#
# Nothing is pulled (FROM scratch): the binary and the root file system are
# prepared on the host first. One command does both and builds the image:
#
#   integration/build-image.sh            # tags orderstore:dev
#
# The build context must then hold (see .dockerignore):
#   bin/orderstore  CGO_ENABLED=0 go build -trimpath -o bin/orderstore ./cmd/orderstore
#   bin/rootfs/     files for / owned by root: etc/ssl/certs/ca-certificates.crt
#                   (copied from the host, for esdb://…?tls=true); may be empty
#   bin/data/       an empty directory: becomes /data, owned by the service user
FROM scratch

COPY bin/rootfs/ /
COPY --chown=65532:65532 bin/data/ /data/
# SQLite puts temporary files (large sorts, index builds) in /tmp; scratch
# has none, and / is not writable by the service user.
COPY --chown=65532:65532 bin/data/ /tmp/
COPY bin/orderstore /orderstore

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
