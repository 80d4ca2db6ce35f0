package watch

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
)

const (
	testDebounce  = 50 * time.Millisecond
	testStability = 20 * time.Millisecond
	// expectWait is how long a test waits for a notification it expects: generous, so that a
	// slow machine does not fail the test.
	expectWait = 10 * time.Second
	// quietWait is how long a test watches for a notification it does not expect: several
	// debounce periods.
	quietWait = 300 * time.Millisecond
)

// started is a running Watcher under test.
type started struct {
	w *Watcher
	// notes receives, for each notification, what probe returned when it was made.
	notes chan string
}

// start runs a Watcher for path with the test timings, and returns once its first check of the
// files is done (so that what the test changes next is a change). probe, if not nil, runs at
// each notification; its result is what the test receives.
func start(t *testing.T, path string, probe func() string, opts ...Option) *started {
	t.Helper()
	opts = append([]Option{
		WithDebounce(testDebounce),
		WithStabilityDelay(testStability),
		WithLogger(testr.NewWithOptions(t, testr.Options{Verbosity: 2})),
	}, opts...)
	w, err := New(path, opts...)
	if err != nil {
		t.Fatalf("New(%q): %v", path, err)
	}
	return run(t, w, probe)
}

func run(t *testing.T, w *Watcher, probe func() string) *started {
	t.Helper()
	checked := make(chan struct{}, 1)
	w.afterCheck = func() {
		select {
		case checked <- struct{}{}:
		default:
		}
	}
	s := &started{w: w, notes: make(chan string, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func() {
			note := ""
			if probe != nil {
				note = probe()
			}
			s.notes <- note
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(expectWait):
			t.Errorf("Run did not return after its context was cancelled")
		}
	})
	select {
	case <-checked:
	case err := <-done:
		t.Fatalf("Run returned at once: %v", err)
	case <-time.After(expectWait):
		t.Fatalf("the Watcher did not check the files within %v of starting", expectWait)
	}
	return s
}

// expectOne waits for a notification, then checks no other follows; it returns the note.
func (s *started) expectOne(t *testing.T, what string) string {
	t.Helper()
	var note string
	select {
	case note = <-s.notes:
	case <-time.After(expectWait):
		t.Fatalf("%s: no notification within %v", what, expectWait)
	}
	s.expectNone(t, what+" (after the first notification)")
	return note
}

// expectNone checks no notification comes for a while.
func (s *started) expectNone(t *testing.T, what string) {
	t.Helper()
	select {
	case note := <-s.notes:
		t.Fatalf("%s: unexpected notification (probe: %q)", what, note)
	case <-time.After(quietWait):
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "error: " + err.Error()
	}
	return string(data)
}

// policyDir makes a directory holding the given files.
func policyDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policies")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		write(t, filepath.Join(dir, name), content)
	}
	return dir
}

// listing describes the policy files of dir and their content, as a probe.
func listing(dir string) func() string {
	return func() string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "error: " + err.Error()
		}
		var b strings.Builder
		for _, e := range entries {
			if isPolicyName(e.Name()) {
				b.WriteString(e.Name() + "=" + read(filepath.Join(dir, e.Name())) + ";")
			}
		}
		return b.String()
	}
}

