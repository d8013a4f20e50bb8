package campaign

import (
	"bytes"
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
func ParseTemplate(body string) (*Template, error) {
	if strings.TrimSpace(body) == "" {
		return nil, fmt.Errorf("parse body template: %w", ErrEmptyBody)
	}
	t, err := template.New("body").Option("missingkey=error").Parse(body)
	if err != nil {
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

// Render executes the template over one recipient's attributes.
func (t *Template) Render(attrs map[string]string) (string, error) {
	var b bytes.Buffer
	if err := t.tmpl.Execute(&b, attrs); err != nil {
		return "", fmt.Errorf("render body: %w", err)
	}
	return b.String(), nil
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
