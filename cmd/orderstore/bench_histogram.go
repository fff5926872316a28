package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram is a log-linear latency histogram in nanoseconds, in the
// manner of HDR histograms: values below 256 ns are exact; above, each
// power-of-two range has 128 buckets, so a quantile is within 1/128
// (0.8 %) of the true value in constant memory however long the run.
// Exact sorted samples would cost 8 bytes a request; this costs 35 KB an
// operation. Recording is lock-free, so clients never contend on a mutex.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64
}

const (
	histSubBits  = 7
	histSub      = 1 << histSubBits
	histMaxShift = 32
	histBuckets  = (histMaxShift + 2) * histSub
	// histMaxValue (about 18 minutes) is where values are clamped.
	histMaxValue = 1<<(histMaxShift+histSubBits+1) - 1
)

// histIndex is the bucket of v: with s the shift that brings v into
// [128, 256), bucket s·128 + v>>s.
func histIndex(v int64) int {
	v = min(max(v, 0), histMaxValue)
	s := max(0, bits.Len64(uint64(v))-(histSubBits+1))
	return s*histSub + int(v>>s)
}

// histBounds returns the lowest value and the width of bucket i.
func histBounds(i int) (lo, width int64) {
	if i < 2*histSub {
		return int64(i), 1
	}
	s := i/histSub - 1
	return int64(i-s*histSub) << s, 1 << s
}

func (h *histogram) record(d time.Duration) {
	h.counts[histIndex(int64(d))].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

type histSnapshot struct {
	counts []uint64
	total  uint64
	max    time.Duration
}

func (h *histogram) snapshot() histSnapshot {
	s := histSnapshot{counts: make([]uint64, histBuckets), max: time.Duration(h.max.Load())}
	for i := range h.counts {
		s.counts[i] = h.counts[i].Load()
		s.total += s.counts[i]
	}
	return s
}

// quantile returns the highest value of the bucket holding the q-th
// quantile, capped at the maximum: never below the true value.
func (s histSnapshot) quantile(q float64) time.Duration {
	if s.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.total)))
	rank = min(max(rank, 1), s.total)
	var cum uint64
	for i, c := range s.counts {
		cum += c
		if cum >= rank {
			lo, width := histBounds(i)
			return min(time.Duration(lo+width-1), s.max)
		}
	}
	return s.max
}