func TestNewFile(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	s := start(t, dir, listing(dir))
	write(t, filepath.Join(dir, "b.yml"), "b: 1\n")
	if got, want := s.expectOne(t, "new file"), "a.yaml=a: 1\n;b.yml=b: 1\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

func TestEditInPlace(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	s := start(t, dir, listing(dir))
	f, err := os.OpenFile(filepath.Join(dir, "a.yaml"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("a: 2\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := s.expectOne(t, "edit in place"), "a.yaml=a: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

func TestEditorSaveByRename(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	s := start(t, dir, listing(dir))
	tmp := filepath.Join(dir, ".a.yaml.tmp1234")
	write(t, tmp, "a: 2\n")
	if err := os.Rename(tmp, filepath.Join(dir, "a.yaml")); err != nil {
		t.Fatal(err)
	}
	if got, want := s.expectOne(t, "save by rename"), "a.yaml=a: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

// TestVimStyleSave saves the way vim does without backupcopy: rename the original to a backup,
// write a new file, remove the backup.
func TestVimStyleSave(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	s := start(t, dir, listing(dir))
	orig, backup := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "a.yaml~")
	if err := os.Rename(orig, backup); err != nil {
		t.Fatal(err)
	}
	write(t, orig, "a: 2\n")
	if err := os.Remove(backup); err != nil {
		t.Fatal(err)
	}
	if got, want := s.expectOne(t, "vim-style save"), "a.yaml=a: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

func TestDelete(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n"})
	s := start(t, dir, listing(dir))
	if err := os.Remove(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	if got, want := s.expectOne(t, "delete"), "a.yaml=a: 1\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

func TestIrrelevantChangesDoNotNotify(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	s := start(t, dir, listing(dir))
	write(t, filepath.Join(dir, ".a.yaml.swp"), "swap")
	write(t, filepath.Join(dir, "a.yaml~"), "backup")
	write(t, filepath.Join(dir, "README.md"), "# Policies\n")
	write(t, filepath.Join(dir, ".hidden.yaml"), "hidden: 1\n")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "sub", "nested.yaml"), "nested: 1\n")
	// A touch, or a rewrite with the same content, changes nothing Load would see.
	now := time.Now().Add(time.Minute)
	if err := os.Chtimes(filepath.Join(dir, "a.yaml"), now, now); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.yaml"), "a: 1\n")
	s.expectNone(t, "irrelevant changes")

	// The watcher still works afterwards.
	write(t, filepath.Join(dir, "a.yaml"), "a: 2\n")
	s.expectOne(t, "edit after irrelevant changes")
}

// TestSlowWrite writes a file in chunks with pauses shorter than the debounce: the one
// notification comes when the file is complete.
func TestSlowWrite(t *testing.T) {
	t.Parallel()
	const debounce = 100 * time.Millisecond
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	s := start(t, dir, listing(dir), WithDebounce(debounce))
	f, err := os.Create(filepath.Join(dir, "b.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunks := []string{"apiVersion: v1\n", "kind: ScalingPolicy\n", "metadata:\n", "  name: b\n", "spec: {}\n"}
	for i, c := range chunks {
		if i > 0 {
			time.Sleep(debounce / 5)
		}
		if _, err := f.WriteString(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want := "a.yaml=a: 1\n;b.yaml=" + strings.Join(chunks, "") + ";"
	if got := s.expectOne(t, "slow write"); got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

// configMap lays out dir as a Kubernetes ConfigMap volume holding general.yaml:
// ..TS/general.yaml, ..data -> ..TS, general.yaml -> ..data/general.yaml.
func configMap(t *testing.T, content string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "config")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ts := "..2026_11_30_12_00_00.1"
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, ts, "general.yaml"), content)
	if err := os.Symlink(ts, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "general.yaml"), filepath.Join(dir, "general.yaml")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// swapConfigMap updates a ConfigMap volume the way the kubelet does: a new timestamped
// directory, a ..data_tmp link to it renamed over ..data, then the old directory removed.
func swapConfigMap(t *testing.T, dir, ts, content string) {
	t.Helper()
	old, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, ts, "general.yaml"), content)
	if err := os.Symlink(ts, filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
		t.Fatal(err)
	}
}

func TestConfigMapSwap(t *testing.T) {
	t.Parallel()
	dir := configMap(t, "v: 1\n")
	s := start(t, dir, listing(dir))
	swapConfigMap(t, dir, "..2026_11_30_12_05_00.2", "v: 2\n")
	if got, want := s.expectOne(t, "first swap"), "general.yaml=v: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
	swapConfigMap(t, dir, "..2026_11_30_12_10_00.3", "v: 3\n")
	if got, want := s.expectOne(t, "second swap"), "general.yaml=v: 3\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

// TestConfigMapSwapFile watches one file of a ConfigMap volume rather than the directory.
func TestConfigMapSwapFile(t *testing.T) {
	t.Parallel()
	dir := configMap(t, "v: 1\n")
	file := filepath.Join(dir, "general.yaml")
	s := start(t, file, func() string { return read(file) })
	swapConfigMap(t, dir, "..2026_11_30_12_05_00.2", "v: 2\n")
	if got := s.expectOne(t, "first swap"); got != "v: 2\n" {
		t.Errorf("at the notification the file held %q, want %q", got, "v: 2\n")
	}
	swapConfigMap(t, dir, "..2026_11_30_12_10_00.3", "v: 3\n")
	if got := s.expectOne(t, "second swap"); got != "v: 3\n" {
		t.Errorf("at the notification the file held %q, want %q", got, "v: 3\n")
	}
}

// TestSymlinkTargetEdit checks that a policy file reached through a symbolic link into another
// directory is watched where it really is.
func TestSymlinkTargetEdit(t *testing.T) {
	t.Parallel()
	elsewhere := t.TempDir()
	target := filepath.Join(elsewhere, "real.yaml")
	write(t, target, "v: 1\n")
	dir := policyDir(t, nil)
	if err := os.Symlink(target, filepath.Join(dir, "linked.yaml")); err != nil {
		t.Fatal(err)
	}
	s := start(t, dir, listing(dir), WithResync(0))
	write(t, target, "v: 2\n")
	if got, want := s.expectOne(t, "edit of the link target"), "linked.yaml=v: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

func TestFileEditorSaves(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n", "other.yaml": "o: 1\n"})
	file := filepath.Join(dir, "a.yaml")
	s := start(t, file, func() string { return read(file) }, WithResync(0))

	tmp := filepath.Join(dir, ".a.yaml.tmp")
	write(t, tmp, "a: 2\n")
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if got := s.expectOne(t, "save by rename"); got != "a: 2\n" {
		t.Errorf("at the notification the file held %q", got)
	}

	// The watch survives the replacement of the file.
	write(t, file, "a: 3\n")
	if got := s.expectOne(t, "edit in place after a save by rename"); got != "a: 3\n" {
		t.Errorf("at the notification the file held %q", got)
	}

	// Other files beside it do not matter.
	write(t, filepath.Join(dir, "other.yaml"), "o: 2\n")
	write(t, filepath.Join(dir, "new.yaml"), "n: 1\n")
	s.expectNone(t, "edits of other files")

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if got := s.expectOne(t, "delete"); !strings.HasPrefix(got, "error: ") {
		t.Errorf("at the notification the file held %q, want it gone", got)
	}
	write(t, file, "a: 4\n")
	if got := s.expectOne(t, "recreate"); got != "a: 4\n" {
		t.Errorf("at the notification the file held %q", got)
	}
}

// TestDirectoryReplaced replaces the watched directory as a whole, then edits the new one: the
// watch follows the new directory.
func TestDirectoryReplaced(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	s := start(t, dir, listing(dir), WithResync(0))

	next := dir + ".new"
	if err := os.Mkdir(next, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(next, "a.yaml"), "a: 2\n")
	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir + ".old"); err != nil {
		t.Fatal(err)
	}
	if got, want := s.expectOne(t, "directory replaced"), "a.yaml=a: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}

	write(t, filepath.Join(dir, "a.yaml"), "a: 3\n")
	if got, want := s.expectOne(t, "edit in the new directory"), "a.yaml=a: 3\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

func TestDirectoryRemovedAndRecreated(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	s := start(t, dir, listing(dir), WithResync(0))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if got := s.expectOne(t, "directory removed"); !strings.HasPrefix(got, "error: ") {
		t.Errorf("at the notification the directory listed %q, want it gone", got)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.yaml"), "a: 2\n")
	if got, want := s.expectOne(t, "directory recreated"), "a.yaml=a: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
	write(t, filepath.Join(dir, "a.yaml"), "a: 3\n")
	if got, want := s.expectOne(t, "edit in the recreated directory"), "a.yaml=a: 3\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

// TestParentRemovedAndRecreated removes the watched directory's parent too: the watch moves up
// to the nearest ancestor and comes back down when the directories are created again.
func TestParentRemovedAndRecreated(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "lambdascale", "policies")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.yaml"), "a: 1\n")
	s := start(t, dir, listing(dir), WithResync(0))
	if err := os.RemoveAll(filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	s.expectOne(t, "directory and parents removed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.yaml"), "a: 2\n")
	if got, want := s.expectOne(t, "directories recreated"), "a.yaml=a: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
	write(t, filepath.Join(dir, "a.yaml"), "a: 3\n")
	if got, want := s.expectOne(t, "edit in the recreated directory"), "a.yaml=a: 3\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

// TestSymlinkedDirectoryRetargeted watches a symbolic link to a directory ("current ->
// releases/1") and points it elsewhere atomically, as deployment tools do.
func TestSymlinkedDirectoryRetargeted(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for i, content := range []string{"v: 1\n", "v: 2\n"} {
		d := filepath.Join(root, "releases", string(rune('1'+i)))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(d, "p.yaml"), content)
	}
	current := filepath.Join(root, "current")
	if err := os.Symlink(filepath.Join("releases", "1"), current); err != nil {
		t.Fatal(err)
	}
	s := start(t, current, listing(current), WithResync(0))

	tmp := filepath.Join(root, "current.tmp")
	if err := os.Symlink(filepath.Join("releases", "2"), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, current); err != nil {
		t.Fatal(err)
	}
	if got, want := s.expectOne(t, "link retargeted"), "p.yaml=v: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
	write(t, filepath.Join(root, "releases", "2", "p.yaml"), "v: 3\n")
	if got, want := s.expectOne(t, "edit in the new target"), "p.yaml=v: 3\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
	write(t, filepath.Join(root, "releases", "1", "p.yaml"), "v: old\n")
	s.expectNone(t, "edit in the old target")
}

// TestResyncWithoutEvents simulates lost events: without fsnotify only the resync can notice the
// change, and it does, once.
func TestResyncWithoutEvents(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	const resync = 100 * time.Millisecond
	s := start(t, dir, listing(dir), WithoutEvents(), WithResync(resync))
	// Several resyncs with nothing changed.
	time.Sleep(3 * resync)
	s.expectNone(t, "resync without changes")

	write(t, filepath.Join(dir, "a.yaml"), "a: 2\n")
	if got, want := s.expectOne(t, "change found by the resync"), "a.yaml=a: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
	write(t, filepath.Join(dir, "README.md"), "not a policy\n")
	s.expectNone(t, "irrelevant change found by the resync")
}

// TestChangeBeforeRun changes a file between New and Run: Run reports it when it starts.
func TestChangeBeforeRun(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	w, err := New(dir, WithDebounce(testDebounce), WithStabilityDelay(testStability))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "a.yaml"), "a: 2\n")
	s := run(t, w, listing(dir))
	if got, want := s.expectOne(t, "change before Run"), "a.yaml=a: 2\n;"; got != want {
		t.Errorf("at the notification the files were %q, want %q", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	if _, err := New(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("New(missing path) = %v, want an error wrapping fs.ErrNotExist", err)
	}
	for _, c := range []struct {
		name string
		path string
		opts []Option
	}{
		{"empty path", "", nil},
		{"zero debounce", dir, []Option{WithDebounce(0)}},
		{"negative stability delay", dir, []Option{WithStabilityDelay(-time.Second)}},
		{"negative resync", dir, []Option{WithResync(-time.Second)}},
		{"no events and no resync", dir, []Option{WithoutEvents(), WithResync(0)}},
	} {
		if _, err := New(c.path, c.opts...); err == nil {
			t.Errorf("%s: New succeeded", c.name)
		}
	}
	if _, err := New(dir, WithoutEvents()); err != nil {
		t.Errorf("New(WithoutEvents()) = %v; the default resync should do", err)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	dir := policyDir(t, map[string]string{"a.yaml": "a: 1\n"})
	w, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background(), nil); err == nil {
		t.Error("Run(nil) succeeded")
	}
	run(t, w, nil)
	if err := w.Run(context.Background(), func() {}); err == nil {
		t.Error("a second concurrent Run succeeded")
	}
}
