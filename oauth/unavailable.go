package oauth

import (
	"errors"
	"net/http"

	"github.com/mcpguard/mcpguard/store"
)

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
