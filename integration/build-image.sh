#!/bin/sh
# Builds the static orderstore binary into bin/ and the image from it.
#
#   integration/build-image.sh [image]     (default orderstore:dev)
#
# Nothing is pulled: the Dockerfile starts FROM scratch. GOARCH follows the
# Docker daemon's architecture unless set.
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

rm -rf bin/rootfs bin/data
mkdir -p bin/rootfs bin/data
printf '*\n' >bin/.gitignore # build output: never committed
CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH go build -trimpath -o bin/orderstore ./cmd/orderstore
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
	mkdir -p bin/rootfs/etc/ssl/certs
	cp /etc/ssl/certs/ca-certificates.crt bin/rootfs/etc/ssl/certs/
else
	echo "build-image: no /etc/ssl/certs/ca-certificates.crt on this host:" \
		"the image cannot verify TLS (use esdb://…?tls=false)" >&2
fi
docker build -t "$image" .
echo "built $image"
