// subtests: a test binary's shape without the testing package. Main runs tests one after another,
// each made with go and waited for on a channel, as t.Run does; each test runs a few subtests the
// same way, between runs of its own; a subtest spins, recurses and spins again. Nothing sleeps: at
// GOMAXPROCS 1 the P is never idle, so a simulation that makes each goroutine at its observed time,
// instead of when its maker reaches it, queues them behind one another (docs/fit.md, joins).
//
//	GODEBUG=traceallocfree=1 ./subtests out.trace [tests]
package main

import (
	"os"
	"runtime/trace"
	"strconv"
	"time"
)

//go:noinline
func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

//go:noinline
func recurse(n int) byte {
	var pad [160]byte
	pad[n%160] = byte(n)
	if n == 0 {
		spin(100 * time.Microsecond)
		return pad[0]
	}
	return recurse(n-1) + pad[n%160]
}

// run makes f's goroutine and waits until it is done (t.Run).
func run(f func()) {
	done := make(chan struct{})
	go func() {
		f()
		done <- struct{}{}
	}()
	<-done
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	n := 40
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	for i := 0; i < n; i++ {
		run(func() {
			spin(50 * time.Microsecond)
			for j := 0; j < i%4; j++ {
				depth := (i*7 + j*13) % 300
				run(func() {
					spin(time.Duration(100+(i*j)%5*50) * time.Microsecond)
					recurse(depth)
				})
				spin(30 * time.Microsecond)
			}
		})
	}
	trace.Stop()
	f.Close()
}
