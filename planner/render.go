package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/stack-dev/stack/spec"
)

// TextOptions change the human rendering.
type TextOptions struct {
	// Color adds ANSI colors (the CLI sets it only on a terminal; tests never).
	Color bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiPurple = "\x1b[35m"
)

func actionColor(a Action) string {
	switch a {
	case Create:
		return ansiGreen
	case Update:
		return ansiYellow
	case Replace:
		return ansiPurple
	case Remove:
		return ansiRed
	}
	return ""
}

var actionWords = map[Action]string{
	Create:  "create",
	Update:  "update in place",
	Replace: "replace (destroy, then create)",
	Remove:  "remove",
}

// String is the human rendering without colors.
func (p *Plan) String() string {
	var b strings.Builder
	_ = p.WriteText(&b, TextOptions{})
	return b.String()
}

// WriteText renders the plan for people: a legend of the symbols used, one
// block per step (its reason, field changes, dependencies, waits and
// position), and a summary line.
func (p *Plan) WriteText(w io.Writer, opts TextOptions) error {
	var b bytes.Buffer
	paint := func(color, s string) string {
		if !opts.Color || color == "" {
			return s
		}
		return color + s + ansiReset
	}
	if p.Empty() {
		fmt.Fprintf(&b, "No changes. Project %s matches the stack file.\n", p.Project)
		_, err := w.Write(b.Bytes())
		return err
	}
	fmt.Fprintf(&b, "Project %s. Symbols:\n", p.Project)
	for _, a := range []Action{Create, Update, Replace, Remove} {
		for _, st := range p.Steps {
			if st.Action == a {
				fmt.Fprintf(&b, "  %s %s\n", paint(actionColor(a), a.Symbol()), actionWords[a])
				break
			}
		}
	}
	byID := make(map[int]*Step, len(p.Steps))
	for i := range p.Steps {
		byID[p.Steps[i].ID] = &p.Steps[i]
	}
	for _, st := range p.Steps {
		b.WriteByte('\n')
		head := st.Action.Symbol() + " " + st.Resource
		fmt.Fprintf(&b, "%s\n", paint(ansiBold+actionColor(st.Action), head))
		fmt.Fprintf(&b, "    %s: %s\n", st.Operation, st.Reason)
		if len(st.Instances) > 0 {
			fmt.Fprintf(&b, "    containers: %s\n", strings.Join(st.Instances, ", "))
		}
		for _, c := range st.Changes {
			b.WriteString("    ")
			b.WriteString(changeLine(c, paint))
			b.WriteByte('\n')
		}
		if len(st.DependsOn) > 0 {
			var deps []string
			for _, id := range st.DependsOn {
				if d := byID[id]; d != nil {
					deps = append(deps, d.Action.Symbol()+" "+d.Resource)
				}
			}
			// A removal is torn down before what it depended on.
			label := "after"
			if st.Action == Remove {
				label = "before"
			}
			fmt.Fprintf(&b, "    %s: %s\n", label, strings.Join(deps, ", "))
		}
		if len(st.Waits) > 0 {
			var ws []string
			for _, wt := range st.Waits {
				s := wt.Resource + " " + wt.Condition
				if !wt.Required {
					s += " (optional)"
				}
				ws = append(ws, s)
			}
			fmt.Fprintf(&b, "    waits for: %s\n", strings.Join(ws, ", "))
		}
		if st.Pos != (spec.Pos{}) {
			fmt.Fprintf(&b, "    at: %s\n", st.Pos)
		}
	}
	s := p.Summary()
	fmt.Fprintf(&b, "\nPlan: %d to create, %d to update, %d to replace, %d to remove.\n", s.Create, s.Update, s.Replace, s.Remove)
	_, err := w.Write(b.Bytes())
	return err
}

func changeLine(c Change, paint func(color, s string) string) string {
	switch {
	case c.Before == nil:
		return paint(ansiGreen, "+ "+c.Path+": "+string(c.After))
	case c.After == nil:
		return paint(ansiRed, "- "+c.Path+": "+string(c.Before))
	}
	return paint(ansiYellow, "~ "+c.Path+": "+string(c.Before)+" → "+string(c.After))
}

// FormatVersion is the version of the JSON rendering. It changes only when
// a field is removed or changes meaning; new fields may appear in any
// version.
const FormatVersion = "1"

// The JSON document; docs/plan.md describes it field by field.
type jsonPlan struct {
	FormatVersion string     `json:"format_version"`
	Project       string     `json:"project"`
	Steps         []jsonStep `json:"steps"`
	Summary       Summary    `json:"summary"`
}

type jsonStep struct {
	ID        int          `json:"id"`
	Action    Action       `json:"action"`
	Symbol    string       `json:"symbol"`
	Operation Operation    `json:"operation"`
	Resource  string       `json:"resource"`
	Instances []string     `json:"instances,omitempty"`
	Reason    string       `json:"reason"`
	Changes   []jsonChange `json:"changes"`
	DependsOn []int        `json:"depends_on"`
	Waits     []jsonWait   `json:"waits,omitempty"`
	InputHash string       `json:"input_hash,omitempty"`
	Position  *spec.Pos    `json:"position,omitempty"`
}

type jsonChange struct {
	Path   string          `json:"path"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

type jsonWait struct {
	Resource  string `json:"resource"`
	Condition string `json:"condition"`
	Required  bool   `json:"required"`
	Restart   bool   `json:"restart,omitempty"`
}

// MarshalJSON is the versioned JSON rendering (`stack plan --format json`).
func (p *Plan) MarshalJSON() ([]byte, error) {
	doc := jsonPlan{FormatVersion: FormatVersion, Project: p.Project, Steps: []jsonStep{}, Summary: p.Summary()}
	for _, st := range p.Steps {
		js := jsonStep{
			ID: st.ID, Action: st.Action, Symbol: st.Action.Symbol(), Operation: st.Operation,
			Resource: st.Resource, Instances: st.Instances, Reason: st.Reason,
			Changes: []jsonChange{}, DependsOn: st.DependsOn, InputHash: st.InputHash,
		}
		if js.DependsOn == nil {
			js.DependsOn = []int{}
		}
		for _, c := range st.Changes {
			js.Changes = append(js.Changes, jsonChange{Path: c.Path, Before: c.Before, After: c.After})
		}
		for _, wt := range st.Waits {
			js.Waits = append(js.Waits, jsonWait(wt))
		}
		if st.Pos != (spec.Pos{}) {
			pos := st.Pos
			js.Position = &pos
		}
		doc.Steps = append(doc.Steps, js)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteJSON writes the JSON rendering, indented, with a final newline.
func (p *Plan) WriteJSON(w io.Writer) error {
	b, err := p.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encoding plan: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("encoding plan: %w", err)
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}
