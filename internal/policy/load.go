// Package policy loads ScalingPolicy objects from YAML files and directories: it splits
// multi-document files, decodes strictly (an unknown or misspelled field is an error), applies
// defaults, validates, and checks the policies against each other (unique names, one policy per
// Auto Scaling group). It reports every problem with its file, document and field path, and
// loads the valid policies even when others are broken. It only reads: it never writes to the
// files it loads.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
)

// MaxFileSize is the largest policy file Load reads, in bytes. A policy is a few kilobytes;
// a bigger file is almost certainly not a policy file.
const MaxFileSize = 8 << 20

// MaxProblemsPerDocument is the most problems reported for one document; a document with more
// is probably not a policy at all, and one line saying how many were left out is more useful.
const MaxProblemsPerDocument = 100

// Loaded is one valid policy and where it came from.
type Loaded struct {
	// Policy is the decoded policy with every default set; it passed Validate.
	Policy *v1alpha1.ScalingPolicy
	// File is the path of the file the policy was read from.
	File string
	// Document is the 1-based index of the policy's document among the file's non-empty
	// documents.
	Document int
	// Documents is the number of non-empty documents in the file.
	Documents int
	// Source is the document's text exactly as the user wrote it.
	Source []byte
}

// Location is the policy's file and, when the file holds several documents, its document:
// "general.yaml" or "pools.yaml (document 2)".
func (l Loaded) Location() string {
	if l.Documents > 1 {
		return location(l.File, l.Document)
	}
	return location(l.File, 0)
}

// Load reads policies from files and directories. A file may hold several documents separated
// by "---" lines; empty documents are skipped. A directory contributes every regular *.yaml and
// *.yml file directly in it, in name order, skipping hidden files and subdirectories. A file
// reached twice is read once. Each document is decoded strictly, defaulted (SetDefaults) and
// validated (Validate); then policy names must be unique and no two policies may manage the same
// Auto Scaling group (a policy without a region is taken to be in every region). Of two
// conflicting policies the first in load order is kept.
//
// Load returns the valid policies in load order and every problem found, as *Error values
// ordered by file and document; a broken file or document never prevents the others from
// loading.
func Load(paths ...string) ([]Loaded, []error) {
	var (
		loaded []Loaded
		errs   []error
		order  []string // files and failed paths in load order, for sorting errors
		seen   = map[string]bool{}
	)
	if len(paths) == 0 {
		return nil, []error{&Error{File: "(no path)", Detail: "give at least one policy file or directory"}}
	}
	for _, path := range paths {
		files, err := expand(path)
		if err != nil {
			order = append(order, path)
			errs = append(errs, err)
			continue
		}
		for _, file := range files {
			key := file
			if abs, err := filepath.Abs(file); err == nil {
				key = abs
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			order = append(order, file)
			data, err := readFile(file)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			l, e := loadFile(file, data)
			loaded = append(loaded, l...)
			errs = append(errs, e...)
		}
	}
	loaded, crossErrs := checkConflicts(loaded)
	return loaded, mergeErrors(order, errs, crossErrs)
}

// LoadData loads the policies in one file's contents, as Load does for a file, including the
// checks between the policies of that file. file names the data in errors and in Loaded.
func LoadData(file string, data []byte) ([]Loaded, []error) {
	loaded, errs := loadFile(file, data)
	loaded, crossErrs := checkConflicts(loaded)
	return loaded, mergeErrors([]string{file}, errs, crossErrs)
}

// expand lists the policy files a path names.
func expand(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	if !info.IsDir() {
		if !info.Mode().IsRegular() {
			return nil, &Error{File: path, Detail: fmt.Sprintf("is not a regular file (%s): give a policy file or a directory", info.Mode().Type())}
		}
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	var files []string
	for _, e := range entries { // os.ReadDir sorts by name
		name := e.Name()
		if strings.HasPrefix(name, ".") || !isYAMLName(name) {
			continue
		}
		full := filepath.Join(path, name)
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(full)
			if err != nil {
				return nil, pathError(full, err)
			}
			if !fi.Mode().IsRegular() {
				continue
			}
		} else if !e.Type().IsRegular() {
			continue
		}
		files = append(files, full)
	}
	if len(files) == 0 {
		return nil, &Error{File: path, Detail: "directory holds no *.yaml or *.yml policy file"}
	}
	return files, nil
}

func isYAMLName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

func pathError(path string, err error) *Error {
	detail := err.Error()
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		detail = pe.Err.Error()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		detail += ": check the path"
	case errors.Is(err, fs.ErrPermission):
		detail += ": the controller's user must be able to read it"
	}
	return &Error{File: path, Detail: "cannot read: " + detail, Err: err}
}

