package doctor

// The mcp-tools check: with the token of the client-credentials check, one MCP session
// over Streamable HTTP (MCP 2025-11-25 "Transports"): initialize, the initialized
// notification, then tools/list, or tools/call of the tool --tool names; then the
// session is ended. It shows that a machine's token opens the MCP server itself, through
// the proxy, not only its front door.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

const checkMCPTools = "mcp-tools"

// rpcMessage is a JSON-RPC 2.0 response as the check reads it.
type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// mcpSession is one MCP session of the check with a bearer token.
type mcpSession struct {
	d       *diagnosis
	token   string
	id      string // Mcp-Session-Id, once the server gave one
	version string // the negotiated protocol version
}

// errRefused is an answer other than 200 or 202 from the MCP endpoint; the response is
// in refusal.
var errRefused = errors.New("refused")

// send posts one JSON-RPC message; for a request (id > 0) it returns the response with
// that id, from a JSON body or from the event stream the server answers with.
func (s *mcpSession) send(ctx context.Context, id int, method string, params any, name string) (rpcMessage, response, error) {
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		msg["params"] = params
	}
	if id > 0 {
		msg["id"] = id
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return rpcMessage{}, response{}, err
	}
	h := http.Header{
		"Content-Type":         {"application/json"},
		"Accept":               {"application/json, text/event-stream"},
		"Authorization":        {"Bearer " + s.token},
		"Mcp-Protocol-Version": {s.version},
		"Mcp-Method":           {method}, // MCP 2026-07-28 request headers; older servers ignore them
	}
	if name != "" {
		h.Set("Mcp-Name", name)
	}
	if s.id != "" {
		h.Set("Mcp-Session-Id", s.id)
	}
	r, err := s.d.do(ctx, http.MethodPost, s.d.flags.mcpURL, h, body)
	if err != nil {
		return rpcMessage{}, r, err
	}
	if sid := r.header.Get("Mcp-Session-Id"); sid != "" && s.id == "" {
		s.id = sid
	}
	switch {
	case id == 0 && (r.status == http.StatusAccepted || r.status == http.StatusOK):
		return rpcMessage{}, r, nil
	case r.status != http.StatusOK:
		return rpcMessage{}, r, errRefused
	}
	want, _ := json.Marshal(id)
	m, err := findResponse(r, want)
	if err != nil {
		return rpcMessage{}, r, fmt.Errorf("%s: %w", method, err)
	}
	return m, r, nil
}

// findResponse is the JSON-RPC response with id in r's body: the body itself
// (application/json) or one of its events (text/event-stream).
func findResponse(r response, id []byte) (rpcMessage, error) {
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	var candidates [][]byte
	switch mt {
	case "application/json":
		candidates = [][]byte{r.body}
	case "text/event-stream":
		var data []string
		flush := func() {
			if len(data) > 0 {
				candidates = append(candidates, []byte(strings.Join(data, "\n")))
			}
			data = nil
		}
		sc := bufio.NewScanner(bytes.NewReader(r.body))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				flush()
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			}
		}
		flush()
	default:
		return rpcMessage{}, fmt.Errorf("the answer is %q, neither application/json nor text/event-stream", r.header.Get("Content-Type"))
	}
	for _, c := range candidates {
		var m rpcMessage
		if json.Unmarshal(c, &m) == nil && bytes.Equal(m.ID, id) {
			return m, nil
		}
	}
	return rpcMessage{}, errors.New("the answer holds no JSON-RPC response to the request")
}

// checkTools runs the MCP session with the token checkMachine obtained.
func (d *diagnosis) checkTools(ctx context.Context) {
	if d.flags.machine == nil {
		return
	}
	if d.machineToken == "" {
		d.skip(checkMCPTools, "no accepted token (see client-credentials)")
		return
	}
	s := &mcpSession{d: d, token: d.machineToken, version: protocolVersion}
	defer s.end(ctx)
	m, r, err := s.send(ctx, 1, "initialize", d.initializeParams(), "")
	if !d.rpcOK(m, r, err, "initialize") {
		return
	}
	var res struct {
		ProtocolVersion string `json:"protocolVersion"`
	}
	if json.Unmarshal(m.Result, &res) != nil || res.ProtocolVersion == "" {
		d.fail(checkMCPTools, "the initialize result names no protocolVersion", "answer initialize with an InitializeResult (MCP \"Lifecycle\")")
		return
	}
	s.version = res.ProtocolVersion
	if _, r, err := s.send(ctx, 0, "notifications/initialized", nil, ""); err != nil {
		d.rpcOK(rpcMessage{}, r, err, "notifications/initialized")
		return
	}
	if d.flags.tool == "" {
		d.listTools(ctx, s)
		return
	}
	d.callTool(ctx, s)
}

