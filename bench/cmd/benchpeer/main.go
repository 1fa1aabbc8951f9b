// Command benchpeer serves the hand-written peer of the benchmark site.
//
//	benchpeer --root bench/site/www --addr 127.0.0.1:8081
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/aspengo/aspengo/bench/peer"
)

func main() {
	root := flag.String("root", "bench/site/www", "the benchmark site's www root (for its static file)")
	addr := flag.String("addr", "127.0.0.1:8081", "the address to listen on")
	flag.Parse()
	h, err := peer.New(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchpeer:", err)
		os.Exit(1)
	}
	if err := http.ListenAndServe(*addr, h); err != nil {
		fmt.Fprintln(os.Stderr, "benchpeer:", err)
		os.Exit(1)
	}
}
