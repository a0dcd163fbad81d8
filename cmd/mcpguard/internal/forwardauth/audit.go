package forwardauth

// The audit line and the metrics of a decision.

import (
	"net/http"
	"time"

	"github.com/mcpguard/mcpguard/policy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// record writes the audit line and the metrics of one decision. The line names who,
// what and the outcome; it never holds a credential, a cookie or the query string.
func (d *Decider) record(r *http.Request, v *verdict, took time.Duration) {
	source := string(policy.SourceAnonymous)
	var user, client string
	if v.authenticated {
		source, client = v.principal.Source, v.principal.ClientID
		user = v.principal.Email
		if user == "" {
			user = v.principal.Subject
		}
	}
	oc := d.outcome(outcomeKey{v.decision.Resource, v.status, v.reason, source})
	oc.decisions.Inc()
	d.latency.Observe(took.Seconds())

	e := oc.log.WithLevel(oc.level)
	if e == nil {
		return
	}
	e = e.Str("user", user).Str("client_id", client).Str("method", v.orig.Method).
		Str("host", v.orig.Host).Str("path", v.orig.Path).Str("peer", r.RemoteAddr).
		Int64("us", took.Microseconds())
	if v.decision.Resource != nil {
		if m := r.Header.Get("Mcp-Method"); m != "" {
			e = e.Str("mcp_method", m).Str("tool", r.Header.Get("Mcp-Name"))
		}
	}
	if len(v.decision.Missing) > 0 {
		e = e.Strs("missing_scopes", v.decision.Missing)
	}
	if v.cause != nil {
		e = e.AnErr("cause", v.cause)
	}
	e.Msg("auth decision")
}

// outcomeKey names a kind of decision: what its metrics and audit line share with every
// other decision of the kind. The keys are bounded by the configuration (resources ×
// statuses × reasons × credential kinds).
type outcomeKey struct {
	resource *policy.Resource
	status   int
	reason   string
	source   string
}

// outcome is a kind of decision, prepared once: its counter, and a logger whose context
// already holds the fields every line of the kind starts with.
type outcome struct {
	decisions prometheus.Counter
	log       zerolog.Logger
	level     zerolog.Level
}

// outcome returns the prepared outcome of k, preparing it on first use.
func (d *Decider) outcome(k outcomeKey) *outcome {
	if oc, ok := d.outcomes.Load(k); ok {
		return oc.(*outcome)
	}
	result := "allow"
	switch k.status {
	case http.StatusUnauthorized:
		result = "challenge"
	case http.StatusForbidden:
		result = "deny"
	case http.StatusInternalServerError, http.StatusServiceUnavailable:
		result = "error"
	}
	var resource string
	if k.resource != nil {
		resource = k.resource.URL()
	}
	oc := &outcome{
		decisions: d.decisions.WithLabelValues(result, k.reason, k.source),
		log: d.log.With().Str("decision", result).Int("status", k.status).Str("reason", k.reason).
			Str("source", k.source).Str("resource", resource).Logger(),
		level: zerolog.InfoLevel,
	}
	if k.status >= http.StatusInternalServerError {
		oc.level = zerolog.ErrorLevel
	}
	actual, _ := d.outcomes.LoadOrStore(k, oc)
	return actual.(*outcome)
}
