// Package storetest is the executable definition of the eventstore port:
// Run checks every rule of package eventstore against one backend.
//
// A backend's tests call Run with a Harness that opens stores of that
// backend. The suite uses a unique stream prefix per test, so a shared
// server (a KurrentDB container) works as well as a fresh directory per
// test, and tests run in parallel.
package storetest
