package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable that Load reads.
const EnvPrefix = "CHUTE_"

// EnvAllowlist lists CHUTE_* variables that are not configuration keys and
// that Load therefore ignores instead of refusing as unknown. Programs and
// tests that use more such variables may append to it before calling Load
// (it is read, never written, by this package).
var EnvAllowlist = []string{
	"CHUTE_CONFIG",
	"CHUTE_CACHE",
	"CHUTE_REQUIRE_DOCKER",
	"CHUTE_DATA_DIR",
	"CHUTE_SERVER", // chute upload/status/abort
	"CHUTE_TOKEN",
	"CHUTE_TEST_STORE",  // test/containers.StartStore: the store the tests run against
	"CHUTE_TEST_STORES", // scripts/test.sh: the stores the integration step runs against
	"CHUTE_LOG_DIR",     // scripts/test.sh: where the step logs go
	"CHUTE_FUZZTIME",    // scripts/test.sh: fuzzing time per target
	"CHUTE_SHOT_DIR",    // test/browser_demo_test.go: screenshots of the demo page
}

// Problems is the error returned by Load and Validate: every problem found,
// one per entry, each naming the key (or variable) it is about.
type Problems []string

// Error lists the problems, one per line.
func (p Problems) Error() string {
	if len(p) == 1 {
		return "invalid configuration: " + p[0]
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problems):", len(p))
	for _, s := range p {
		b.WriteString("\n  - ")
		b.WriteString(s)
	}
	return b.String()
}

// Load returns the configuration built from Default, then the YAML file at
// path (skipped when path is ""), then the CHUTE_* variables in environ
// (in os.Environ's "KEY=value" form; nil reads none), validated.
//
// An unknown key in the file, a value of the wrong form, or a CHUTE_*
// variable that names no key (and isn't in EnvAllowlist) is an error that
// names it; so is every problem Validate finds. Such errors are of type
// Problems.
//
// A variable names a key by its upper-cased path joined with "_":
// CHUTE_SERVER_LISTEN is server.listen, CHUTE_BACKENDS_MAIN_SECRET_KEY is
// backends.main.secret_key. A variable for a backend or profile that the
// file doesn't have creates it, with the per-entry defaults. Lists are
// comma-separated (CHUTE_SERVER_CORS_ORIGINS=https://a.example,https://b.example);
// CHUTE_AUTH_API_KEYS is a comma-separated list of key:subject pairs.
// An entry of the webhooks list is named by its index from 0:
// CHUTE_WEBHOOKS_0_SECRET is webhooks[0].secret (CHUTE_WEBHOOKS_0_SECRET_FILE
// reads it from a file); the index one past the file's last entry adds one.
func Load(path string, environ []string) (*Config, error) {
	c, err := LoadUnchecked(path, environ)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadUnchecked is Load without Validate: the configuration the file and
// the environment make, with the defaults filled in, even if it could not
// run yet (`chute config print` with no file shows the defaults). Unknown
// keys and malformed values are still errors.
func LoadUnchecked(path string, environ []string) (*Config, error) {
	c := Default()
	c.Server.PublicURL = "" // derived again below, from the final listen
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := c.decodeYAML(data); err != nil {
			return nil, err
		}
	}
	if errs := c.applyEnv(environ); len(errs) > 0 {
		return nil, errs
	}
	c.fillDefaults()
	return &c, nil
}

// decodeYAML overlays the YAML document in data on c. It first walks the
// document against the struct so that unknown keys and malformed sizes or
// durations are reported with their full path, then decodes it strictly.
func (c *Config) decodeYAML(data []byte) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file configures nothing
		}
		return Problems{fmt.Sprintf("YAML: %v", err)}
	}
	var probs Problems
	checkNode(&doc, reflect.TypeFor[Config](), "", &probs)
	if len(probs) > 0 {
		return probs
	}
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(c); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, e := range te.Errors {
				probs = append(probs, "YAML: "+e)
			}
			return probs
		}
		return Problems{fmt.Sprintf("YAML: %v", err)}
	}
	return nil
}

var (
	byteSizeType = reflect.TypeFor[ByteSize]()
	durationType = reflect.TypeFor[Duration]()
)

// checkNode reports, under path, every key of n that type t has no field
// for, and every size or duration that doesn't parse.
func checkNode(n *yaml.Node, t reflect.Type, path string, probs *Problems) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) > 0 {
			checkNode(n.Content[0], t, path, probs)
		}
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	where := func(format string, args ...any) {
		*probs = append(*probs, fmt.Sprintf("%s: %s (line %d)", orTop(path), fmt.Sprintf(format, args...), n.Line))
	}
	switch {
	case t == byteSizeType || t == durationType:
		if n.Kind != yaml.ScalarNode {
			where("expected a single value")
			return
		}
		var err error
		if t == byteSizeType {
			_, err = ParseByteSize(n.Value)
		} else {
			_, err = ParseDuration(n.Value)
		}
		if err != nil {
			where("%v", err)
		}
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			where("expected a mapping of keys")
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				checkNode(v, t, path, probs)
				continue
			}
			f, ok := fields[k.Value]
			if !ok {
				msg := fmt.Sprintf("%s: unknown key (line %d)", join(path, k.Value), k.Line)
				if s := closest(k.Value, fieldNames(fields)); s != "" {
					msg += fmt.Sprintf("; did you mean %q?", s)
				}
				*probs = append(*probs, msg)
				continue
			}
			checkNode(v, f.Type, join(path, k.Value), probs)
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			where("expected a mapping of names")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			checkNode(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value), probs)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			where("expected a list")
			return
		}
		for i, item := range n.Content {
			checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), probs)
		}
	}
}

