// Package integration holds orderstore's tests against real servers in
// Docker containers (github.com/ory/dockertest/v3). It has no code of its
// own besides this comment: everything is in _test.go files.
//
// The tests never pull images and never fake a server. Without a Docker
// daemon every test skips, saying so; a test whose image is not present
// locally skips and tells how to get it, for example:
//
//	docker pull docker.kurrent.io/kurrent-latest/kurrentdb:25.1
//	go test ./integration/ -run KurrentDB -v
//
// Containers, networks and volumes a test creates are removed when it ends,
// and containers are also told to stop after a while in case a test process
// dies before its cleanup.
package integration
