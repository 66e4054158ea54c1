// gcthreads: the threads (Ms) a process has started by each runtime.GC(), with N goroutines parked.
//
// Usage: gcthreads N GCS
//
// Prints the thread count (runtime.ThreadCreateProfile) at start, after starting N goroutines
// that recurse 10 frames and park, and after each of GCS cycles (runtime.GC, 2 ms apart), on
// one line. At GOMAXPROCS >= 2 each cycle can start Ms: gcBgMarkStartWorkers starts the mark
// workers one at a time (first cycle), and startTheWorld's wakep wakes idle Ps that run idle
// mark workers, each waking the next (resetspinning); how many Ps are up before the mark ends
// is a race, which benchmarks/gc_threads_measure.py measures.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

var sink [][]byte

func threads() int { n, _ := runtime.ThreadCreateProfile(nil); return n }

//go:noinline
func rec(d int, gate chan struct{}) int {
	if d == 0 {
		<-gate
		return 0
	}
	return rec(d-1, gate) + 1
}

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	gcs, _ := strconv.Atoi(os.Args[2])
	for i := 0; i < 1000; i++ {
		sink = append(sink, make([]byte, 1024)) // a small live heap for the cycles to mark
	}
	gate := make(chan struct{})
	fmt.Print(threads())
	for i := 0; i < n; i++ {
		go rec(10, gate)
	}
	time.Sleep(5 * time.Millisecond)
	fmt.Print(" ", threads())
	for i := 0; i < gcs; i++ {
		time.Sleep(2 * time.Millisecond)
		runtime.GC()
		fmt.Print(" ", threads())
	}
	fmt.Println()
	close(gate)
}