func orTop(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the yaml tag of each field of struct type t to the field.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := make(map[string]reflect.StructField, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = f
		}
	}
	return m
}

func fieldNames(fields map[string]reflect.StructField) []string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// closest returns the name within edit distance 2 of s, if one is.
func closest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// applyEnv overlays the CHUTE_* variables of environ on c.
func (c *Config) applyEnv(environ []string) Problems {
	vars := make(map[string]string)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, EnvPrefix) || slices.Contains(EnvAllowlist, k) {
			continue
		}
		vars[k] = v // a later duplicate wins, as with os.Getenv
	}
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	var probs Problems
	root := reflect.ValueOf(c).Elem()
	for _, k := range names {
		val := vars[k]
		key := strings.TrimPrefix(k, EnvPrefix)
		// KEY_FILE=path sets KEY to the file's content (secrets mounted as
		// files, e.g. Docker or Kubernetes secrets). A key really named
		// ..._file would be set directly: no config key ends so.
		if base, ok := strings.CutSuffix(key, "_FILE"); ok {
			data, err := os.ReadFile(val)
			if err != nil {
				probs = append(probs, fmt.Sprintf("%s: cannot read the file it names: %v", k, errors.Unwrap(err)))
				continue
			}
			key, val = base, strings.TrimRight(string(data), "\r\n")
		}
		if err := setEnv(root, key, "", val); err != nil {
			probs = append(probs, k+err.Error())
		}
	}
	return probs
}

var errNoKey = errors.New(": no such configuration key")

// setEnv sets the field of v that rest (an upper-cased, "_"-joined path)
// names. path is the dotted path of v, for messages.
func setEnv(v reflect.Value, rest, path, val string) error {
	switch v.Kind() {
	case reflect.Struct:
		fields := yamlFields(v.Type())
		// An exact match is a leaf; otherwise descend into the field whose
		// name is a prefix. Field names contain "_" themselves, so every
		// field is tried rather than splitting rest at the first "_".
		for name, f := range fields {
			if rest == strings.ToUpper(name) {
				return setLeaf(v.FieldByIndex(f.Index), join(path, name), val)
			}
		}
		for name, f := range fields {
			sub, ok := strings.CutPrefix(rest, strings.ToUpper(name)+"_")
			k := f.Type.Kind()
			if ok && (k == reflect.Struct || k == reflect.Map || (k == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct)) {
				return setEnv(v.FieldByIndex(f.Index), sub, join(path, name), val)
			}
		}
		return errNoKey
	case reflect.Map:
		name, sub, ok := strings.Cut(rest, "_")
		if !ok || name == "" {
			return errNoKey
		}
		key := strings.ToLower(name)
		for _, k := range v.MapKeys() {
			if strings.EqualFold(k.String(), name) {
				key = k.String()
				break
			}
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if cur := v.MapIndex(reflect.ValueOf(key)); cur.IsValid() {
			elem.Set(cur)
		}
		if err := setEnv(elem, sub, join(path, key), val); err != nil {
			return err
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		v.SetMapIndex(reflect.ValueOf(key), elem)
		return nil
	case reflect.Slice:
		// A list of entries (webhooks): <index>_<KEY> sets a key of the
		// entry at index, counted from 0; the index one past the end adds
		// an entry.
		idx, sub, ok := strings.Cut(rest, "_")
		i, err := strconv.Atoi(idx)
		if !ok || err != nil || i < 0 || i > v.Len() {
			return errNoKey
		}
		if i == v.Len() {
			v.Set(reflect.Append(v, reflect.New(v.Type().Elem()).Elem()))
		}
		return setEnv(v.Index(i), sub, fmt.Sprintf("%s[%d]", path, i), val)
	}
	return errNoKey
}

// setLeaf parses val into the field f (at path).
func setLeaf(f reflect.Value, path, val string) error {
	fail := func(err error) error { return fmt.Errorf(" (%s): %v", path, err) }
	if u, ok := f.Addr().Interface().(encoding.TextUnmarshaler); ok {
		if err := u.UnmarshalText([]byte(val)); err != nil {
			return fail(err)
		}
		return nil
	}
	switch f.Interface().(type) {
	case string:
		f.SetString(val)
	case int:
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil {
			return fail(fmt.Errorf("%q is not a whole number", val))
		}
		f.SetInt(int64(n))
	case bool:
		b, err := strconv.ParseBool(strings.TrimSpace(val))
		if err != nil {
			return fail(fmt.Errorf("%q is not true or false", val))
		}
		f.SetBool(b)
	case *bool:
		b, err := strconv.ParseBool(strings.TrimSpace(val))
		if err != nil {
			return fail(fmt.Errorf("%q is not true or false", val))
		}
		f.Set(reflect.ValueOf(&b))
	case []string:
		f.Set(reflect.ValueOf(splitList(val)))
	case []APIKey:
		var keys []APIKey
		for _, item := range splitList(val) {
			key, subject, ok := strings.Cut(item, ":")
			if !ok {
				return fail(errors.New("expected a comma-separated list of key:subject pairs"))
			}
			keys = append(keys, APIKey{Key: key, Subject: subject})
		}
		f.Set(reflect.ValueOf(keys))
	default:
		return errNoKey
	}
	return nil
}

// splitList splits a comma-separated list, trimming blanks and dropping
// empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
