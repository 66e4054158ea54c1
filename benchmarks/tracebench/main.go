// A busy program for benchmarking `simstack trace read` on large traces: workers that recurse,
// allocate heap objects (most of a traceallocfree trace; "noalloc" leaves them out) and exit,
// for a given time.
//
//	GODEBUG=traceallocfree=1 ./tracebench TRACE SECONDS [noalloc]
package main

import (
	"os"
	"runtime/trace"
	"strconv"
	"sync"
	"time"
)

var sink [][]byte
var mu sync.Mutex
var alloc = true

//go:noinline
func rec(n int, keep [][]byte) int {
	var buf [128]byte
	buf[n%128] = byte(n)
	if alloc {
		keep = append(keep, make([]byte, 64+n%512))
	}
	if n <= 0 && alloc {
		mu.Lock()
		if len(sink) > 4096 {
			sink = sink[:0]
		}
		sink = append(sink, keep[len(keep)-1])
		mu.Unlock()
		return int(buf[0])
	}
	if n <= 0 {
		return int(buf[0])
	}
	return rec(n-1, keep) + int(buf[n%128])
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	secs, _ := strconv.ParseFloat(os.Args[2], 64)
	alloc = len(os.Args) < 4 || os.Args[3] != "noalloc"
	trace.Start(f)
	end := time.Now().Add(time.Duration(secs * float64(time.Second)))
	var wg sync.WaitGroup
	for i := 0; time.Now().Before(end); i++ {
		wg.Add(1)
		go func(d int) { defer wg.Done(); rec(d, nil) }((i * 37) % 200)
		if i%64 == 0 {
			wg.Wait()
		}
	}
	wg.Wait()
	trace.Stop()
	f.Close()
}
