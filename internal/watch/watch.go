// Package watch tells its user when the policy files under a path have changed, so that the
// user can load them again (with policy.Load) without a restart.
//
// A Watcher watches a policy directory or a single policy file with fsnotify and survives the
// ways files are replaced in practice: editors that save by writing a temporary file and renaming
// it over the original, a directory replaced as a whole or a symbolic link to a directory
// pointed elsewhere, and the Kubernetes ConfigMap volume layout, where every file is a symbolic
// link through "..data" and an update creates a new timestamped directory and renames a
// "..data_tmp" symbolic link over "..data".
//
// It reports a change once the change has settled: events are debounced so that a burst of
// them (the several steps of a save or of a ConfigMap update) is reported once, and the files
// must then keep the same size and modification time over a short delay, so that the user
// never loads a half-written file. It reports only changes to what policy.Load would read: the
// non-hidden *.yaml and *.yml files directly in the directory (following symbolic links), or the
// single file, compared by name and content; an editor's swap file, a README or a touch that
// leaves the content alone is not reported. A periodic resync compares the content even without
// events, since fsnotify can miss events on some filesystems.
package watch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"

	"github.com/lambdascale/lambdascale/internal/policy"
)

// Default timings; see WithDebounce, WithStabilityDelay and WithResync.
const (
	// DefaultDebounce is how long the files must go without events before a change is checked.
	DefaultDebounce = 250 * time.Millisecond
	// DefaultStabilityDelay is how far apart the two reads of the files' sizes and
	// modification times are that must agree before a change is reported.
	DefaultStabilityDelay = 100 * time.Millisecond
	// DefaultResync is how often the files are compared even without events.
	DefaultResync = 30 * time.Second
)

// dataLink is the symbolic link through which a Kubernetes ConfigMap or Secret volume points at
// its current timestamped directory.
const dataLink = "..data"

// Option configures a Watcher; pass options to New.
type Option func(*config)

type config struct {
	debounce       time.Duration
	stabilityDelay time.Duration
	resync         time.Duration
	noEvents       bool
	log            logr.Logger
}

// WithDebounce sets how long the watched files must go without a relevant event before the
// Watcher checks them and reports a change (default DefaultDebounce). Every event restarts the
// wait, so a burst of events is reported once. It must be positive.
func WithDebounce(d time.Duration) Option {
	return func(c *config) { c.debounce = d }
}

// WithStabilityDelay sets how far apart the two reads of the files' sizes and modification
// times are that must agree before a change is reported (default DefaultStabilityDelay); files
// still being written are waited for. It must be positive.
func WithStabilityDelay(d time.Duration) Option {
	return func(c *config) { c.stabilityDelay = d }
}

// WithResync sets how often the Watcher compares the files' content even without events
// (default DefaultResync); it also re-establishes watches then. Zero disables the resync; a
// negative value is an error.
func WithResync(d time.Duration) Option {
	return func(c *config) { c.resync = d }
}

// WithoutEvents makes the Watcher poll: it does not use fsnotify and notices changes only at the
// periodic resync, which must then be enabled. Use it on filesystems that deliver no events,
// such as some network and FUSE filesystems.
func WithoutEvents() Option {
	return func(c *config) { c.noEvents = true }
}

// WithLogger sets the logger. The Watcher logs what it watches, the events it acts on and the
// changes it reports at V(2), and errors from fsnotify as errors. The default discards logs.
func WithLogger(log logr.Logger) Option {
	return func(c *config) { c.log = log }
}

// Watcher watches a policy directory or file and reports when its policy files have changed.
// Create it with New and start it with Run.
type Watcher struct {
	path    string // absolute and clean
	cfg     config
	last    [sha256.Size]byte // fingerprint of the content last reported (or seen by New)
	running atomic.Bool

	// afterCheck, when set (by tests), is called after each completed check of the files.
	afterCheck func()
}

