package campaign

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
)

// Template is a parsed message body: a Go text/template whose fields are the
// recipient's CSV columns in lower_snake_case ("Hi {{.first_name}}"). It is
// safe for concurrent use.
type Template struct {
	tmpl   *template.Template
	fields []string
}

// ParseTemplate parses body. Referring to a column the recipient lacks is an
// error at render time (missingkey=error); Fields lets an import check the
// CSV's columns before any row is loaded.
//
// A body runs once per recipient, so what could make one rendering slow or
// unbounded is refused here, once, with ErrBadTemplate: a template that
// calls itself (directly or through others), calls one that is not
// defined, expands into more than maxTemplateCalls calls, ranges over
// anything but the row itself, or nests a range or a call inside a range.
// What is left renders in time proportional to the template and the row.
func ParseTemplate(body string) (*Template, error) {
	if strings.TrimSpace(body) == "" {
		return nil, fmt.Errorf("parse body template: %w", ErrEmptyBody)
	}
	t, err := template.New("body").Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, fmt.Errorf("parse body template: %w", err)
	}
	if err := checkTemplate(t); err != nil {
		return nil, fmt.Errorf("parse body template: %w", err)
	}
	set := map[string]bool{}
	for _, tree := range t.Templates() {
		if tree.Tree != nil {
			collectFields(tree.Tree.Root, set)
		}
	}
	fields := make([]string, 0, len(set))
	for f := range set {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	return &Template{tmpl: t, fields: fields}, nil
}

// Fields returns the top-level field names the template reads, sorted.
func (t *Template) Fields() []string { return t.fields }

// Render executes the template over one recipient's attributes. A body
// longer than MaxBodyLength is a *BodyError of kind RejectLongBody (which
// errors.Is ErrBodyTooLong): Twilio would refuse it, and rendering stops as
// soon as it is certain, so no template makes a huge one.
func (t *Template) Render(attrs map[string]string) (string, error) {
	w := &bodyWriter{}
	if err := t.tmpl.Execute(w, attrs); err != nil {
		if errors.Is(err, ErrBodyTooLong) {
			return "", &BodyError{Kind: RejectLongBody}
		}
		return "", fmt.Errorf("render body: %w", err)
	}
	body := w.b.String()
	if n := utf16Len(body); n > MaxBodyLength {
		return "", &BodyError{Kind: RejectLongBody, Length: n}
	}
	return body, nil
}

// bodyWriter collects a rendering and stops it once it is longer in bytes
// than any body of MaxBodyLength characters can be (3 bytes of UTF-8 per
// UTF-16 code unit at most).
type bodyWriter struct{ b bytes.Buffer }

func (w *bodyWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > 3*MaxBodyLength {
		return 0, ErrBodyTooLong
	}
	return w.b.Write(p)
}

// utf16Len counts s in UTF-16 code units: characters outside the Basic
// Multilingual Plane (most emoji) count two.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// maxTemplateCalls caps how many template calls one rendering makes, all
// expansions counted: defines that call each other several times each
// multiply, and would otherwise run for ever without writing a byte.
const maxTemplateCalls = 1000