// readFile reads a file of at most MaxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, pathError(path, err)
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Detail: fmt.Sprintf("is larger than %d MiB: a policy file is a few kilobytes; is this the right file?", MaxFileSize>>20)}
	}
	return data, nil
}

var (
	utf8BOM    = []byte{0xEF, 0xBB, 0xBF}
	utf16BEBOM = []byte{0xFE, 0xFF}
	utf16LEBOM = []byte{0xFF, 0xFE}
)

// checkText rejects data that is not UTF-8 text, returning what to tell the user.
func checkText(data []byte) string {
	if bytes.HasPrefix(data, utf16BEBOM) || bytes.HasPrefix(data, utf16LEBOM) {
		return "is UTF-16 text: save it as UTF-8"
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return fmt.Sprintf("is not a text file (byte %d is NUL): give a YAML policy file", i)
	}
	if !utf8.Valid(data) {
		line := 1
		for len(data) > 0 {
			r, size := utf8.DecodeRune(data)
			if r == utf8.RuneError && size <= 1 {
				break
			}
			if r == '\n' {
				line++
			}
			data = data[size:]
		}
		return fmt.Sprintf("is not UTF-8 text (invalid bytes at line %d): save it as UTF-8", line)
	}
	return ""
}

// loadFile decodes, defaults and validates every document of one file.
func loadFile(file string, data []byte) ([]Loaded, []error) {
	if msg := checkText(data); msg != "" {
		return nil, []error{&Error{File: file, Detail: msg}}
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	docs := splitDocuments(data)
	var (
		loaded []Loaded
		errs   []error
	)
	for i, doc := range docs {
		docIndex := 0
		if len(docs) > 1 {
			docIndex = i + 1
		}
		p, problems := loadDocument(doc.data)
		if n := len(problems); n > MaxProblemsPerDocument {
			problems = append(problems[:MaxProblemsPerDocument:MaxProblemsPerDocument], problem{
				detail: fmt.Sprintf("%d more problems not shown: fix the ones above first", n-MaxProblemsPerDocument),
			})
		}
		for _, pr := range problems {
			e := &Error{File: file, Document: docIndex, Field: pr.field, Detail: pr.detail, Err: pr.err}
			if pr.line > 0 {
				e.Line = doc.firstLine + pr.line
			}
			if p != nil {
				e.Policy = p.Name
			}
			errs = append(errs, e)
		}
		if p != nil && len(problems) == 0 {
			loaded = append(loaded, Loaded{Policy: p, File: file, Document: i + 1, Documents: len(docs), Source: doc.data})
		}
	}
	if len(docs) == 0 {
		errs = append(errs, &Error{File: file, Detail: "holds no policy (it is empty or only comments)"})
	} else if len(loaded) == 0 && len(errs) == 0 {
		errs = append(errs, &Error{File: file, Detail: "holds no policy (every document is empty or null)"})
	}
	return loaded, errs
}

// loadDocument decodes one document. It returns the policy (nil when the document is empty
// or cannot be decoded at all) and its problems; a policy with problems is not to be used.
func loadDocument(data []byte) (*v1alpha1.ScalingPolicy, []problem) {
	tree, problems := parseYAML(data)
	if len(problems) > 0 {
		return nil, problems
	}
	if tree == nil {
		return nil, nil // an empty or null document
	}
	p, problems, removed := decodePolicy(tree)
	if p == nil {
		return nil, problems
	}
	v1alpha1.SetDefaults(p)
	for _, fe := range v1alpha1.Validate(p) {
		// A value the decoder dropped (wrong type, unknown field) is already reported; do not
		// add the consequences of its absence ("Required value") or of its default.
		if mentionsAny(fe, removed) {
			continue
		}
		problems = append(problems, problem{field: fe.Field, detail: fe.ErrorBody(), err: fe})
	}
	return p, problems
}

func mentionsAny(fe *field.Error, paths []string) bool {
	for _, p := range paths {
		if isWithin(fe.Field, p) || isWithin(p, fe.Field) || strings.Contains(fe.Detail, p) {
			return true
		}
	}
	return false
}

// isWithin reports whether path is p or a path below p.
func isWithin(path, p string) bool {
	if !strings.HasPrefix(path, p) {
		return false
	}
	rest := path[len(p):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}

// checkConflicts keeps the first of policies with the same name or the same Auto Scaling group
// and reports the others.
func checkConflicts(loaded []Loaded) ([]Loaded, []error) {
	var (
		kept   []Loaded
		errs   []error
		byName = map[string]Loaded{}
		byASG  = map[string][]Loaded{} // by group name
	)
	for _, l := range loaded {
		p := l.Policy
		docIndex := 0
		if l.Documents > 1 {
			docIndex = l.Document
		}
		if first, dup := byName[p.Name]; dup {
			fe := field.Duplicate(field.NewPath("metadata", "name"), p.Name)
			fe.Detail = fmt.Sprintf("%s already defines a policy with this name: give each policy its own name", first.Location())
			errs = append(errs, &Error{File: l.File, Document: docIndex, Policy: p.Name, Field: fe.Field, Detail: fe.ErrorBody(), Err: fe})
			continue
		}
		asg := p.Spec.AutoScalingGroup
		if i := slices.IndexFunc(byASG[asg.Name], func(o Loaded) bool {
			r := o.Policy.Spec.AutoScalingGroup.Region
			return r == asg.Region || r == "" || asg.Region == ""
		}); i >= 0 {
			first := byASG[asg.Name][i]
			fe := field.Duplicate(field.NewPath("spec", "autoScalingGroup", "name"), asg.Name)
			fe.Detail = fmt.Sprintf("policy %q (%s) already manages this Auto Scaling group and two policies would fight over it: give one of them another group, or set different spec.autoScalingGroup.region values if these are groups in different regions",
				first.Policy.Name, first.Location())
			errs = append(errs, &Error{File: l.File, Document: docIndex, Policy: p.Name, Field: fe.Field, Detail: fe.ErrorBody(), Err: fe})
			continue
		}
		byName[p.Name] = l
		byASG[asg.Name] = append(byASG[asg.Name], l)
		kept = append(kept, l)
	}
	return kept, errs
}

// mergeErrors appends the conflict errors after the per-file ones, then orders them all by
// file (in the load order given) and document, keeping the order within a document.
func mergeErrors(files []string, errs, crossErrs []error) []error {
	all := slices.Concat(errs, crossErrs)
	rank := make(map[string]int, len(files))
	for i, f := range files {
		if _, seen := rank[f]; !seen {
			rank[f] = i
		}
	}
	key := func(err error) (int, int) {
		if e, ok := err.(*Error); ok {
			return rank[e.File], e.Document
		}
		return len(files), 0
	}
	slices.SortStableFunc(all, func(a, b error) int {
		fa, da := key(a)
		fb, db := key(b)
		if fa != fb {
			return fa - fb
		}
		return da - db
	})
	return all
}
