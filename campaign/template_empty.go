package campaign

import (
	"errors"
	"strings"
	"text/template"
	"text/template/parse"
	"unicode"
)

// AlwaysEmpty reports whether the body renders blank for every recipient,
// whatever the CSV holds ({{if false}}Hi{{end}}): such a body can only ever
// be refused by Twilio, so it is refused once, before any row is read.
//
// It reads the template's parse tree rather than rendering sample rows,
// because a sample decides nothing about {{if eq .plan "gold"}}…{{end}},
// which is empty for most rows and not for all. It is conservative: only a
// tree in which no text and no value can reach the output is always empty.
// Conditions built from constants alone ({{if false}}, {{if eq 1 2}}) are
// evaluated; anything that reads a column might print.
func (t *Template) AlwaysEmpty() bool {
	root := t.tmpl.Lookup("body")
	if root == nil || root.Tree == nil {
		return false
	}
	return !t.mayPrint(root.Tree.Root, 0)
}

// maxTemplateDepth bounds how deep {{template}} calls are followed; deeper
// (or recursive) calls are taken to print.
const maxTemplateDepth = 10

// mayPrint reports whether n could write a non-blank character.
func (t *Template) mayPrint(n parse.Node, depth int) bool {
	switch n := n.(type) {
	case nil:
		return false
	case *parse.ListNode:
		if n == nil {
			return false
		}
		for _, c := range n.Nodes {
			if t.mayPrint(c, depth) {
				return true
			}
		}
		return false
	case *parse.TextNode:
		return strings.TrimSpace(string(n.Text)) != ""
	case *parse.CommentNode, *parse.BreakNode, *parse.ContinueNode:
		return false
	case *parse.ActionNode:
		if len(n.Pipe.Decl) > 0 { // {{$x := …}} prints nothing
			return false
		}
		if constant(n.Pipe) {
			out, ok := t.evalConst("{{" + n.Pipe.String() + "}}")
			return !ok || out
		}
		return true
	case *parse.IfNode:
		return t.mayPrintBranch(&n.BranchNode, "if", depth)
	case *parse.WithNode:
		return t.mayPrintBranch(&n.BranchNode, "with", depth)
	case *parse.RangeNode:
		return t.mayPrint(n.List, depth) || t.mayPrint(n.ElseList, depth)
	case *parse.TemplateNode:
		if depth >= maxTemplateDepth {
			return true
		}
		called := t.tmpl.Lookup(n.Name)
		if called == nil || called.Tree == nil {
			return true // an error at render time, reported per row
		}
		return t.mayPrint(called.Tree.Root, depth+1)
	}
	return true
}

// mayPrintBranch is mayPrint of an if or with: a constant condition takes
// one branch only.
func (t *Template) mayPrintBranch(b *parse.BranchNode, keyword string, depth int) bool {
	if len(b.Pipe.Decl) == 0 && constant(b.Pipe) {
		if taken, ok := t.evalConst("{{" + keyword + " " + b.Pipe.String() + "}}x{{end}}"); ok {
			if taken {
				return t.mayPrint(b.List, depth)
			}
			return t.mayPrint(b.ElseList, depth)
		}
	}
	return t.mayPrint(b.List, depth) || t.mayPrint(b.ElseList, depth)
}

// constant reports whether a pipeline reads nothing of the recipient: only
// literals and functions of literals.
func constant(p *parse.PipeNode) bool {
	if p == nil || len(p.Decl) > 0 {
		return false
	}
	for _, c := range p.Cmds {
		for _, a := range c.Args {
			switch a := a.(type) {
			case *parse.BoolNode, *parse.NumberNode, *parse.StringNode, *parse.NilNode, *parse.IdentifierNode:
			case *parse.PipeNode:
				if !constant(a) {
					return false
				}
			default:
				return false
			}
		}
	}
	// The first command of a later stage takes the previous one's value:
	// still constant. A lone identifier like "call" or "index" with
	// constants is evaluated like any other.
	return true
}

// errPrinted stops an evaluation at the first non-blank character.
var errPrinted = errors.New("printed")

// visibleWriter fails at the first non-blank character written, so that
// evaluating {{printf "%01000000d" 1}} stops at its first digit.
type visibleWriter struct{}

func (visibleWriter) Write(p []byte) (int, error) {
	for _, r := range string(p) {
		if !unicode.IsSpace(r) {
			return 0, errPrinted
		}
	}
	return len(p), nil
}

// evalConst executes a template made of constants and reports whether it
// printed a non-blank character; ok is false when it could not be
// evaluated (then the caller assumes it prints).
func (t *Template) evalConst(src string) (printed, ok bool) {
	tt, err := template.New("const").Parse(src)
	if err != nil {
		return false, false
	}
	err = tt.Execute(visibleWriter{}, nil)
	switch {
	case err == nil:
		return false, true
	case errors.Is(err, errPrinted):
		return true, true
	}
	return false, false
}
