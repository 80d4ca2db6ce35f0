package policy

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
)

// document is one YAML document of a file.
type document struct {
	// data is the document's text, starting at its "---" line when it has one.
	data []byte
	// firstLine is the 0-based line of the file data starts at.
	firstLine int
}

// splitDocuments cuts a file into its YAML documents at "---" lines (a "---" at the start of
// a line, followed by nothing, spaces or content), like k8s.io/apimachinery's YAMLReader,
// keeping each separator line in the document it opens so that the parser's line numbers plus
// firstLine are the file's line numbers. The YAML spec forbids a "---" at column 0 inside a
// scalar, so this cut never splits a value. Documents holding only blank lines, comments and
// separators are dropped. Splitting before parsing lets a syntax error in one document leave
// the others loadable.
func splitDocuments(data []byte) []document {
	var docs []document
	start, startLine, line := 0, 0, 0
	flush := func(end int) {
		if chunk := data[start:end]; !isBlankDocument(chunk) {
			docs = append(docs, document{data: chunk, firstLine: startLine})
		}
	}
	for off := 0; off < len(data); line++ {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		if off > start && isSeparator(data[off:next]) {
			flush(off)
			start, startLine = off, line
		}
		off = next
	}
	flush(len(data))
	return docs
}

func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("---")) {
		return false
	}
	rest := line[3:]
	return len(rest) == 0 || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '\r' || rest[0] == '\n'
}

func isBlankDocument(chunk []byte) bool {
	for line := range bytes.Lines(chunk) {
		t := bytes.TrimSpace(line)
		if isSeparator(line) {
			t = bytes.TrimSpace(line[3:])
		}
		if len(t) > 0 && t[0] != '#' {
			return false
		}
	}
	return true
}

// problem is one decoding problem of a document, before the file and document are known.
type problem struct {
	line   int // 1-based line in the document, 0 when unknown
	field  string
	detail string
	err    error
}

// yamlLine finds the "line N" yaml.v2 puts in its messages (1-based, relative to the input).
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// parseYAML parses one document strictly (a key twice in one mapping is an error) into plain
// Go values: map[string]any, []any, string, bool, int, int64, uint64, float64 and nil.
func parseYAML(data []byte) (tree any, problems []problem) {
	var raw any
	if err := unmarshalStrict(data, &raw); err != nil {
		return nil, yamlProblems(err)
	}
	tree, err := toJSONTree(raw)
	if err != nil {
		return nil, []problem{{detail: err.Error(), err: err}}
	}
	return tree, nil
}

// unmarshalStrict runs the YAML parser, turning a panic in it into an error: the parser is
// third-party code fed untrusted input, and one unreadable document must not stop the
// controller or the other policies.
func unmarshalStrict(data []byte, out any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: the YAML parser could not read this document (%v)", r)
		}
	}()
	return yaml.UnmarshalStrict(data, out)
}

func yamlProblems(err error) []problem {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	out := make([]problem, 0, len(msgs))
	for _, msg := range msgs {
		p := problem{err: err}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			p.line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		}
		msg = strings.TrimPrefix(msg, "yaml: ")
		switch {
		case strings.HasPrefix(msg, "invalid map key"):
			msg = "a mapping key must be a plain name, not a list or a mapping"
		case strings.Contains(msg, "already set in map"):
			msg = strings.Replace(msg, "already set in map", "appears twice in the same mapping: keep one", 1)
		default:
			msg = "YAML syntax error: " + msg
		}
		p.detail = msg
		out = append(out, p)
	}
	return out
}

