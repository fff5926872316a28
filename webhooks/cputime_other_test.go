//go:build !unix

package webhooks

import "time"

// cpuTime is not measured here: the benchmarks report 0 CPU per delivery.
func cpuTime() time.Duration { return 0 }

// rssMiB is not measured here.
func rssMiB() float64 { return 0 }