// New returns a Watcher for path, a policy directory or a single policy file, which must exist.
// It records the current content of the policy files: create the Watcher before loading the
// policies for the first time, so that a change made between that load and Run is reported
// when Run starts.
func New(path string, opts ...Option) (*Watcher, error) {
	cfg := config{
		debounce:       DefaultDebounce,
		stabilityDelay: DefaultStabilityDelay,
		resync:         DefaultResync,
		log:            logr.Discard(),
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	switch {
	case cfg.debounce <= 0:
		return nil, fmt.Errorf("watch: debounce must be positive, not %v", cfg.debounce)
	case cfg.stabilityDelay <= 0:
		return nil, fmt.Errorf("watch: stability delay must be positive, not %v", cfg.stabilityDelay)
	case cfg.resync < 0:
		return nil, fmt.Errorf("watch: resync interval must not be negative (zero disables it), not %v", cfg.resync)
	case cfg.noEvents && cfg.resync == 0:
		return nil, errors.New("watch: without events the periodic resync is the only way to notice a change: give a positive resync interval")
	}
	if path == "" {
		return nil, errors.New("watch: give a policy file or directory to watch")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	w := &Watcher{path: abs, cfg: cfg}
	w.last = fingerprint(w.snapshot())
	return w, nil
}

// Path returns the watched path, made absolute.
func (w *Watcher) Path() string { return w.path }

// Run watches until ctx is done and then returns nil. It calls changed, from Run's goroutine,
// each time the policy files' names or content have changed and the change has settled; the user
// then loads the policies again. It also calls changed once soon after starting if the files
// have changed since New. changed is never called concurrently with itself, and events arriving
// while it runs are handled after it returns; it should not block for long.
//
// Errors from fsnotify are logged and do not stop the Watcher; if fsnotify cannot be started at
// all, Run logs that and falls back to the periodic resync, returning an error only when the
// resync is disabled. Run returns an error too if changed is nil or if Run is already running.
func (w *Watcher) Run(ctx context.Context, changed func()) error {
	if changed == nil {
		return errors.New("watch: Run needs a function to call on changes")
	}
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("watch: Run is already running for this Watcher")
	}
	defer w.running.Store(false)

	r := &runner{w: w, log: w.cfg.log.WithValues("path", w.path), watched: map[string]os.FileInfo{}}
	if !w.cfg.noEvents {
		fsw, err := fsnotify.NewWatcher()
		if err != nil {
			if w.cfg.resync == 0 {
				return fmt.Errorf("watch: cannot watch for file events, and the periodic resync is disabled: %w", err)
			}
			r.log.Error(err, "Cannot watch for file events; noticing policy changes only at the periodic resync", "resync", w.cfg.resync)
		} else {
			defer fsw.Close()
			r.fsw = fsw
		}
	}
	return r.run(ctx, changed)
}

// runner is the state of one Run.
type runner struct {
	w   *Watcher
	log logr.Logger
	fsw *fsnotify.Watcher // nil without events

	// watched maps each directory watched with fsnotify, by the path given to Add, to its
	// identity when added, to notice a directory replaced under the same path.
	watched map[string]os.FileInfo
	// contentDirs are the watched directories whose policy-named entries matter: the watched
	// directory and the directories the policy files resolve to.
	contentDirs map[string]bool
	// targets are the paths, as fsnotify names them, of the files the policy files resolve to
	// through symbolic links.
	targets map[string]bool
}

type state int

const (
	idle       state = iota
	debouncing       // waiting for the events to stop
	checking         // waiting for the stability delay between two snapshots
)

func (r *runner) run(ctx context.Context, changed func()) error {
	var (
		events <-chan fsnotify.Event
		errs   <-chan error
		resync <-chan time.Time
		st     = debouncing // the first check looks for changes made since New
		first  snapshot     // taken when the check started
	)
	if r.fsw != nil {
		events, errs = r.fsw.Events, r.fsw.Errors
	}
	if r.w.cfg.resync > 0 {
		t := time.NewTicker(r.w.cfg.resync)
		defer t.Stop()
		resync = t.C
	}
	debounce := time.NewTimer(r.w.cfg.debounce)
	defer debounce.Stop()
	stable := time.NewTimer(time.Hour)
	stable.Stop()
	defer stable.Stop()
	r.syncWatches()

	wait := func() {
		st = debouncing
		stable.Stop()
		debounce.Reset(r.w.cfg.debounce)
	}
	check := func() {
		r.syncWatches() // before the snapshot: what changes after it raises an event
		first = r.w.snapshot()
		st = checking
		stable.Reset(r.w.cfg.stabilityDelay)
	}

	for {
		select {
		case <-ctx.Done():
			return nil

		case ev, ok := <-events:
			if !ok {
				// Only if fsnotify fails internally; keep going on the resync, if any.
				r.log.Error(nil, "File events stopped; noticing policy changes only at the periodic resync, if enabled", "resync", r.w.cfg.resync)
				events = nil
				continue
			}
			if !r.relevant(ev) {
				continue
			}
			r.log.V(2).Info("Policy file event", "event", ev.String())
			wait()

		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			r.log.Error(err, "File watch error")
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				wait() // events were lost: check the content
			}

		case <-resync:
			if st == idle {
				check()
			}

		case <-debounce.C:
			check()

		case <-stable.C:
			second := r.w.snapshot()
			if !first.equal(second) {
				r.log.V(2).Info("Policy files still changing; waiting for them to settle")
				wait()
				continue
			}
			sum := fingerprint(second)
			if third := r.w.snapshot(); !second.equal(third) {
				r.log.V(2).Info("Policy files changed while being read; waiting for them to settle")
				wait()
				continue
			}
			st = idle
			if sum != r.w.last {
				r.w.last = sum
				r.log.V(2).Info("Policy files changed", "files", len(second.files))
				changed()
			}
			if r.w.afterCheck != nil {
				r.w.afterCheck()
			}
		}
	}
}

