// A program that changes GOMAXPROCS while it is traced, as the Go runtime's own TestStackMem
// does: 1 P for about 100 ms, 2 Ps for about 300 ms, then 1 again for about 100 ms, with
// goroutines growing their stacks throughout.
//
//	GODEBUG=traceallocfree=1 ./procresize TRACE
package main

import (
	"os"
	"runtime"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"
)

var sink atomic.Int64

//go:noinline
func rec(n int) int {
	var buf [256]byte
	buf[n%256] = byte(n)
	if n <= 0 {
		return int(buf[0])
	}
	return rec(n-1) + int(buf[n%256])
}

// spawn starts rounds of 20 goroutines that grow, sleep and exit, for about d.
func spawn(d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		var wg sync.WaitGroup
		for i := 0; i < 20; i++ {
			wg.Add(1)
			go func(depth int) {
				defer wg.Done()
				sink.Add(int64(rec(depth)))
				time.Sleep(time.Millisecond)
			}(i * 5)
		}
		wg.Wait()
	}
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	runtime.GOMAXPROCS(1)
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	spawn(100 * time.Millisecond)
	runtime.GOMAXPROCS(2)
	spawn(300 * time.Millisecond)
	runtime.GOMAXPROCS(1)
	spawn(100 * time.Millisecond)
	trace.Stop()
	if err := f.Close(); err != nil {
		panic(err)
	}
}
