package oauth

import (
	"errors"
	"net/http"

	"github.com/mcpguard/mcpguard/store"
)

// RetryAfterUnavailable is the Retry-After (RFC 9110 §10.2.3, seconds) of a 503 that
// carries none of its own: a store or identity provider outage is expected to be short,
// and a client retrying every few seconds costs little.
const RetryAfterUnavailable = "2"

// retryLater sets Retry-After on a 503 that has none yet.
func retryLater(h http.Header, status int) {
	if status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", RetryAfterUnavailable)
	}
}

// whenStoreDown turns a 5xx answer whose cause is an unreachable store into 503
// temporarily_unavailable (RFC 6749 §4.1.2.1): the client should try again, and a store
// outage must not look like a fault of the request, nor like a failed credential.
// Other answers are returned unchanged.
func (f failure) whenStoreDown(status int) (int, failure) {
	if status >= http.StatusInternalServerError && errors.Is(f.cause, store.ErrUnavailable) {
		f.code = codeTemporarilyUnavailable
		return http.StatusServiceUnavailable, f
	}
	return status, f
}