// relevant reports whether an event may concern the policy files, and forgets a watched
// directory the event says is gone.
func (r *runner) relevant(ev fsnotify.Event) bool {
	name := ev.Name
	if _, ok := r.watched[name]; ok {
		if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
			// fsnotify has dropped the watch or will; watch the path again at the next sync.
			delete(r.watched, name)
			if r.fsw != nil {
				_ = r.fsw.Remove(name) // usually already gone
			}
		}
		return true
	}
	base := filepath.Base(name)
	switch {
	case name == r.w.path, base == dataLink, r.targets[name]:
		return true
	case strings.HasPrefix(r.w.path, name+string(filepath.Separator)):
		return true // an ancestor of the path, watched while the path's parent is missing
	case isPolicyName(base) && r.contentDirs[filepath.Dir(name)]:
		return true
	}
	return false
}

// dir is a directory to watch.
type dir struct {
	path    string
	info    os.FileInfo
	content bool
}

// syncWatches brings the fsnotify watches in line with the files as they are now: the watched
// path's parent directory (to notice the path replaced), the watched directory, the directory
// "..data" points to, and the directories the policy files resolve to through symbolic links.
// A directory replaced under the same path (another inode) is watched again.
func (r *runner) syncWatches() {
	if r.fsw == nil {
		return
	}
	var dirs []*dir
	add := func(path string, content bool) *dir {
		info, err := os.Stat(path)
		if err != nil || !info.IsDir() {
			return nil
		}
		for _, d := range dirs { // one watch per directory, however it is reached
			if os.SameFile(d.info, info) {
				d.content = d.content || content
				return d
			}
		}
		d := &dir{path: path, info: info, content: content}
		dirs = append(dirs, d)
		return d
	}

	p := r.w.path
	// The parent directory, or when it is gone the nearest ancestor that exists, to notice the
	// path created again.
	for anc := filepath.Dir(p); add(anc, false) == nil; {
		up := filepath.Dir(anc)
		if up == anc {
			break
		}
		anc = up
	}
	if info, err := os.Stat(p); err == nil && info.IsDir() {
		add(p, true)
		if target, err := filepath.EvalSymlinks(filepath.Join(p, dataLink)); err == nil {
			add(target, true)
		}
	}
	targets := map[string]bool{}
	files, _ := r.w.files()
	for _, f := range files {
		target, err := filepath.EvalSymlinks(f)
		if err != nil {
			continue
		}
		if d := add(filepath.Dir(target), false); d != nil {
			// As fsnotify will name it: through the path the directory is watched by.
			targets[filepath.Join(d.path, filepath.Base(target))] = true
		}
	}

	want := make(map[string]*dir, len(dirs))
	for _, d := range dirs {
		want[d.path] = d
	}
	listed := map[string]bool{}
	for _, path := range r.fsw.WatchList() {
		listed[path] = true
	}
	for path, info := range r.watched {
		if d, ok := want[path]; ok && listed[path] && os.SameFile(d.info, info) {
			continue
		}
		delete(r.watched, path)
		if err := r.fsw.Remove(path); err != nil && !errors.Is(err, fsnotify.ErrNonExistentWatch) {
			r.log.V(2).Info("Cannot remove watch", "dir", path, "error", err.Error())
		} else {
			r.log.V(2).Info("Stopped watching", "dir", path)
		}
	}
	r.contentDirs = map[string]bool{}
	for _, d := range dirs {
		if d.content {
			r.contentDirs[d.path] = true
		}
		if _, ok := r.watched[d.path]; ok {
			continue
		}
		if err := r.fsw.Add(d.path); err != nil {
			// Raced with a removal, or out of watches; the resync and the next sync cover it.
			r.log.V(2).Info("Cannot watch directory", "dir", d.path, "error", err.Error())
			continue
		}
		r.watched[d.path] = d.info
		r.log.V(2).Info("Watching", "dir", d.path)
	}
	r.targets = targets
}