// toJSONTree converts the parser's values to the ones encoding/json produces: mapping keys
// become strings (as sigs.k8s.io/yaml does: 1 becomes "1", true becomes "true"). Keys are
// visited in sorted order so that the problem reported does not depend on map iteration.
func toJSONTree(v any) (any, error) {
	switch v := v.(type) {
	case map[any]any:
		type entry struct {
			key string
			val any
		}
		entries := make([]entry, 0, len(v))
		for k, val := range v {
			key, err := keyString(k)
			if err != nil {
				return nil, err
			}
			entries = append(entries, entry{key, val})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		m := make(map[string]any, len(entries))
		for i, e := range entries {
			if i > 0 && entries[i-1].key == e.key {
				return nil, fmt.Errorf("key %q appears twice in the same mapping (once unquoted): keep one", e.key)
			}
			conv, err := toJSONTree(e.val)
			if err != nil {
				return nil, err
			}
			m[e.key] = conv
		}
		return m, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			conv, err := toJSONTree(e)
			if err != nil {
				return nil, err
			}
			out[i] = conv
		}
		return out, nil
	case nil, string, bool, int, int64, uint64, float64:
		return v, nil
	default:
		return nil, fmt.Errorf("a value is %s, which a policy cannot hold", describe(v))
	}
}

// keyString turns a mapping key into the string encoding/json would see.
func keyString(k any) (string, error) {
	switch k := k.(type) {
	case string:
		return k, nil
	case int:
		return strconv.Itoa(k), nil
	case int64:
		return strconv.FormatInt(k, 10), nil
	case uint64:
		return strconv.FormatUint(k, 10), nil
	case float64:
		return strconv.FormatFloat(k, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(k), nil
	default:
		// The parser rejects lists and mappings as keys itself; a null key ends here.
		return "", fmt.Errorf("a mapping key is %s: keys must be plain names", describe(k))
	}
}

// describe names the kind of a parsed value for messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "empty (null)"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case int, int64, uint64:
		return "a whole number"
	case float64:
		return "a number"
	case map[string]any, map[any]any:
		return "a mapping"
	case []any:
		return "a list"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	policyType      = reflect.TypeFor[v1alpha1.ScalingPolicy]()
)

// checker compares a parsed document with the Go type it must decode into, field by field,
// as encoding/json would but stricter: field names match exactly (encoding/json would accept
// "MinNodes" for minNodes), and every unknown field and wrong type is reported, each with its
// path, instead of only the first. It removes what it reports from the tree, so the rest can
// still be decoded and validated and every problem is reported at once.
type checker struct {
	problems []problem
	// removed are the paths of the values removed from the tree.
	removed []string
}

func (c *checker) report(path *field.Path, detail string) {
	c.problems = append(c.problems, problem{field: path.String(), detail: detail})
	c.removed = append(c.removed, path.String())
}

// check reports whether v fits t; when it does not, the caller removes v from the tree.
func (c *checker) check(v any, t reflect.Type, path *field.Path) bool {
	if v == nil {
		// null leaves the Go value unset, as in encoding/json.
		return true
	}
	if t.Kind() != reflect.Pointer && (reflect.PointerTo(t).Implements(jsonUnmarshaler) || reflect.PointerTo(t).Implements(textUnmarshaler)) {
		return c.checkLeaf(v, t, path)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return c.check(v, t.Elem(), path)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.wrongType(v, path, "a mapping of fields (name: value lines)", "")
			return false
		}
		fields := structFields(t)
		// Known fields in declaration order, then unknown ones by name, so problems are
		// reported in the order the API documents its fields.
		keys := sortedKeys(m)
		slices.SortStableFunc(keys, func(a, b string) int { return fields.rank(a) - fields.rank(b) })
		for _, key := range keys {
			f, ok := fields.byName[key]
			if !ok {
				c.report(path.Child(key), unknownFieldDetail(key, fields.names))
				delete(m, key)
				continue
			}
			if !c.check(m[key], f.typ, path.Child(key)) {
				delete(m, key)
			}
		}
		return true
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			c.wrongType(v, path, "a mapping (name: value lines)", "")
			return false
		}
		for _, key := range sortedKeys(m) {
			if !c.check(m[key], t.Elem(), path.Key(key)) {
				delete(m, key)
			}
		}
		return true
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			c.wrongType(v, path, "a list (lines starting with '- ', or [a, b])", "")
			return false
		}
		for i, e := range list {
			if !c.check(e, t.Elem(), path.Index(i)) {
				list[i] = nil
			}
		}
		return true
	case reflect.String:
		if _, ok := v.(string); !ok {
			hint := ""
			switch v.(type) {
			case bool:
				hint = "YAML reads unquoted true, false, yes, no, on, off, y and n as booleans: put the value in quotes"
			case int, int64, uint64, float64:
				hint = "put the value in quotes"
			}
			c.wrongType(v, path, "a string", hint)
			return false
		}
		return true
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.wrongType(v, path, "true or false", "")
			return false
		}
		return true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return c.checkInteger(v, t, path)
	case reflect.Float32, reflect.Float64:
		switch v.(type) {
		case int, int64, uint64, float64:
			return true
		}
		c.wrongType(v, path, "a number", "")
		return false
	case reflect.Interface:
		return true
	default:
		c.wrongType(v, path, "a value of Go type "+t.String(), "")
		return false
	}
}

