// Command httpserve is a small net/http service driven over loopback by a bounded client in
// the same process, traced with runtime/trace: a real program for `simstack fit`'s round trip
// (benchmarks/fit_roundtrip.py). The server is the standard library's (one goroutine per
// connection, conn.serve); the handler decodes a JSON body, walks a small tree recursively and
// answers in JSON. Clients: 16 goroutines, each sending requests over its own keep-alive
// connection, new connections every 20 requests, for the given duration.
//
//	GODEBUG=traceallocfree=1 GOMAXPROCS=2 ./httpserve trace.out 1.5s
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/trace"
	"sync"
	"time"
)

type request struct {
	Depth int    `json:"depth"`
	Name  string `json:"name"`
}

type node struct {
	Name     string  `json:"name"`
	Children []*node `json:"children,omitempty"`
}

func build(depth int, name string) *node {
	n := &node{Name: name}
	if depth > 0 {
		for i := 0; i < 2; i++ {
			n.Children = append(n.Children, build(depth-1, fmt.Sprintf("%s.%d", name, i)))
		}
	}
	return n
}

func handle(w http.ResponseWriter, r *http.Request) {
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if req.Depth > 10 {
		req.Depth = 10
	}
	time.Sleep(200 * time.Microsecond) // a backend call
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(build(req.Depth, req.Name))
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: httpserve TRACE DURATION")
		os.Exit(2)
	}
	dur, err := time.ParseDuration(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(handle)}
	go srv.Serve(ln)
	url := "http://" + ln.Addr().String() + "/"

	f, err := os.Create(os.Args[1])
	if err != nil {
		panic(err)
	}
	if err := trace.Start(f); err != nil {
		panic(err)
	}
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			n := 0
			for time.Now().Before(deadline) {
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
				for i := 0; i < 20 && time.Now().Before(deadline); i++ {
					body, _ := json.Marshal(request{Depth: (c + i) % 8, Name: fmt.Sprintf("c%d", c)})
					resp, err := client.Post(url, "application/json", bytes.NewReader(body))
					if err != nil {
						panic(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n++
				}
				client.CloseIdleConnections()
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	trace.Stop()
	f.Close()
	srv.Close()
	fmt.Printf("{\"requests\": %d}\n", total)
}
