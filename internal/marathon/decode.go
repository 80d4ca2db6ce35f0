package marathon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/lambdascale/lambdascale/internal/mesos"
)

// response names one Marathon endpoint's response in errors.
type response string

// The responses this package reads.
const (
	queueResponse response = "/v2/queue"
	appsResponse  response = "/v2/apps"
)

// notA is the error for input that is valid JSON but not the wanted response.
func (r response) notA(format string, args ...any) error {
	return fmt.Errorf("not a Marathon %s response: %s", string(r), fmt.Sprintf(format, args...))
}

// reading wraps an error met while decoding the wanted response.
func (r response) reading(err error) error {
	return fmt.Errorf("reading Marathon %s response: %w", string(r), err)
}

// keyHandler decodes the value of one top-level key from dec.
type keyHandler func(dec *json.Decoder) error

// walkObject streams the top-level JSON object of r, calling the handler of each key in
// handlers once (a repeated key is an error) and skipping the values of other keys, so that a
// large response is never held whole. It returns the keys met, in order, and whether any
// handler ran. Input that is not a single JSON object is an error.
func walkObject(r io.Reader, resp response, handlers map[string]keyHandler) (keys []string, handled bool, err error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, false, resp.notA("empty input")
		}
		return nil, false, resp.reading(syntaxError(dec, err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, false, resp.notA("the top-level JSON value is %s, want an object", tokenKind(tok))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return keys, handled, resp.reading(syntaxError(dec, err))
		}
		key, _ := tok.(string)
		keys = append(keys, key)
		h, ok := handlers[key]
		if !ok {
			if err := skipValue(dec); err != nil {
				return keys, handled, resp.reading(syntaxError(dec, err))
			}
			continue
		}
		if seen[key] {
			return keys, handled, resp.reading(fmt.Errorf("key %q appears twice", key))
		}
		seen[key] = true
		handled = true
		if err := h(dec); err != nil {
			return keys, handled, err
		}
	}
	if _, err := dec.Token(); err != nil { // '}'
		return keys, handled, resp.reading(syntaxError(dec, err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = fmt.Errorf("data after the top-level object at byte %d", dec.InputOffset())
		}
		return keys, handled, resp.reading(syntaxError(dec, err))
	}
	return keys, handled, nil
}

// skipValue reads and drops the next JSON value, token by token, holding none of it.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// eachElement streams the JSON array that is the next value of dec, calling fn with each
// element's index and bytes. A null counts as an empty array; any other value is an error
// naming key.
func eachElement(dec *json.Decoder, resp response, key string, fn func(i int, raw json.RawMessage) error) error {
	tok, err := dec.Token()
	if err != nil {
		return resp.reading(syntaxError(dec, err))
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return resp.notA("%q is %s, want an array", key, tokenKind(tok))
	}
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return resp.reading(syntaxError(dec, err))
		}
		if err := fn(i, raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return resp.reading(syntaxError(dec, err))
	}
	return nil
}

// syntaxError adds the input offset to a JSON syntax error and says when the input ended
// early.
func syntaxError(dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("JSON ends early, at byte %d (truncated?): %w", dec.InputOffset(), io.ErrUnexpectedEOF)
	}
	return err
}

// tokenKind names the kind of JSON value a json.Decoder token starts.
func tokenKind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// responseHints maps a top-level key to the response it suggests, to name a wrong file.
var responseHints = []struct{ key, what string }{
	{"queue", "a Marathon GET /v2/queue response"},
	{"apps", "a Marathon GET /v2/apps response"},
	{"app", "a Marathon GET /v2/apps/{id} response"},
	{"tasks", "a Marathon GET /v2/tasks response"},
	{"deployments", "a Marathon GET /v2/groups response"},
	{"slaves", "a Mesos GET /master/state response"},
	{"frameworks", "a Mesos GET /master/state response"},
	{"recovered_slaves", "a Mesos GET /master/slaves response"},
	{"type", "a Mesos operator API (POST /api/v1) response"},
	{"AutoScalingGroups", "aws autoscaling describe-auto-scaling-groups output"},
	{"Reservations", "aws ec2 describe-instances output"},
}

