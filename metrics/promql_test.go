package metrics

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The monitoring check (monitoring_test.go) needs the metric names a PromQL
// expression selects. The Prometheus parser would bring the whole
// Prometheus module into Chute's go.mod for one test, so this is a small
// tokenizer instead: it knows just enough of PromQL's lexical structure to
// tell a metric name from a function, a keyword, a label name or a literal.
// Syntax itself is checked by promtool in CI (scripts/test.sh): the rules
// with `promtool check rules`, the dashboard's queries through
// TestDashboardQueriesParse.

// promqlKeywords are identifiers that are never metric names when they
// stand alone (not followed by a parenthesis).
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true, "atan2": true, "inf": true, "nan": true,
}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// aggregators may put their by/without clause before their arguments:
// sum by (job) (x).
var aggregators = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
}

// promqlMetricNames returns the metric names expr selects, in order of
// first appearance: bare identifiers that are not functions (followed by
// "("), keywords, label names (inside {...} or a by/without/on/ignoring/
// group_left/group_right list) or inside a string, a range or a subquery
// ([...]). Grafana's variables ($name, ${name}) are skipped. It fails on
// an unterminated string, brace, bracket or parenthesis.
func promqlMetricNames(expr string) ([]string, error) {
	var names []string
	depth := 0 // parentheses
	i := 0
	n := len(expr)
	for i < n {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // comment to end of line
			for i < n && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '{':
			end, err := skipUntil(expr, i, '}')
			if err != nil {
				return nil, err
			}
			i = end
		case c == '[':
			end, err := skipUntil(expr, i, ']')
			if err != nil {
				return nil, err
			}
			i = end
		case c == '$':
			i++
			if i < n && expr[i] == '{' {
				end, err := skipUntil(expr, i, '}')
				if err != nil {
					return nil, err
				}
				i = end
			} else {
				for i < n && isIdentChar(expr[i]) {
					i++
				}
			}
		case c >= '0' && c <= '9' || c == '.':
			for i < n && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < n && isIdentChar(expr[i]) {
				i++
			}
			word := expr[start:i]
			next := nextNonSpace(expr, i)
			lower := strings.ToLower(word)
			switch {
			case labelListKeywords[lower] && next < n && expr[next] == '(':
				end, err := skipUntil(expr, next, ')')
				if err != nil {
					return nil, err
				}
				i = end
			case next < n && expr[next] == '(':
				// a function or an aggregation: its arguments follow
			case aggregators[lower] && (hasWordAt(expr, next, "by") || hasWordAt(expr, next, "without")):
				// an aggregation whose clause comes first
			case promqlKeywords[lower]:
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("unbalanced ')' at %d in %q", i, expr)
			}
			i++
		case c == '}' || c == ']':
			return nil, fmt.Errorf("unbalanced %q at %d in %q", c, i, expr)
		default:
			i++
		}
	}
	if depth != 0 {
		return nil, fmt.Errorf("unbalanced '(' in %q", expr)
	}
	return names, nil
}

// hasWordAt tells whether the identifier at s[i:] is word (any case).
func hasWordAt(s string, i int, word string) bool {
	j := i
	for j < len(s) && isIdentChar(s[j]) {
		j++
	}
	return strings.EqualFold(s[i:j], word)
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func nextNonSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string literal at s[i].
func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %d in %q", i, s)
}

// skipUntil returns the index just past the close that ends the group
// opened at s[i], skipping strings inside it.
func skipUntil(s string, i int, close byte) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case c == close:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated %q at %d in %q", s[i], i, s)
}

func TestPromqlMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="chute"} == 0`, []string{"up"}},
		{`absent(up{job="chute"})`, []string{"up"}},
		{`sum by (job, le) (rate(chute_a_bucket{route=~"/v1/uploads/:id|x"}[5m]))`, []string{"chute_a_bucket"}},
		{`sum(rate(a_total[$__rate_interval])) without (instance) / on (job) group_left (x) b`, []string{"a_total", "b"}},
		{`histogram_quantile(0.99, sum by (le) (rate(x_bucket{job="$job"}[5m]))) > 0.1 and bool c offset 5m`, []string{"x_bucket", "c"}},
		{`label_replace(m, "dst", "$1", "src", "(.*)")`, []string{"m"}},
		{"changes(p[30m]) > 2 # a comment naming not_a_metric", []string{"p"}},
		{`sum(rate(m{a="}"}[${__range}])) * 1e3 + Inf`, []string{"m"}},
		{`m1 unless m2 or m1`, []string{"m1", "m2"}},
	} {
		got, err := promqlMetricNames(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.expr, got, tc.want)
		}
	}
	for _, bad := range []string{`sum(rate(m[5m])`, `m{a="b"`, `m[5m`, `m)`, `m{a="b}`} {
		if _, err := promqlMetricNames(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
