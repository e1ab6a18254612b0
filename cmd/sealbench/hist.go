package main

import (
	"math/bits"
	"time"
)

// histogram counts latencies in log-linear buckets, like HdrHistogram: exact
// below 128 ns, then 64 buckets per power of two, so a reported quantile is
// within 1% of the true one. Its memory is fixed (about 16 KiB) however many
// requests it counts.
type histogram struct {
	counts []uint64
	total  uint64
	max    time.Duration
}

const (
	histSubBits = 7
	histMax     = time.Duration(1) << 37 // about 137 s; longer latencies count as this
)

var histBuckets = bucketOf(histMax) + 1

func newHistogram() *histogram { return &histogram{counts: make([]uint64, histBuckets)} }

// bucketOf maps a latency to its bucket: the top histSubBits bits of d select
// one of 64 buckets within d's power of two.
func bucketOf(d time.Duration) int {
	d = min(max(d, 0), histMax)
	v := uint64(d) // #nosec G115 -- d is clamped to 0..histMax above
	e := max(bits.Len64(v)-histSubBits, 0)
	return e<<(histSubBits-1) + int(v>>e) // #nosec G115 -- v>>e < 2^histSubBits
}

// bucketRange is the smallest latency of bucket i and the bucket's width.
func bucketRange(i int) (lower, width time.Duration) {
	if i < 1<<histSubBits {
		return time.Duration(i), 1
	}
	e := i>>(histSubBits-1) - 1
	m := i - e<<(histSubBits-1)
	return time.Duration(m) << e, time.Duration(1) << e
}

func (h *histogram) record(d time.Duration) {
	h.counts[bucketOf(d)]++
	h.total++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of the counted ones
// lie: the middle of the bucket holding that rank, or 0 for an empty histogram.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.999999) // ceil, without float noise
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			lower, width := bucketRange(i)
			return min(lower+width/2, h.max)
		}
	}
	return h.max
}
