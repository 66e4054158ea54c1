// burstjoin: how many goroutines a goroutine's burst of `go` statements has made when a P that
// the first of them woke (wakep) takes its first one. Traced: simstack's burst_join_measure.py
// reads the trace (go tool trace -d=parsed).
//
//	burstjoin TRACE ROUNDS N SPIN_US BUSY_US
//
// Each round: every P idle for 20 ms (their Ms parked), main busy for BUSY_US microseconds (the
// other Ps still idle, as when a program's main computes before it starts its workers), then
// main makes N goroutines that each spin SPIN_US microseconds and exit, and waits for them. The
// first round is the process's first burst.
package main

import (
	"context"
	"os"
	"runtime/trace"
	"strconv"
	"sync"
	"time"
)

func spin(d time.Duration) {
	t := time.Now()
	for time.Since(t) < d {
	}
}

func main() {
	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	rounds, _ := strconv.Atoi(os.Args[2])
	n, _ := strconv.Atoi(os.Args[3])
	us, _ := strconv.Atoi(os.Args[4])
	d := time.Duration(us) * time.Microsecond
	busy, _ := strconv.Atoi(os.Args[5])
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	for r := 0; r < rounds; r++ {
		time.Sleep(20 * time.Millisecond)
		spin(time.Duration(busy) * time.Microsecond)
		trace.Log(context.Background(), "burst", strconv.Itoa(r))
		var wg sync.WaitGroup
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() {
				spin(d)
				wg.Done()
			}()
		}
		wg.Wait()
	}
	trace.Stop()
	f.Close()
}