func isScalar(v any) bool {
	switch v.(type) {
	case bool, int, int64, uint64, float64:
		return true
	}
	return false
}

func (c *checker) checkInteger(v any, t reflect.Type, path *field.Path) bool {
	var lo, hi float64
	if k := t.Kind(); k >= reflect.Uint && k <= reflect.Uint64 {
		lo, hi = 0, math.Ldexp(1, t.Bits())-1
	} else {
		lo, hi = -math.Ldexp(1, t.Bits()-1), math.Ldexp(1, t.Bits()-1)-1
	}
	var n float64
	switch v := v.(type) {
	case int:
		n = float64(v)
	case int64:
		n = float64(v)
	case uint64:
		n = float64(v)
	case float64:
		text := strconv.FormatFloat(v, 'g', -1, 64)
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			c.report(path, fmt.Sprintf("Invalid value: %s: write whole numbers without a decimal point or exponent, as %.0f", text, v))
		} else {
			c.report(path, fmt.Sprintf("Invalid value: %s: must be a whole number", text))
		}
		return false
	case string:
		hint := ""
		if i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			hint = fmt.Sprintf("write it without quotes, as %d", i)
		}
		c.wrongType(v, path, "a whole number", hint)
		return false
	default:
		c.wrongType(v, path, "a whole number", "")
		return false
	}
	if n < lo || n > hi {
		c.report(path, fmt.Sprintf("Invalid value: %v: must be a whole number from %.0f to %.0f", v, lo, hi))
		return false
	}
	return true
}

// checkLeaf decodes a value of a type with its own JSON decoding (resource.Quantity,
// metav1.Time) to see whether that type accepts it.
func (c *checker) checkLeaf(v any, t reflect.Type, path *field.Path) bool {
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, reflect.New(t).Interface())
	}
	if err != nil {
		detail := "Invalid value"
		if isScalar(v) || isString(v) {
			detail += fmt.Sprintf(": %s", displayValue(v))
		}
		c.report(path, detail+": "+leafHint(t, err))
		return false
	}
	return true
}

func isString(v any) bool { _, ok := v.(string); return ok }

