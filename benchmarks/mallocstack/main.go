// Command mallocstack measures how much goroutine stack the runtime's allocation path takes below
// the function that allocates (benchmarks/malloc_stack_measure.py runs it and explains the output).
//
// A fresh goroutine grows its stack to 8 KiB, recurses n levels of rec (a known $FRAME each) and,
// at the bottom, calls allocs: the timed programs' allocations (a 64 KiB object, then eight 8 KiB
// ones, each a span of its own, so a refill and whatever sweeping and assisting comes with it)
// while other goroutines allocate, so GC cycles start, mark and sweep meanwhile. A stack that
// moved (the address of a local changed) grew inside the allocation path. The same is done with
// calls of f512 and f1024 in place of allocs: n512 and n1024, the least depths at which
// they grow, calibrate the depth in bytes. Output:
// one JSON object, per depth from 20 levels above n512 down, how many of the trials grew.
package main

import (
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"unsafe"
)

var (
	sink  []byte
	sinkb byte
)

//go:noinline
func rec(n int, at func() bool) bool {
	var pad [16]byte
	pad[n&15] = byte(n)
	if n == 0 {
		return at()
	}
	r := rec(n-1, at)
	sinkb += pad[(n+1)&15]
	return r
}

//go:noinline
func pregrow() {
	var b [6000]byte
	b[sinkb&255] = 1
	sinkb += b[(sinkb+1)&255]
}

//go:noinline
func f512() {
	var b [512]byte
	b[sinkb&255] = 1
	sinkb += b[(sinkb+1)&255]
}

//go:noinline
func f1024() {
	var b [1024]byte
	b[sinkb&255] = 1
	sinkb += b[(sinkb+1)&255]
}

//go:noinline
func allocs() {
	sink = make([]byte, 65536)
	for i := 0; i < 8; i++ {
		sink = make([]byte, 8192)
	}
}

// grewAt: whether f, called n levels of rec below a fresh goroutine's 8 KiB stack, grew it.
func grewAt(n int, f func()) bool {
	done := make(chan bool)
	go func() {
		pregrow()
		done <- rec(n, func() bool {
			var x byte
			a := uintptr(unsafe.Pointer(&x))
			f()
			b := uintptr(unsafe.Pointer(&x))
			sinkb += x
			return a != b
		})
	}()
	return <-done
}

// least: the least depth at which a call of f grows the stack.
func least(f func()) int {
	for n := 0; n < 400; n++ {
		if grewAt(n, f) {
			return n
		}
	}
	return -1
}

func main() {
	trials, _ := strconv.Atoi(os.Args[1])
	live := make([][]byte, 0, 4096) // a live heap for the cycles to mark
	for i := 0; i < 4096; i++ {
		live = append(live, make([]byte, 4096))
	}
	go func() {
		for {
			sink = make([]byte, 32768)
			runtime.Gosched()
		}
	}()
	n512, n1024 := least(f512), least(f1024)
	out := map[string]any{"n512": n512, "n1024": n1024, "live": len(live), "gomaxprocs": runtime.GOMAXPROCS(0)}
	var grew []int
	for n := n512 - 20; n <= n512; n++ {
		g := 0
		for t := 0; t < trials; t++ {
			if grewAt(n, allocs) {
				g++
			}
		}
		grew = append(grew, g)
	}
	out["grew"] = grew // index i: depth n512-20+i
	json.NewEncoder(os.Stdout).Encode(out)
}
