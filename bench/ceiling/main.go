// Command ceiling is the baseline of bench/auth.sh: the least an HTTP service written
// with Go's net/http can do, answering 200 to every request. mcpguard's /auth is measured
// as a fraction of it in the same run.
//
// With -identity, it is the floor of a forward-auth service instead: it answers 200 with
// the identity headers that mcpguard's contract requires on every allow (all of them,
// empty when unknown, and an empty Authorization), with the values of the single
// API key, and does nothing else. The difference between the two baselines is what the
// contract's response costs by itself.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18001", "listen address")
	identity := flag.Bool("identity", false, "answer with the identity headers of an allow")
	flag.Parse()
	empty, user, source := []string{""}, []string{"api-key"}, []string{"apikey"}
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *identity {
			h := w.Header()
			h["X-Forwarded-User"] = user
			h["X-Forwarded-Email"] = empty
			h["X-Forwarded-Groups"] = empty
			h["X-Forwarded-Scopes"] = empty
			h["X-Auth-Source"] = source
			h["X-Auth-Client-Id"] = user
			h["Authorization"] = empty
		}
		w.WriteHeader(http.StatusOK)
	})))
}
