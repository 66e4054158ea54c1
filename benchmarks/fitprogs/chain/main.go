// Command chain runs the Go tree's goroutine torture test, test/chan/goroutines.go (Copyright
// 2009 The Go Authors, BSD license; its code below unchanged but for main's name), under
// runtime/trace: a real program nobody wrote for simstack, for `simstack fit`'s round trip
// (benchmarks/fit_roundtrip.py). It makes a chain of n goroutines threaded together by
// channels, passes one value down it and tears it down; run it `rounds` times.
//
//	GODEBUG=traceallocfree=1 GOMAXPROCS=2 ./chain trace.out 10000 20
package main

import (
	"fmt"
	"os"
	"runtime/trace"
	"strconv"
)

// --- test/chan/goroutines.go ---

func f(left, right chan int) {
	left <- <-right
}

func goroutines(n int) {
	leftmost := make(chan int)
	right := leftmost
	left := leftmost
	for i := 0; i < n; i++ {
		right = make(chan int)
		go f(left, right)
		left = right
	}
	go func(c chan int) { c <- 1 }(right)
	<-leftmost
}

// --- the tracing wrapper ---

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: chain TRACE N ROUNDS")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[2])
	rounds, _ := strconv.Atoi(os.Args[3])
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	for r := 0; r < rounds; r++ {
		goroutines(n)
	}
	trace.Stop()
	f.Close()
}
