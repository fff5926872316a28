#!/bin/sh
# Builds the static orderstore binary on the host and the image from it,
# with Dockerfile.prebuilt: nothing is pulled (FROM scratch). For a machine
# with a registry, `docker build .` builds the same image from source.
#
#   integration/build-image.sh [image]     (default orderstore:dev)
#
# GOARCH follows the Docker daemon's architecture unless set.
set -eu
cd "$(dirname "$0")/.."
image=${1:-orderstore:dev}

if [ -z "${GOARCH:-}" ]; then
	case $(docker info --format '{{.Architecture}}') in
	x86_64 | amd64) GOARCH=amd64 ;;
	aarch64 | arm64) GOARCH=arm64 ;;
	*) GOARCH=$(go env GOARCH) ;;
	esac
fi

# The build context: bin/image/, holding only what Dockerfile.prebuilt
# copies (see its header).
ctx=bin/image
rm -rf "$ctx"
mkdir -p "$ctx/rootfs" "$ctx/data"
printf '*\n' >bin/.gitignore # build output: never committed
cp Dockerfile.prebuilt "$ctx/Dockerfile"
CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH go build -trimpath -o bin/orderstore ./cmd/orderstore
cp bin/orderstore "$ctx/orderstore"
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	mkdir -p "$ctx/rootfs/etc/ssl/certs"
	cp /etc/ssl/certs/ca-certificates.crt "$ctx/rootfs/etc/ssl/certs/"
else
	echo "build-image: no /etc/ssl/certs/ca-certificates.crt on this host:" \
		"the image cannot verify TLS (use esdb://…?tls=false)" >&2
fi
docker build -t "$image" "$ctx"
echo "built $image"
