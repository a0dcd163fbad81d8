package e2e

// The HTML forms of the login and consent pages as formBrowser reads and submits them.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlForm is an HTML form: where it goes and the controls a submission can carry.
type htmlForm struct {
	action, method string
	fields         []formControl // successful controls other than buttons, in document order
	buttons        []formControl // submit buttons
}

// formControl is one form control.
type formControl struct {
	typ, name, value, label string
}

// has reports whether the form has a field of type typ.
func (f htmlForm) has(typ string) bool {
	return slices.ContainsFunc(f.fields, func(c formControl) bool { return c.typ == typ })
}

// login fills the form's email (or user name) and password fields and submits it with
// its first button.
func (f htmlForm) login(email, password string) (url.Values, error) {
	filled := 0
	for i, c := range f.fields {
		switch {
		case c.typ == "password":
			f.fields[i].value = password
			filled++
		case c.typ == "email" || (c.typ == "text" && slices.Contains([]string{"email", "username", "user", "login"}, strings.ToLower(c.name))):
			f.fields[i].value = email
			filled++
		}
	}
	if filled != 2 {
		return nil, fmt.Errorf("want one email and one password field, got fields %+v", f.fields)
	}
	var button *formControl
	if len(f.buttons) > 0 {
		button = &f.buttons[0]
	}
	return f.submit(button), nil
}

// submit is the form data set (HTML §4.10.21.4) when button is pressed.
func (f htmlForm) submit(button *formControl) url.Values {
	v := url.Values{}
	for _, c := range f.fields {
		if c.name != "" {
			v.Add(c.name, c.value)
		}
	}
	if button != nil && button.name != "" {
		v.Add(button.name, button.value)
	}
	return v
}

// request is the request that submits values, for a form on page.
func (f htmlForm) request(ctx context.Context, page *url.URL, values url.Values) (*http.Request, error) {
	action, err := page.Parse(f.action) // an empty action is the page itself
	if err != nil {
		return nil, fmt.Errorf("form action %q: %w", f.action, err)
	}
	if f.method == "get" {
		action.RawQuery = values.Encode()
		return http.NewRequestWithContext(ctx, http.MethodGet, action.String(), nil)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(values.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", page.Scheme+"://"+page.Host) // as browsers do for a POST
	return req, nil
}

// approveForm finds the button that approves the request: its name, value or label says
// approve, allow, accept or authorize, and nothing says deny.
func approveForm(forms []htmlForm) (*htmlForm, *formControl, bool) {
	for i := range forms {
		for j, b := range forms[i].buttons {
			words := strings.ToLower(b.name + " " + b.value + " " + b.label)
			if strings.Contains(words, "deny") || strings.Contains(words, "cancel") || strings.Contains(words, "reject") {
				continue
			}
			for _, w := range []string{"approve", "allow", "accept", "authorize", "consent"} {
				if strings.Contains(words, w) {
					return &forms[i], &forms[i].buttons[j], true
				}
			}
		}
	}
	return nil, nil, false
}

// htmlForms returns the forms of doc with their controls.
func htmlForms(doc *html.Node) []htmlForm {
	var forms []htmlForm
	var walk func(n *html.Node, form *htmlForm)
	walk = func(n *html.Node, form *htmlForm) {
		if n.Type == html.ElementNode {
			switch n.DataAtom {
			case atom.Form:
				forms = append(forms, htmlForm{action: attr(n, "action"), method: strings.ToLower(attr(n, "method"))})
				f := &forms[len(forms)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, f)
				}
				// Nested forms are invalid HTML; the parser never produces them.
				return
			case atom.Input:
				if form != nil && !hasAttr(n, "disabled") {
					typ := strings.ToLower(attr(n, "type"))
					if typ == "" {
						typ = "text"
					}
					c := formControl{typ: typ, name: attr(n, "name"), value: attr(n, "value")}
					switch typ {
					case "submit", "image":
						c.label = c.value
						form.buttons = append(form.buttons, c)
					case "checkbox", "radio":
						if hasAttr(n, "checked") {
							if !hasAttr(n, "value") {
								c.value = "on"
							}
							form.fields = append(form.fields, c)
						}
					case "button", "reset", "file":
					default:
						form.fields = append(form.fields, c)
					}
				}
			case atom.Button:
				typ := strings.ToLower(attr(n, "type"))
				if form != nil && (typ == "" || typ == "submit") && !hasAttr(n, "disabled") {
					form.buttons = append(form.buttons, formControl{typ: "submit", name: attr(n, "name"), value: attr(n, "value"), label: htmlText(n)})
				}
				return
			case atom.Textarea:
				if form != nil {
					form.fields = append(form.fields, formControl{typ: "textarea", name: attr(n, "name"), value: htmlText(n)})
				}
				return
			case atom.Select:
				if form != nil {
					form.fields = append(form.fields, formControl{typ: "select", name: attr(n, "name"), value: selectedOption(n)})
				}
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, form)
		}
	}
	walk(doc, nil)
	return forms
}

// selectedOption is the value of a select's selected option, else of its first option.
func selectedOption(sel *html.Node) string {
	var first, chosen *html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.Option {
			if first == nil {
				first = n
			}
			if chosen == nil && hasAttr(n, "selected") {
				chosen = n
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(sel)
	if chosen == nil {
		chosen = first
	}
	if chosen == nil {
		return ""
	}
	if hasAttr(chosen, "value") {
		return attr(chosen, "value")
	}
	return htmlText(chosen)
}

// htmlText is the text of n and its descendants (scripts and styles left out), white
// space collapsed.
func htmlText(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch {
		case n.Type == html.TextNode:
			b.WriteString(n.Data)
			b.WriteByte(' ')
		case n.Type == html.ElementNode && (n.DataAtom == atom.Script || n.DataAtom == atom.Style):
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	return slices.ContainsFunc(n.Attr, func(a html.Attribute) bool { return a.Namespace == "" && a.Key == name })
}

// excerpt is the start of a response body, for error messages.
func excerpt(body []byte) string {
	const limit = 600
	if len(body) > limit {
		return string(body[:limit]) + "..."
	}
	return string(body)
}
