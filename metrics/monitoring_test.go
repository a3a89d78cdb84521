package metrics

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"
)

// The dashboard and alert rules of deploy/monitoring are checked against
// what this package registers: a renamed or removed metric fails here, not
// in an operator's empty panel or silent alert.
const monitoringDir = "../deploy/monitoring"

// scrapeNames are series Prometheus makes itself for every target.
var scrapeNames = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped"}

// exportedNames returns the name of every metric family Chute's registry
// can expose: every collector registered by New and by the other
// registrations that wire makes (Webhooks, SessionIndex), described rather than
// gathered, so that a histogram no request has observed yet still counts.
func exportedNames(t *testing.T) map[string]bool {
	t.Helper()
	m := New()
	m.Webhooks()
	m.SessionIndex(func(context.Context) (int64, int64, error) { return 0, 0, nil })
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range m.all {
			c.Describe(ch)
		}
		close(ch)
	}()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range ch {
		mm := fq.FindStringSubmatch(d.String())
		if mm == nil {
			t.Fatalf("no fqName in %s", d)
		}
		names[mm[1]] = true
	}
	if !names["chute_http_requests_total"] || !names["chute_webhook_dead_letters_total"] || !names["go_goroutines"] {
		t.Fatalf("the registry describes too little: %d names", len(names))
	}
	return names
}

// knownSeries tells whether a PromQL selector's name is a series Chute's
// scrape gives: an exported name, a histogram's or summary's _bucket,
// _sum or _count series, or one of Prometheus' own per-target series.
func knownSeries(exported map[string]bool, name string) bool {
	if exported[name] || slices.Contains(scrapeNames, name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if ok && exported[base] && !strings.HasSuffix(base, "_total") {
			return true
		}
	}
	return false
}

// checkExpr reports the names in expr that Chute does not export, and an
// expression that selects no metric at all.
func checkExpr(exported map[string]bool, where, expr string) []string {
	names, err := promqlMetricNames(expr)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", where, err)}
	}
	if len(names) == 0 {
		return []string{fmt.Sprintf("%s: selects no metric: %q", where, expr)}
	}
	var bad []string
	for _, n := range names {
		if !knownSeries(exported, n) {
			bad = append(bad, fmt.Sprintf("%s: %q is not a metric Chute exports", where, n))
		}
	}
	return bad
}

// ruleFile is the part of a Prometheus rule file the check reads.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir, "chute-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("chute-alerts.yml: %v", err)
	}
	return rf
}

// docAnchors returns the anchors of docs/observability.md's headings, as
// GitHub makes them (lower case, spaces to dashes, most punctuation gone).
func docAnchors(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile("../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	drop := regexp.MustCompile("[^a-z0-9 _-]")
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		anchors[strings.ReplaceAll(drop.ReplaceAllString(h, ""), " ", "-")] = true
	}
	return anchors
}

func TestAlertRulesUseExportedMetrics(t *testing.T) {
	exported := exportedNames(t)
	anchors := docAnchors(t)
	rf := readRules(t)
	alerts := 0
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			where := g.Name + "/" + r.Alert + r.Record
			for _, msg := range checkExpr(exported, where, r.Expr) {
				t.Error(msg)
			}
			if r.Alert == "" {
				continue
			}
			alerts++
			if seen[r.Alert] {
				t.Errorf("%s: alert named twice", where)
			}
			seen[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q, want critical or warning", where, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", where)
			}
			doc, anchor, _ := strings.Cut(r.Annotations["runbook"], "#")
			if doc != "docs/observability.md" || !anchors[anchor] {
				t.Errorf("%s: runbook %q is not a heading of docs/observability.md", where, r.Annotations["runbook"])
			}
			if anchor != strings.ToLower(r.Alert) {
				t.Errorf("%s: runbook anchor %q, want %q", where, anchor, strings.ToLower(r.Alert))
			}
		}
	}
	if alerts < 10 {
		t.Fatalf("only %d alerts in chute-alerts.yml", alerts)
	}
}

