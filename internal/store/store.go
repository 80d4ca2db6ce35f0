// Package store keeps the status of ScalingPolicy objects in a directory, one YAML file per
// policy (<name>.yaml) holding the whole object: apiVersion, kind, metadata, the defaulted spec
// and the status. Writes are atomic: a temporary file in the same directory, fsync, rename, and
// an fsync of the directory, so a crash leaves either the old file or the new one, never a mix.
// The user's policy files are never written.
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"

	"github.com/lambdascale/lambdascale/api/v1alpha1"
)

// Store is a directory of status files.
type Store struct {
	dir string
}

// New returns a Store in dir, creating the directory (mode 0755) when it is missing and removing
// temporary files left by a writer that was killed.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating status directory: %w", err)
	}
	// A process killed mid-write leaves its temporary file; the real files are intact.
	if stale, err := filepath.Glob(filepath.Join(dir, ".*.yaml.tmp-*")); err == nil {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	return &Store{dir: dir}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the file that holds the status of the named policy.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name+".yaml") }

// Get reads the stored object of the named policy. It returns (nil, nil) when none is stored.
func (s *Store) Get(name string) (*v1alpha1.ScalingPolicy, error) {
	b, err := os.ReadFile(s.Path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading status of %q: %w", name, err)
	}
	var p v1alpha1.ScalingPolicy
	if err := yaml.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decoding status file %s: %w", s.Path(name), err)
	}
	return &p, nil
}

// Put writes the whole object atomically to <dir>/<metadata.name>.yaml.
func (s *Store) Put(p *v1alpha1.ScalingPolicy) error {
	b, err := yaml.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding status of %q: %w", p.Name, err)
	}
	return writeAtomic(s.dir, p.Name+".yaml", b)
}

// SameSpec reports whether two specs are equal in content (compared as JSON, so defaulted
// and explicit values compare the same once both are defaulted).
func SameSpec(a, b *v1alpha1.ScalingPolicySpec) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// writeAtomic replaces dir/name with data: temp file in dir, fsync, rename, fsync of dir.
func writeAtomic(dir, name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", name, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", name, err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err = os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("replacing %s: %w", name, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory of %s: %w", name, err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("syncing directory of %s: %w", name, err)
	}
	return nil
}