// files lists the policy files as policy.Load would read them: the path itself when it is not
// a directory, otherwise the non-hidden *.yaml and *.yml entries of the directory that are
// regular files or symbolic links to regular files, in name order. A symbolic link that cannot
// be followed is listed, since it makes Load fail.
func (w *Watcher) files() ([]string, error) {
	info, err := os.Stat(w.path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{w.path}, nil
	}
	entries, err := os.ReadDir(w.path) // sorted by name
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !isPolicyName(e.Name()) {
			continue
		}
		full := filepath.Join(w.path, e.Name())
		if e.Type()&fs.ModeSymlink != 0 {
			if fi, err := os.Stat(full); err == nil && !fi.Mode().IsRegular() {
				continue
			}
		} else if !e.Type().IsRegular() {
			continue
		}
		files = append(files, full)
	}
	return files, nil
}

// isPolicyName reports whether a directory entry's name is one policy.Load reads.
func isPolicyName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml"
}

// snapshot is the state of the policy files at one moment, without their content.
type snapshot struct {
	err   string // why the watched path cannot be listed; empty when it can
	files []fileState
}

type fileState struct {
	path string
	info os.FileInfo // nil when err is set
	err  string
}

func (w *Watcher) snapshot() snapshot {
	files, err := w.files()
	if err != nil {
		return snapshot{err: err.Error()}
	}
	s := snapshot{files: make([]fileState, len(files))}
	for i, f := range files {
		s.files[i].path = f
		if info, err := os.Stat(f); err != nil {
			s.files[i].err = err.Error()
		} else {
			s.files[i].info = info
		}
	}
	return s
}

// equal reports whether two snapshots list the same files, each the same file with the same
// size, modification time and mode, or failing the same way.
func (s snapshot) equal(o snapshot) bool {
	if s.err != o.err || len(s.files) != len(o.files) {
		return false
	}
	for i, a := range s.files {
		b := o.files[i]
		if a.path != b.path || a.err != b.err || (a.info == nil) != (b.info == nil) {
			return false
		}
		if a.info != nil && !(os.SameFile(a.info, b.info) && a.info.Size() == b.info.Size() &&
			a.info.ModTime().Equal(b.info.ModTime()) && a.info.Mode() == b.info.Mode()) {
			return false
		}
	}
	return true
}

// fingerprint hashes what policy.Load's result depends on: the files' names and content, or
// how they fail. A file too large for Load or not a regular file is hashed by its size,
// modification time and mode instead of its content.
func fingerprint(s snapshot) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "error %q\n", s.err)
	for _, f := range s.files {
		fmt.Fprintf(h, "file %q\n", f.path)
		if f.err != "" {
			fmt.Fprintf(h, "error %q\n", f.err)
			continue
		}
		if !f.info.Mode().IsRegular() || f.info.Size() > policy.MaxFileSize {
			fmt.Fprintf(h, "unread %d %d %v\n", f.info.Size(), f.info.ModTime().UnixNano(), f.info.Mode())
			continue
		}
		if err := hashFile(h, f.path); err != nil {
			fmt.Fprintf(h, "read error %q\n", err.Error())
		}
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(h, io.LimitReader(f, policy.MaxFileSize+1))
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "\nsize %d\n", n)
	return nil
}
