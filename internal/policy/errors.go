package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is one problem found while loading policies: where it is (file, document, line,
// field path) and what is wrong and what to do. Load and LoadData return only *Error values,
// so a caller can print one problem per line or group them by file.
type Error struct {
	// File is the path of the policy file, as given or as found in a given directory.
	File string
	// Document is the 1-based index of the YAML document in File when File holds several
	// documents; 0 when it holds one or the problem concerns the whole file.
	Document int
	// Line is the 1-based line in File the problem was found at; 0 when unknown (the YAML
	// parser gives lines for syntax errors only).
	Line int
	// Policy is the metadata.name of the policy concerned, when known.
	Policy string
	// Field is the path of the field concerned, such as spec.utilization.scaleDownPercent;
	// empty when the problem concerns a whole file or document.
	Field string
	// Detail says what is wrong and what to do, such as
	// "Invalid value: 90: must be less than spec.utilization.scaleUpPercent (80)".
	Detail string
	// Err is the underlying error (a *field.Error, an *fs.PathError, a YAML error), or nil.
	Err error
}

// Error formats the problem on one line:
// "FILE[ (document N)]: [line L: ][FIELD: ]DETAIL".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Location())
	b.WriteString(": ")
	if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Detail)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Location is the file and, when the file holds several documents, the document of the
// problem: "general.yaml" or "pools.yaml (document 2)".
func (e *Error) Location() string { return location(e.File, e.Document) }

func location(file string, document int) string {
	if document > 0 {
		return fmt.Sprintf("%s (document %d)", file, document)
	}
	return file
}

// FormatErrors renders errors one per line, each ending in a newline, in the order given.
func FormatErrors(errs []error) string {
	var b strings.Builder
	for _, err := range errs {
		// A problem's detail may quote multi-line text; keep it to one line per problem.
		b.WriteString(strings.ReplaceAll(err.Error(), "\n", " "))
		b.WriteByte('\n')
	}
	return b.String()
}
