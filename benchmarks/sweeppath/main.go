// Finds how deep a 64 KiB (or 8 KiB) allocation goes below its caller on a goroutine's stack:
// the shallowest recursion depth at which allocating from a 4 KiB stack grows it.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/trace"
	"strconv"
	"unsafe"
)

var sink []byte
var live [][]byte
var size int
var reps int

//go:noinline
func rec(n int, f func()) uintptr {
	var pad [8]byte
	pad[n%8] = 1
	if n > 0 {
		return rec(n-1, f) + uintptr(pad[0])
	}
	f()
	return uintptr(pad[1])
}

func work() {
	for i := 0; i < reps; i++ {
		sink = make([]byte, size)
	}
}

func nothing() {}

func worker(warm, d int, f func(), res chan<- int) {
	var x int
	a := uintptr(unsafe.Pointer(&x))
	rec(warm, nothing)
	b := uintptr(unsafe.Pointer(&x))
	rec(d, f)
	c := uintptr(unsafe.Pointer(&x))
	r := 0
	if a != b {
		r |= 1 // warm-up grew
	}
	if b != c {
		r |= 2 // the allocation's depth grew
	}
	res <- r
}

func main() {
	size, _ = strconv.Atoi(os.Args[1])
	reps, _ = strconv.Atoi(os.Args[2])
	warm, _ := strconv.Atoi(os.Args[3])
	lo, _ := strconv.Atoi(os.Args[4])
	hi, _ := strconv.Atoi(os.Args[5])
	n, _ := strconv.Atoi(os.Args[6])
	for i := 0; i < (64<<20)/8192; i++ {
		live = append(live, make([]byte, 8192))
	}
	if os.Getenv("TRACE") != "" {
		trace.Start(io.Discard)
		defer trace.Stop()
	}
	f := work
	if size == 0 {
		f = nothing
	}
	res := make(chan int)
	if os.Getenv("MAXSTACK") != "" {
		debug.SetMaxStack(4096)
	}
	for d := lo; d <= hi; d++ {
		warmGrew, grew := 0, 0
		for i := 0; i < n; i++ {
			go worker(warm, d, f, res)
			r := <-res
			if r&1 != 0 {
				warmGrew++
			}
			if r&2 != 0 {
				grew++
			}
		}
		fmt.Printf("depth %d: warm grew %d/%d, grew at depth %d/%d\n", d, warmGrew, n, grew, n)
	}
	runtime.KeepAlive(live)
}
