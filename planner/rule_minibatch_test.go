package planner

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/sluicesql/sluice/catalog"
)

// physicalRewriteRules are the rules of the physical_rewrite phase (minibatch.go), by name, as the goldens
// build them: mini-batch of 1 s and 100 rows, 4 buckets.
func physicalRewriteRules(root Node) []Rule {
	mb := MiniBatch{Latency: time.Second, Size: 100}
	return []Rule{
		splitDistinctRule{buckets: 4},
		miniBatchRule{mb: mb},
		miniBatchAssignerRule{interval: mb.Latency, underWatermark: sourcesUnderWatermark(root, false, nil)},
		twoPhaseRule{},
	}
}

// physicalRuleCase runs the golden command
//
//	physical-rule name=R [with=R1,R2]  plan the statement (streaming) through the physical pass, print the
//	                                   physical plan, then apply R (with R1, R2 first, in phase order) to its
//	                                   fixpoint and print the result, or that R did not apply
func physicalRuleCase(t *testing.T, cat *catalog.Catalog, d *datadriven.TestData) string {
	var name string
	d.ScanArgs(t, "name", &name)
	var with []string
	for _, a := range d.CmdArgs {
		if a.Key == "with" {
			for _, v := range a.Vals {
				with = append(with, strings.Split(v, ",")...)
			}
		}
	}
	p := newTestPlanner(cat, false)
	n, err := bindStatement(p, d.Input)
	if err == nil {
		n, _, err = Optimize(n, phases(false))
	}
	if err == nil {
		n, err = p.physical(n)
	}
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	var found bool
	pick := func(withR bool) []Rule {
		var rs []Rule
		for _, r := range physicalRewriteRules(n) {
			if r.Name() == name {
				found = true
			}
			if (r.Name() == name && withR) || containsName(with, r.Name()) {
				rs = append(rs, r)
			}
		}
		return rs
	}
	rs := pick(true)
	if !found {
		t.Fatalf("no physical rewrite rule %s", name)
	}
	before := n
	if len(with) > 0 {
		if before, _, err = runPhase(n, Phase{Name: "with", Rules: pick(false)}); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	b.WriteString("before:\n" + explainMiniBatch(before))
	out, _, err := runPhase(n, Phase{Name: name, Rules: rs})
	if err != nil {
		t.Fatal(err)
	}
	if explainMiniBatch(out) == explainMiniBatch(before) {
		b.WriteString("after: (" + name + " did not apply)\n")
		return b.String()
	}
	b.WriteString("after:\n" + explainMiniBatch(out))
	if err := inferModes(out); err != nil {
		b.WriteString("modes: " + err.Error() + "\n")
	}
	return b.String()
}

// explainMiniBatch is Explain with modes, and a mini-batched aggregate marked (EXPLAIN does not show it, as
// Flink's does not).
func explainMiniBatch(n Node) string {
	return explainTree(n, func(n Node) string {
		line := strings.TrimSuffix(n.Describe(), ")") + ", changelogMode=[" + n.Mode().Kinds.String() + "])"
		if a, ok := n.(*Aggregate); ok && a.MiniBatch != nil {
			line += fmt.Sprintf(" (mini-batch: %d rows, %s)", a.MiniBatch.Size, a.MiniBatch.Latency)
		}
		return line
	})
}

// TestEveryPhysicalRewriteRuleHasAGolden: each rule of physical_rewrite has a golden where it applies.
func TestEveryPhysicalRewriteRuleHasAGolden(t *testing.T) {
	files, err := os.ReadDir("testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, f := range files {
		b, err := os.ReadFile("testdata/rules/" + f.Name())
		if err != nil {
			t.Fatal(err)
		}
		all.Write(b)
	}
	for _, r := range physicalRewriteRules(&Values{}) {
		applied := false
		for _, block := range strings.Split(all.String(), "\nphysical-rule name="+r.Name())[1:] {
			end := strings.Index(block, "\nphysical-rule ")
			if end < 0 {
				end = len(block)
			}
			if strings.Contains(block[:end], "\nafter:\n") {
				applied = true
			}
		}
		if !applied {
			t.Errorf("rule %s (physical_rewrite) has no golden under testdata/rules where it applies", r.Name())
		}
	}
}

// TestReadAggOptions: Flink's checks of the mini-batch settings.
func TestReadAggOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"table.exec.mini-batch.enabled": "true"}, "MiniBatch Latency must be greater than 0 ms"},
		{map[string]string{"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.allow-latency": "0 ms", "table.exec.mini-batch.size": "5"}, "MiniBatch Latency must be greater than 0 ms"},
		{map[string]string{"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.allow-latency": "1 s"}, "MiniBatch Size must be greater than 0"},
		{map[string]string{"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.allow-latency": "1 s", "table.exec.mini-batch.size": "-1"}, "MiniBatch Size must be greater than 0"},
		{map[string]string{"table.exec.mini-batch.enabled": "false"}, ""},
		{map[string]string{"table.exec.mini-batch.enabled": "true", "table.exec.mini-batch.allow-latency": "2 s", "table.exec.mini-batch.size": "7"}, ""},
	} {
		o, err := readAggOptions(tc.opts)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.opts, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: got %v, want %q", tc.opts, err, tc.want)
		case tc.want == "" && tc.opts["table.exec.mini-batch.enabled"] == "true" && (o.miniBatch == nil || *o.miniBatch != MiniBatch{Latency: 2 * time.Second, Size: 7}):
			t.Errorf("%v: read %+v", tc.opts, o.miniBatch)
		}
	}
}
