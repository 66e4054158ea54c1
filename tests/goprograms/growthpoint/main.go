// growthpoint: goroutines that run a while on a small stack, then recurse deep and run as long
// again at the bottom, one after another with the P idle 2 ms between them. The stack reaches its
// largest size halfway through the goroutine's only run. (Back to back, as `go test`'s subtests
// run, a simulation whose goroutines arrive at the observed times queues them behind one another
// at the first difference of P time: docs/fit.md.)
//
//	GODEBUG=traceallocfree=1 ./growthpoint out.trace [goroutines]
package main

import (
	"os"
	"runtime/trace"
	"strconv"
	"time"
)

const depth = 1200 // frames of ~200 bytes: about 256 KiB of stack

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
		spin(2 * time.Millisecond)
		return pad[0]
	}
	return recurse(n-1) + pad[n%160]
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	n := 30
	if len(os.Args) > 2 {
		n, _ = strconv.Atoi(os.Args[2])
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	done := make(chan byte)
	for i := 0; i < n; i++ {
		go func() {
			spin(2 * time.Millisecond)
			done <- recurse(depth)
		}()
		<-done
		time.Sleep(2 * time.Millisecond)
	}
	trace.Stop()
	f.Close()
}