func leafHint(t reflect.Type, err error) string {
	switch t.String() {
	case "resource.Quantity":
		return "must be a quantity such as 8, 0.5, 32Gi or 32768Mi"
	case "v1.Time":
		return "must be a time in RFC 3339 form, such as 2026-01-02T15:04:05Z"
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return msg
}

func (c *checker) wrongType(v any, path *field.Path, want, hint string) {
	detail := "Invalid value"
	if isScalar(v) || isString(v) {
		detail += ": " + displayValue(v)
	}
	detail = fmt.Sprintf("%s: must be %s, not %s", detail, want, describe(v))
	if hint != "" {
		detail += ": " + hint
	}
	c.report(path, detail)
}

func displayValue(v any) string {
	if s, ok := v.(string); ok {
		if len(s) > 80 {
			s = s[:77] + "..."
		}
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fieldSet is the JSON fields of a struct type.
type fieldSet struct {
	byName map[string]fieldInfo
	names  []string // in declaration order
}

type fieldInfo struct {
	typ   reflect.Type
	index int // position in names
}

// rank is the position of a field name in declaration order; unknown names rank last.
func (fs *fieldSet) rank(name string) int {
	if f, ok := fs.byName[name]; ok {
		return f.index
	}
	return len(fs.names)
}

var fieldCache sync.Map // reflect.Type → *fieldSet

// structFields lists the JSON fields of t as encoding/json sees them: exported fields by their
// json tag name, with embedded structs that have no tag name inlined.
func structFields(t reflect.Type) *fieldSet {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*fieldSet)
	}
	fs := &fieldSet{byName: map[string]fieldInfo{}}
	var add func(t reflect.Type)
	add = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous && name == "" {
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					add(ft)
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if _, dup := fs.byName[name]; dup {
				continue // encoding/json would ignore both; the types here have no such clash
			}
			fs.byName[name] = fieldInfo{typ: f.Type, index: len(fs.names)}
			fs.names = append(fs.names, name)
		}
	}
	add(t)
	actual, _ := fieldCache.LoadOrStore(t, fs)
	return actual.(*fieldSet)
}

// unknownFieldDetail says a field is unknown and suggests the closest known name.
func unknownFieldDetail(name string, known []string) string {
	if s := suggest(name, known); s != "" {
		return fmt.Sprintf("unknown field: did you mean %q?", s)
	}
	return fmt.Sprintf("unknown field: the fields here are %s", strings.Join(known, ", "))
}

// suggest returns the known name closest to name, or "" when none is close: a name equal but
// for case, or within an edit distance of 2 (a third of the name's length for long names).
func suggest(name string, known []string) string {
	best, bestDist := "", math.MaxInt
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestDist {
			best, bestDist = k, d
		}
	}
	if bestDist <= max(2, len(name)/3) && bestDist < len(name) {
		return best
	}
	return ""
}

// editDistance is the optimal string alignment distance (insertions, deletions,
// substitutions and transpositions of adjacent bytes) between a and b.
func editDistance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return math.MaxInt // not a misspelling of a field name
	}
	prev2 := make([]int, len(b)+1)
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
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// decodePolicy turns one parsed document into a ScalingPolicy. It returns the problems of the
// document's shape (not a mapping, unknown fields, wrong types) and the paths of the values it
// had to drop; the policy is nil only when the document is not a mapping at all.
func decodePolicy(tree any) (*v1alpha1.ScalingPolicy, []problem, []string) {
	m, ok := tree.(map[string]any)
	if !ok {
		detail := fmt.Sprintf("the document is %s; a policy document must be a mapping with apiVersion, kind, metadata and spec", describe(tree))
		switch tree.(type) {
		case []any:
			detail += " (remove the leading '- ': one policy per document, documents separated by ---)"
		case string:
			detail += " (is the indentation right?)"
		}
		return nil, []problem{{detail: detail}}, nil
	}
	var c checker
	c.check(m, policyType, nil)
	b, err := json.Marshal(m)
	if err != nil {
		c.problems = append(c.problems, problem{detail: fmt.Sprintf("converting the document to JSON: %v", err), err: err})
		return nil, c.problems, c.removed
	}
	p := new(v1alpha1.ScalingPolicy)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(p); err != nil {
		// The checker should have caught it; report rather than lose it.
		c.problems = append(c.problems, problem{detail: fmt.Sprintf("decoding the policy: %v", err), err: err})
		return nil, c.problems, c.removed
	}
	return p, c.problems, c.removed
}
