//go:build !race

package campaign

// raceEnabled makes the binary under test race-checked like the tests, and
// lets it share their build cache.
const raceEnabled = false