// checkTemplate refuses what ParseTemplate documents: recursion, undefined
// templates, runaway expansion and unbounded ranges.
func checkTemplate(t *template.Template) error {
	a := &templateCheck{t: t, calls: map[string]int{}}
	n, err := a.visit("body", nil)
	if err != nil {
		return err
	}
	// Templates the body never calls never run, but a cycle among them
	// is a mistake all the same: refuse it too, in a stable order.
	var names []string
	for _, d := range t.Templates() {
		names = append(names, d.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := a.visit(name, nil); err != nil {
			return err
		}
	}
	if n > maxTemplateCalls {
		return fmt.Errorf("%w: it expands into more template calls than the limit of %d", ErrBadTemplate, maxTemplateCalls)
	}
	return nil
}

// templateCheck walks the templates a body calls, depth first.
type templateCheck struct {
	t *template.Template
	// calls memoises how many calls a template makes when it runs, its
	// callees' calls included (capped just over the limit).
	calls map[string]int
}

// visit returns how many template calls running template name makes;
// path is the chain of calls that led here, to name a cycle.
func (a *templateCheck) visit(name string, path []string) (int, error) {
	for i, p := range path {
		if p == name {
			cycle := append(append([]string(nil), path[i:]...), name)
			return 0, fmt.Errorf("%w: template %q calls itself (%s), which would never end", ErrBadTemplate, name, strings.Join(cycle, " → "))
		}
	}
	if n, ok := a.calls[name]; ok {
		return n, nil
	}
	tt := a.t.Lookup(name)
	if tt == nil || tt.Tree == nil {
		return 0, fmt.Errorf("%w: it calls template %q, which is not defined", ErrBadTemplate, name)
	}
	path = append(path, name)
	n, err := a.walk(tt.Tree.Root, path, false)
	if err != nil {
		return 0, err
	}
	a.calls[name] = n
	return n, nil
}

// walk counts the template calls under node and checks its ranges.
func (a *templateCheck) walk(node parse.Node, path []string, inRange bool) (int, error) {
	total := 0
	add := func(n int) { total = min(total+n, maxTemplateCalls+1) }
	var each func(parse.Node) error
	each = func(node parse.Node) error {
		n, err := a.walk(node, path, inRange)
		add(n)
		return err
	}
	switch n := node.(type) {
	case *parse.ListNode:
		if n == nil {
			return 0, nil
		}
		for _, c := range n.Nodes {
			if err := each(c); err != nil {
				return 0, err
			}
		}
	case *parse.IfNode:
		if err := a.branch(&n.BranchNode, each); err != nil {
			return 0, err
		}
	case *parse.WithNode:
		if err := a.branch(&n.BranchNode, each); err != nil {
			return 0, err
		}
	case *parse.RangeNode:
		if inRange {
			return 0, fmt.Errorf("%w: {{%s}} inside another range could loop as often as the row is wide, squared", ErrBadTemplate, n.Pipe)
		}
		if !rangesOverRow(n.Pipe) {
			return 0, fmt.Errorf("%w: {{%s}} ranges over something other than the row ({{range .}} or {{range $k, $v := .}}), which could loop without bound", ErrBadTemplate, n.Pipe)
		}
		for _, l := range []*parse.ListNode{n.List, n.ElseList} {
			m, err := a.walk(l, path, true)
			if err != nil {
				return 0, err
			}
			add(m)
		}
	case *parse.TemplateNode:
		if inRange {
			return 0, fmt.Errorf("%w: {{template %q}} inside a range; call it outside the range", ErrBadTemplate, n.Name)
		}
		m, err := a.visit(n.Name, path)
		if err != nil {
			return 0, err
		}
		add(1 + m)
	}
	return total, nil
}

func (a *templateCheck) branch(b *parse.BranchNode, each func(parse.Node) error) error {
	if err := each(b.List); err != nil {
		return err
	}
	if b.ElseList != nil {
		return each(b.ElseList)
	}
	return nil
}

// rangesOverRow reports whether a range's pipeline is the row itself: dot
// or $, a map as wide as the CSV. Anything else is a number (which
// text/template counts up to) or a value that cannot be ranged anyway.
func rangesOverRow(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch arg := p.Cmds[0].Args[0].(type) {
	case *parse.DotNode:
		return true
	case *parse.VariableNode:
		return len(arg.Ident) == 1 && arg.Ident[0] == "$"
	}
	return false
}

// collectFields walks a parse tree for field references like .first_name.
func collectFields(n parse.Node, set map[string]bool) {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			collectFields(c, set)
		}
	case *parse.ActionNode:
		collectFields(n.Pipe, set)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			collectFields(c, set)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			collectFields(a, set)
		}
	case *parse.FieldNode:
		set[n.Ident[0]] = true
	case *parse.ChainNode:
		collectFields(n.Node, set)
	case *parse.IfNode:
		collectBranch(&n.BranchNode, set)
	case *parse.RangeNode:
		collectBranch(&n.BranchNode, set)
	case *parse.WithNode:
		collectBranch(&n.BranchNode, set)
	case *parse.TemplateNode:
		collectFields(n.Pipe, set)
	}
}

func collectBranch(b *parse.BranchNode, set map[string]bool) {
	collectFields(b.Pipe, set)
	collectFields(b.List, set)
	collectFields(b.ElseList, set)
}
