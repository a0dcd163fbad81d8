// Command ceiling is the baseline of bench/auth.sh: the least an HTTP service written
// with Go's net/http can do, answering 200 to every request. mcpguard's /auth is measured
// as a fraction of it in the same run.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18001", "listen address")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})))
}