// describeKeys lists an object's top-level keys and, when one is known, what it looks like.
func describeKeys(keys []string) string {
	if len(keys) == 0 {
		return "it is an empty object"
	}
	n := min(len(keys), 10)
	quoted := make([]string, n)
	for i := range n {
		quoted[i] = strconv.Quote(keys[i])
	}
	s := "its keys are " + strings.Join(quoted, ", ")
	if len(keys) > n {
		s += fmt.Sprintf(" and %d more", len(keys)-n)
	}
	for _, h := range responseHints {
		for _, k := range keys {
			if k == h.key {
				return s + "; it looks like " + h.what
			}
		}
	}
	return s
}

// resourcesJSON is a Marathon resource block ({cpus, mem, disk, gpus}); absent amounts are nil.
type resourcesJSON struct {
	CPUs *float64 `json:"cpus"`
	Mem  *float64 `json:"mem"`
	Disk *float64 `json:"disk"`
	GPUs *float64 `json:"gpus"`
}

// resources returns the amounts, taking def for the absent ones; a negative amount is an
// error.
func (r resourcesJSON) resources(def mesos.Resources) (mesos.Resources, error) {
	out := def
	for _, f := range []struct {
		name mesos.ResourceName
		v    *float64
	}{{mesos.ResourceCPUs, r.CPUs}, {mesos.ResourceMem, r.Mem}, {mesos.ResourceDisk, r.Disk}, {mesos.ResourceGPUs, r.GPUs}} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 || math.IsNaN(*f.v) || math.IsInf(*f.v, 0) {
			return mesos.Resources{}, fmt.Errorf("%s is %v, want a non-negative amount", f.name, *f.v)
		}
		out.Set(f.name, *f.v)
	}
	return out, nil
}

// Marathon's defaults for absent resource amounts: an app's (AppDefinition: cpus 1, mem 128 MiB,
// disk 0, gpus 0), a pod container's (the same), and a pod executor's (ExecutorResources in
// the pod RAML: cpus 0.1, mem 32 MiB, disk 10 MiB).
var (
	defaultAppResources      = mesos.Resources{CPUs: 1, Mem: 128}
	defaultExecutorResources = mesos.Resources{CPUs: 0.1, Mem: 32, Disk: 10}
)

// parseConstraints decodes Marathon placement constraints: app constraints are arrays of 2 or 3
// items ([field, operator] or [field, operator, value]); pod constraints (RAML) are objects
// {fieldName, operator, value?}. Numbers and booleans are rendered as their JSON text, since
// older Marathon versions sent values such as ["rack", "GROUP_BY", 3]; a null value counts as
// absent. Anything else is an error: dropping a constraint would make planning optimistic.
func parseConstraints(raw json.RawMessage) ([][]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var list []any
	if err := dec.Decode(&list); err != nil {
		return nil, errors.New("constraints are not an array")
	}
	if len(list) == 0 {
		return nil, nil
	}
	out := make([][]string, 0, len(list))
	for i, c := range list {
		var parts []any
		switch v := c.(type) {
		case []any:
			parts = v
		case map[string]any:
			parts = []any{v["fieldName"], v["operator"]}
			if val, ok := v["value"]; ok {
				parts = append(parts, val)
			}
		default:
			return nil, fmt.Errorf("constraint %d is %s, want an array such as [\"hostname\", \"UNIQUE\"]", i, anyKind(c))
		}
		if len(parts) == 3 && parts[2] == nil {
			parts = parts[:2]
		}
		if len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("constraint %d has %d items, want 2 or 3", i, len(parts))
		}
		con := make([]string, len(parts))
		for j, p := range parts {
			s, ok := scalarText(p)
			if !ok || (j < 2 && s == "") {
				return nil, fmt.Errorf("constraint %d: item %d is %s, want a non-empty string", i, j, anyKind(p))
			}
			con[j] = s
		}
		out = append(out, con)
	}
	return out, nil
}

// scalarText renders a decoded JSON scalar as text.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// anyKind names the kind of a decoded JSON value.
func anyKind(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		if x == "" {
			return "an empty string"
		}
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// runSpecID returns a short "app \"/id\"" label for errors, from whatever id the element has.
func runSpecID(kind, id string) string {
	if id == "" {
		return kind + " without id"
	}
	return fmt.Sprintf("%s %q", kind, id)
}