// TestEveryAlertFiresInItsUnitTest: chute-alerts.test.yml (run by
// `promtool test rules` in CI) has, for every alert, a case where it
// fires; promtool itself only checks the cases that are written.
func TestEveryAlertFiresInItsUnitTest(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(monitoringDir, "chute-alerts.test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string           `yaml:"alertname"`
				ExpAlerts []map[string]any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	if err := yaml.Unmarshal(b, &tf); err != nil {
		t.Fatalf("chute-alerts.test.yml: %v", err)
	}
	if !slices.Equal(tf.RuleFiles, []string{"chute-alerts.yml"}) {
		t.Errorf("rule_files = %q, want [chute-alerts.yml]", tf.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if !fires[r.Alert] {
				t.Errorf("%s: no unit test case where it fires", r.Alert)
			}
			if !quiet[r.Alert] {
				t.Errorf("%s: no unit test case where it stays quiet", r.Alert)
			}
		}
	}
}

// dashboard is the part of a Grafana dashboard the check reads.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Datasource *datasourceRef  `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr       string         `json:"expr"`
		RefID      string         `json:"refId"`
		Datasource *datasourceRef `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(monitoringDir, "chute-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("chute-dashboard.json: %v", err)
	}
	if dec.More() {
		t.Fatal("chute-dashboard.json: data after the dashboard object")
	}
	return d
}

// queryPanels returns every panel that is not a row, collapsed rows'
// panels included.
func queryPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		if p.Type == "row" {
			out = append(out, queryPanels(p.Panels)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// isDatasourceVar tells whether ref names the dashboard's datasource
// variable rather than one Grafana's datasource.
func isDatasourceVar(ref *datasourceRef) bool {
	return ref != nil && (ref.UID == "${datasource}" || ref.UID == "$datasource")
}

func TestDashboardLoadsAndUsesExportedMetrics(t *testing.T) {
	exported := exportedNames(t)
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Error("dashboard needs a title and a uid")
	}

	dsVar := false
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			var q string
			if v.Name == "datasource" && json.Unmarshal(v.Query, &q) == nil && q == "prometheus" {
				dsVar = true
			}
		case "query":
			if !isDatasourceVar(v.Datasource) {
				t.Errorf("variable %s: datasource %+v is not ${datasource}", v.Name, v.Datasource)
			}
			var q struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &q); err != nil {
				if err := json.Unmarshal(v.Query, &q.Query); err != nil {
					t.Errorf("variable %s: query: %v", v.Name, err)
				}
			}
			// label_values(<selector>, <label>): the selector must be Chute's.
			sel, ok := strings.CutPrefix(q.Query, "label_values(")
			i := strings.LastIndex(sel, ",")
			if !ok || i < 0 {
				t.Errorf("variable %s: query %q is not label_values(metric, label)", v.Name, q.Query)
				continue
			}
			for _, msg := range checkExpr(exported, "variable "+v.Name, sel[:i]) {
				t.Error(msg)
			}
		}
	}
	if !dsVar {
		t.Error(`dashboard has no datasource variable "datasource" of type prometheus`)
	}

	ps := queryPanels(d.Panels)
	if len(ps) < 10 {
		t.Fatalf("only %d panels", len(ps))
	}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
	}
	for _, p := range ps {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if p.Title == "" || p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("%s: needs a title and a gridPos", where)
		}
		if !isDatasourceVar(p.Datasource) {
			t.Errorf("%s: datasource %+v is not ${datasource}", where, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("%s: no query", where)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" {
				t.Errorf("%s: a target without expr or refId", where)
				continue
			}
			if tg.Datasource != nil && !isDatasourceVar(tg.Datasource) {
				t.Errorf("%s: target %s: datasource %+v is not ${datasource}", where, tg.RefID, tg.Datasource)
			}
			for _, msg := range checkExpr(exported, where, tg.Expr) {
				t.Error(msg)
			}
		}
	}
}

// grafanaVars are the dashboard's variables with what stands for them in
// a query that promtool checks.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "${__rate_interval}", "5m",
	"$__interval", "1m", "${__interval}", "1m",
	"$__range", "1h", "${__range}", "1h",
)

// TestDashboardQueriesParse runs `promtool check rules` over the
// dashboard's queries, each as a recording rule, so that a query
// Prometheus cannot parse fails CI. It needs promtool, which is too big a
// dependency for go.mod: scripts/test.sh builds it and sets CHUTE_PROMTOOL
// to its path; without CHUTE_PROMTOOL the test skips.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := os.Getenv("CHUTE_PROMTOOL")
	if promtool == "" {
		t.Skip("CHUTE_PROMTOOL is not set (scripts/test.sh sets it)")
	}
	d := readDashboard(t)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	for _, p := range queryPanels(d.Panels) {
		for _, tg := range p.Targets {
			rules = append(rules, rule{
				Record: fmt.Sprintf("dashboard:panel_%d:%s", p.ID, strings.ToLower(tg.RefID)),
				Expr:   grafanaVars.Replace(tg.Expr),
			})
		}
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i].Record < rules[j].Record })
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "dashboard-queries.yml")
	if err := os.WriteFile(f, out, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "rules", "--lint=none", f)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules on the dashboard's %d queries: %v\n%s", len(rules), err, b)
	}
	t.Logf("promtool parsed the dashboard's %d queries", len(rules))
}