// initializeParams are the params of doctor's initialize request.
func (d *diagnosis) initializeParams() map[string]any {
	return map[string]any{"protocolVersion": protocolVersion, "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "mcpguard-doctor", "version": d.version}}
}

// listTools sends tools/list and names the tools.
func (d *diagnosis) listTools(ctx context.Context, s *mcpSession) {
	m, r, err := s.send(ctx, 2, "tools/list", map[string]any{}, "")
	if !d.rpcOK(m, r, err, "tools/list") {
		return
	}
	var res struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if json.Unmarshal(m.Result, &res) != nil {
		d.fail(checkMCPTools, "the tools/list result is not a ListToolsResult", "answer tools/list with {\"tools\": [...]}")
		return
	}
	var names []string
	for _, t := range res.Tools {
		names = append(names, t.Name)
	}
	d.pass(checkMCPTools, fmt.Sprintf("tools/list with the token: %d tools (%s)", len(names), strings.Join(names, ", ")))
}

// callTool sends tools/call of --tool with --tool-args.
func (d *diagnosis) callTool(ctx context.Context, s *mcpSession) {
	tool := d.flags.tool
	params := map[string]any{"name": tool, "arguments": d.flags.toolArgs}
	m, r, err := s.send(ctx, 2, "tools/call", params, tool)
	if !d.rpcOK(m, r, err, "tools/call "+tool) {
		return
	}
	var res struct {
		IsError bool `json:"isError"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	if json.Unmarshal(m.Result, &res) != nil {
		d.fail(checkMCPTools, "the tools/call result is not a CallToolResult", "answer tools/call with {\"content\": [...]}")
		return
	}
	if res.IsError {
		text := ""
		if len(res.Content) > 0 {
			text = ": " + truncate(res.Content[0].Text, 200)
		}
		d.fail(checkMCPTools, "tools/call "+tool+" reached the tool, which answered isError"+text, "check --tool-args against the tool's inputSchema (tools/list shows it)")
		return
	}
	d.pass(checkMCPTools, fmt.Sprintf("tools/call %s with the token: %d content blocks", tool, len(res.Content)))
}

// rpcOK reports whether a request got a result, else records the failure with its fix.
func (d *diagnosis) rpcOK(m rpcMessage, r response, err error, what string) bool {
	switch {
	case errors.Is(err, errRefused):
		detail := what + " with the token = " + describeStatus(r)
		if c := r.header.Get("WWW-Authenticate"); c != "" {
			detail += ", WWW-Authenticate: " + c
		}
		fix := "the token opened initialize but not this request: check the resource's method and tool rules"
		if strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
			fix = "give the client the scopes the challenge names (mcpguard: the client's scope:), or ask for them"
		}
		d.fail(checkMCPTools, detail, fix)
	case err != nil:
		d.fail(checkMCPTools, what+": "+err.Error(), "serve MCP Streamable HTTP at the MCP URL, through the proxy")
	case m.Error != nil:
		fix := "see the MCP server's log"
		if strings.HasPrefix(what, "tools/call") {
			fix = "name a tool that tools/list shows, with arguments its inputSchema accepts (--tool, --tool-args)"
		}
		d.fail(checkMCPTools, fmt.Sprintf("%s: JSON-RPC error %d: %s", what, m.Error.Code, truncate(m.Error.Message, 200)), fix)
	case m.Result == nil:
		d.fail(checkMCPTools, what+": the response has no result", "answer each request with a result or an error (JSON-RPC 2.0)")
	default:
		return true
	}
	return false
}

// end ends the session (DELETE with its id), as a client that is done does.
func (s *mcpSession) end(ctx context.Context) {
	if s.id == "" {
		return
	}
	h := http.Header{"Authorization": {"Bearer " + s.token}, "Mcp-Session-Id": {s.id}, "Mcp-Protocol-Version": {s.version}}
	_, _ = s.d.do(ctx, http.MethodDelete, s.d.flags.mcpURL, h, nil)
}

// truncate shortens s to n bytes at most, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
