package mesos

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// ErrNotMasterState is returned (wrapped) by DecodeState when the document is valid JSON but not
// the state of a Mesos master: not an object, or an object with neither "slaves" nor "frameworks".
var ErrNotMasterState = errors.New("not a Mesos master state")

// NotLeaderError is returned (wrapped) by DecodeState when GET /master/state was answered by a
// master that is not the leader: its "leader" differs from its own "pid". Masters before 1.0
// answer 200 with such a partial state instead of redirecting.
type NotLeaderError struct {
	// PID is the pid of the master that answered ("master@10.0.0.5:5050").
	PID string
	// Leader is the pid of the leading master it reported ("master@10.0.0.6:5050").
	Leader string
}

// Error describes the standby master and the leader it names.
func (e *NotLeaderError) Error() string {
	return fmt.Sprintf("master %s is not the leader (it reports leader %s)", e.PID, e.Leader)
}

// DecodeStateFile decodes a captured GET /master/state (or /master/state.json) response from the
// file at path. See DecodeState.
func DecodeStateFile(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading Mesos state: %w", err)
	}
	defer f.Close()
	s, err := DecodeState(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// DecodeState decodes the body of a Mesos master's GET /master/state (or /master/state.json
// before 1.0) into a Snapshot. Resources keep the master's units: CPUs in cores, memory and disk
// in MiB (Mesos' "MB"), GPUs in devices.
//
// It streams: memory grows with the number of agents, frameworks and live tasks, not with the
// size of the document. Completed tasks and frameworks, flags, offers and executors are skipped
// without being kept. It accepts every master version from 0.19 on (missing fields take the
// defaults documented on Snapshot and Agent), and refuses a standby master's state
// (*NotLeaderError) and documents that are not a master state (ErrNotMasterState). A state with
// no agents is returned without error; callers decide what an empty cluster means.
func DecodeState(r io.Reader) (*Snapshot, error) {
	d := newStateDecoder(r)
	s, err := d.decode()
	if err != nil {
		return nil, fmt.Errorf("decoding /master/state: %w", err)
	}
	return s, nil
}

// pendingTask is a live task whose application is only known at the end of its framework's
// object, because the framework's name came after its tasks (captured files with sorted keys).
type pendingTask struct {
	index   int    // in stateDecoder.tasks
	idApp   string // Marathon app id parsed from the task id, "" if none
	name    string // task name
	id      string // task id
	role    string // task role, "" if absent
	hasName bool
}

// agentRec carries what DecodeState needs about an agent beyond the Agent itself.
type agentRec struct {
	hasUsed       bool
	hasUnreserved bool
}

// frameworkKind says how a framework's tasks map to applications.
type frameworkKind int

const (
	kindUnknown  frameworkKind = iota // name not read yet
	kindMarathon                      // app id from the task id
	kindOther                         // "<framework>/<task name>"
)

type stateDecoder struct {
	dec     *jsontext.Decoder
	scratch []byte // unquoted names and strings with escapes

	snap       Snapshot
	sawSlaves  bool
	sawFwks    bool
	pid        string
	leader     string
	agentsInfo []agentRec

	// Agent ids seen in "slaves" or in tasks, as references: tasks may come before agents.
	agentRefs  map[string]int32
	agentIDs   []string
	unreachRef []int // unreachable tasks per agent reference

	// Live tasks with AgentIndex holding an agent reference and AppIndex an index into apps
	// (or droppedTask), both resolved by finish. Chunked so that growing never copies 200,000
	// tasks.
	tasks   taskChunks
	pending []pendingTask
	apps    []Application

	// Current framework.
	fwName  string
	fwKind  frameworkKind
	fwApps  map[string]int32 // app id → index in apps
	hashes  []uint64         // hashes of the ids of its live tasks, in order, 0 if no id
	sorted  []uint64         // scratch for finding duplicates in hashes
	seenUnr hashSet          // hashes of task ids in "unreachable_tasks"
	seed    maphash.Seed

	// Current task: copies of the fields needed once the whole object is read.
	idBuf, nameBuf, appBuf []byte
	lastRole               string
}

func newStateDecoder(r io.Reader) *stateDecoder {
	if _, ok := r.(*bytes.Buffer); !ok {
		// jsontext reads in small chunks; buffering saves a system call or a gzip flush per chunk.
		r = bufio.NewReaderSize(r, 64<<10)
	}
	return &stateDecoder{
		dec: jsontext.NewDecoder(r,
			jsontext.AllowDuplicateNames(true), // last one wins; tracking names costs memory
			jsontext.AllowInvalidUTF8(true),    // hostnames and labels are not ours to validate
		),
		agentRefs: make(map[string]int32),
		fwApps:    make(map[string]int32),
		seed:      maphash.MakeSeed(),
	}
}

// taskChunks is an append-only list of tasks stored in fixed-size chunks.
type taskChunks struct {
	chunks [][]Task
	n      int
}

const taskChunkSize = 4096

// droppedTask marks, in Task.AppIndex, a task listed twice whose second listing is ignored.
const droppedTask = -2

func (c *taskChunks) append(t Task) {
	if c.n%taskChunkSize == 0 {
		c.chunks = append(c.chunks, make([]Task, 0, taskChunkSize))
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, t)
	c.n++
}

func (c *taskChunks) at(i int) *Task { return &c.chunks[i/taskChunkSize][i%taskChunkSize] }

// hashSet is a set of 64-bit hashes (open addressing, linear probing); 0 marks a free slot.
type hashSet struct {
	slots []uint64
	n     int
}

// add inserts h and reports whether it was absent.
func (s *hashSet) add(h uint64) bool {
	if h == 0 {
		h = 1
	}
	if 2*(s.n+1) > len(s.slots) {
		old := s.slots
		s.slots = make([]uint64, max(64, 2*len(old)))
		s.n = 0
		for _, v := range old {
			if v != 0 {
				s.add(v)
			}
		}
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case 0:
			s.slots[i] = h
			s.n++
			return true
		case h:
			return false
		}
	}
}

func (s *hashSet) reset() {
	if len(s.slots) > 1024 {
		s.slots = nil // a big framework's table is not kept for the next ones
	} else {
		clear(s.slots)
	}
	s.n = 0
}

// fieldError is a type error at a place in the document.
type fieldError struct {
	path string
	msg  string
}

// Error names the place and the problem.
func (e *fieldError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// path renders the decoder's position as "slaves[3].resources.cpus".
func (d *stateDecoder) path() string {
	var b strings.Builder
	level := 0
	for tok := range d.dec.StackPointer().Tokens() {
		level++
		kind, _ := d.dec.StackIndex(level)
		switch {
		case kind == '[':
			b.WriteString("[" + tok + "]")
		case b.Len() == 0:
			b.WriteString(tok)
		default:
			b.WriteString("." + tok)
		}
	}
	return b.String()
}

func kindName(k jsontext.Kind) string {
	switch k {
	case 'n':
		return "null"
	case 't', 'f':
		return "boolean"
	case '"':
		return "string"
	case '0':
		return "number"
	case '{':
		return "object"
	case '[':
		return "array"
	}
	return "invalid JSON"
}

// typeError skips the offending value (so that the path names it) and reports its type.
func (d *stateDecoder) typeError(want string, got jsontext.Kind) error {
	if err := d.dec.SkipValue(); err != nil {
		return err
	}
	return &fieldError{path: d.path(), msg: fmt.Sprintf("expected %s, got %s", want, kindName(got))}
}

// readErr returns the error a failed PeekKind cached.
func (d *stateDecoder) readErr() error {
	_, err := d.dec.ReadToken()
	if err == nil {
		err = &fieldError{path: d.path(), msg: "unexpected token"}
	}
	return err
}

// unquote returns the contents of the raw JSON string v, valid until the next read.
func (d *stateDecoder) unquote(v jsontext.Value) ([]byte, error) {
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], nil
	}
	var err error
	d.scratch, err = jsontext.AppendUnquote(d.scratch[:0], v)
	return d.scratch, err
}

// begin reads the opening delimiter of the object ('{') or array ('[') that comes next.
// It returns false, with a nil error, after reading a null (an empty container), and false
// with an error for anything else.
func (d *stateDecoder) begin(delim byte, what string) (bool, error) {
	switch k := d.dec.PeekKind(); k {
	case jsontext.Kind(delim):
	case 'n':
		_, err := d.dec.ReadValue()
		return false, err
	case 0:
		return false, d.readErr()
	default:
		return false, d.typeError(what, k)
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return false, err
	}
	return true, nil
}

// object calls member for each member of the object that comes next; null is an empty object.
// The name is only valid until member reads the value, which member must do.
func (d *stateDecoder) object(member func(name []byte) error) error {
	if open, err := d.begin('{', "an object"); !open {
		return err
	}
	for {
		switch d.dec.PeekKind() {
		case '}':
			_, err := d.dec.ReadToken()
			return err
		case 0:
			return d.readErr()
		}
		v, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		name, err := d.unquote(v)
		if err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
	}
}

// array calls element for each element of the array that comes next; null is an empty array.
func (d *stateDecoder) array(element func() error) error {
	if open, err := d.begin('[', "an array"); !open {
		return err
	}
	for {
		switch d.dec.PeekKind() {
		case ']':
			_, err := d.dec.ReadToken()
			return err
		case 0:
			return d.readErr()
		}
		if err := element(); err != nil {
			return err
		}
	}
}

// skip discards the next value. Containers are walked levels deep and their elements read whole,
// so that skipping completed_frameworks holds one completed task at a time, never a framework.
func (d *stateDecoder) skip(levels int) error {
	if levels <= 0 {
		_, err := d.dec.ReadValue()
		return err
	}
	k := d.dec.PeekKind()
	if k != '{' && k != '[' {
		_, err := d.dec.ReadValue()
		return err
	}
	if k == '{' {
		return d.object(func([]byte) error { return d.skip(levels - 1) })
	}
	return d.array(func() error { return d.skip(levels - 1) })
}

// str reads a string (null reads as empty), valid until the next read.
func (d *stateDecoder) str() ([]byte, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	switch v[0] {
	case '"':
		return d.unquote(v)
	case 'n':
		return nil, nil
	}
	return nil, &fieldError{path: d.path(), msg: "expected a string, got " + kindName(v.Kind())}
}

// number reads a number (null reads as 0).
func (d *stateDecoder) number() (float64, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return 0, err
	}
	switch v.Kind() {
	case '0':
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return 0, &fieldError{path: d.path(), msg: fmt.Sprintf("number %s out of range", v)}
		}
		return f, nil
	case 'n':
		return 0, nil
	}
	return 0, &fieldError{path: d.path(), msg: "expected a number, got " + kindName(v.Kind())}
}

// boolean reads a boolean; null reads as def.
func (d *stateDecoder) boolean(def bool) (bool, error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return false, err
	}
	switch v.Kind() {
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return def, nil
	}
	return false, &fieldError{path: d.path(), msg: "expected a boolean, got " + kindName(v.Kind())}
}

// count reads a count that may be a number (1.0 as well as 1) or an array (its length).
func (d *stateDecoder) count() (int, error) {
	if d.dec.PeekKind() == '[' {
		n := 0
		err := d.array(func() error { n++; return d.skip(0) })
		return n, err
	}
	f, err := d.number()
	if err != nil {
		return 0, err
	}
	if f < 0 || f > math.MaxInt32 {
		return 0, &fieldError{path: d.path(), msg: fmt.Sprintf("count %v out of range", f)}
	}
	return int(f), nil
}

func (d *stateDecoder) agentRef(id []byte) int32 {
	if i, ok := d.agentRefs[string(id)]; ok {
		return i
	}
	s := string(id)
	i := int32(len(d.agentIDs))
	d.agentIDs = append(d.agentIDs, s)
	d.unreachRef = append(d.unreachRef, 0)
	d.agentRefs[s] = i
	return i
}

func (d *stateDecoder) decode() (*Snapshot, error) {
	switch k := d.dec.PeekKind(); k {
	case '{':
	case 0:
		_, err := d.dec.ReadToken()
		if err == io.EOF {
			return nil, fmt.Errorf("%w: empty document", ErrNotMasterState)
		}
		return nil, err
	default:
		return nil, fmt.Errorf("%w: top-level value is %s, not an object", ErrNotMasterState, kindName(k))
	}
	err := d.object(func(name []byte) error {
		switch string(name) {
		case "version":
			return d.stringField(&d.snap.Version)
		case "cluster":
			return d.stringField(&d.snap.Cluster)
		case "pid":
			if err := d.stringField(&d.pid); err != nil {
				return err
			}
			return d.checkLeader()
		case "leader":
			if err := d.stringField(&d.leader); err != nil {
				return err
			}
			return d.checkLeader()
		case "unreachable_slaves":
			n, err := d.count()
			d.snap.UnreachableAgents = n
			return err
		case "recovered_slaves":
			n, err := d.count()
			d.snap.RecoveredAgents = n
			return err
		case "slaves":
			if d.dec.PeekKind() == '[' {
				d.sawSlaves = true
			}
			return d.array(d.agent)
		case "frameworks":
			if d.dec.PeekKind() == '[' {
				d.sawFwks = true
			}
			return d.array(d.framework)
		}
		// completed_frameworks, orphan_tasks, flags, leader_info, counters...
		return d.skip(3)
	})
	if err != nil {
		return nil, err
	}
	if _, err := d.dec.ReadToken(); err != io.EOF {
		if err == nil {
			return nil, errors.New("unexpected data after the state object")
		}
		return nil, err
	}
	if !d.sawSlaves && !d.sawFwks {
		return nil, fmt.Errorf("%w: no \"slaves\" nor \"frameworks\"", ErrNotMasterState)
	}
	return d.finish(), nil
}

// checkLeader refuses a standby's state as soon as both pids are known.
func (d *stateDecoder) checkLeader() error {
	if d.pid != "" && d.leader != "" && d.pid != d.leader {
		return &NotLeaderError{PID: d.pid, Leader: d.leader}
	}
	return nil
}

func (d *stateDecoder) stringField(dst *string) error {
	b, err := d.str()
	if err != nil {
		return err
	}
	*dst = string(b)
	return nil
}

func (d *stateDecoder) resources(dst *Resources) error {
	return d.object(func(name []byte) error {
		var r ResourceName
		switch string(name) {
		case "cpus":
			r = ResourceCPUs
		case "mem":
			r = ResourceMem
		case "disk":
			r = ResourceDisk
		case "gpus":
			r = ResourceGPUs
		default: // ports ranges, custom resources
			return d.skip(1)
		}
		v, err := d.number()
		dst.Set(r, v)
		return err
	})
}

func (d *stateDecoder) agent() error {
	a := Agent{Active: true}
	var info agentRec
	err := d.object(func(name []byte) error {
		switch string(name) {
		case "id":
			b, err := d.str()
			if err != nil {
				return err
			}
			a.ID = d.agentIDs[d.agentRef(b)]
			return nil
		case "hostname":
			return d.stringField(&a.Hostname)
		case "pid":
			b, err := d.str()
			a.IP, a.Port = parsePID(b)
			return err
		case "version":
			return d.stringField(&a.Version)
		case "active":
			var err error
			a.Active, err = d.boolean(true)
			return err
		case "deactivated": // Mesos 1.9+: the operator deactivated or is draining the agent
			v, err := d.boolean(false)
			a.Draining = a.Draining || v
			return err
		case "drain_info":
			return d.object(func(name []byte) error {
				if string(name) != "state" {
					return d.skip(2)
				}
				b, err := d.str()
				if s := string(b); s == "DRAINING" || s == "DRAINED" {
					a.Draining = true
				}
				return err
			})
		case "registered_time":
			var err error
			a.RegisteredTime, err = d.number()
			return err
		case "resources":
			return d.resources(&a.Total)
		case "used_resources":
			info.hasUsed = d.dec.PeekKind() == '{'
			return d.resources(&a.Used)
		case "unreserved_resources":
			info.hasUnreserved = d.dec.PeekKind() == '{'
			return d.resources(&a.Unreserved)
		case "reserved_resources":
			return d.object(func(role []byte) error {
				var r Resources
				roleName := string(role)
				if err := d.resources(&r); err != nil {
					return err
				}
				if a.Reserved == nil {
					a.Reserved = make(map[string]Resources)
				}
				a.Reserved[roleName] = a.Reserved[roleName].Add(r)
				return nil
			})
		case "attributes":
			return d.attributes(&a)
		}
		return d.skip(2)
	})
	if err != nil {
		return err
	}
	if !info.hasUnreserved { // before 0.23: Total minus every reservation
		a.Unreserved = a.Total
		for _, r := range a.Reserved {
			a.Unreserved = a.Unreserved.Sub(r)
		}
		a.Unreserved = a.Unreserved.NonNegative()
	}
	d.snap.Agents = append(d.snap.Agents, a)
	d.agentsInfo = append(d.agentsInfo, info)
	return nil
}

// attributes reads agent attributes, whatever JSON type their values have.
func (d *stateDecoder) attributes(a *Agent) error {
	return d.object(func(name []byte) error {
		key := string(name)
		v, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		var text string
		switch v.Kind() {
		case '"':
			b, err := d.unquote(v)
			if err != nil {
				return err
			}
			text = string(b)
		case 'n':
			text = ""
		case '{':
			text = attributeText(v)
		default: // numbers as Mesos printed them, booleans, arrays
			c := v.Clone()
			if err := c.Compact(); err != nil {
				return err
			}
			text = string(c)
		}
		if a.Attributes == nil {
			a.Attributes = make(map[string]string)
		}
		a.Attributes[key] = text
		return nil
	})
}

// attributeText renders an attribute given as a protobuf-style object the way Mesos prints
// attributes: ranges "[31000-32000,33000-34000]", sets "{a,b}", scalars and text as their value.
// Anything else is kept as compact JSON.
func attributeText(v jsontext.Value) string {
	var attr struct {
		Ranges *struct {
			Range []struct {
				Begin float64 `json:"begin"`
				End   float64 `json:"end"`
			} `json:"range"`
		} `json:"ranges"`
		Set *struct {
			Item []string `json:"item"`
		} `json:"set"`
		Scalar *struct {
			Value float64 `json:"value"`
		} `json:"scalar"`
		Text *struct {
			Value string `json:"value"`
		} `json:"text"`
	}
	if err := json.Unmarshal(v, &attr); err == nil {
		switch {
		case attr.Ranges != nil:
			parts := make([]string, len(attr.Ranges.Range))
			for i, r := range attr.Ranges.Range {
				parts[i] = formatFloat(r.Begin) + "-" + formatFloat(r.End)
			}
			return "[" + strings.Join(parts, ",") + "]"
		case attr.Set != nil:
			return "{" + strings.Join(attr.Set.Item, ",") + "}"
		case attr.Scalar != nil:
			return formatFloat(attr.Scalar.Value)
		case attr.Text != nil:
			return attr.Text.Value
		}
	}
	c := v.Clone()
	if err := c.Compact(); err != nil {
		return string(v)
	}
	return string(c)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// parsePID splits "slave(1)@10.0.2.121:5051" (or "...@[2001:db8::1]:5051") into IP and port.
func parsePID(pid []byte) (string, int) {
	at := bytes.LastIndexByte(pid, '@')
	if at < 0 {
		return "", 0
	}
	host, port, err := net.SplitHostPort(string(pid[at+1:]))
	if err != nil {
		return "", 0
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		p = 0
	}
	return host, p
}

func (d *stateDecoder) framework() error {
	fw := Framework{Active: true}
	firstApp, firstTask := len(d.apps), d.tasks.n
	d.fwName, d.fwKind = "", kindUnknown
	clear(d.fwApps)
	d.hashes = d.hashes[:0]
	d.seenUnr.reset()
	d.pending = d.pending[:0]
	err := d.object(func(name []byte) error {
		switch string(name) {
		case "id":
			return d.stringField(&fw.ID)
		case "name":
			if err := d.stringField(&fw.Name); err != nil {
				return err
			}
			d.fwName, d.fwKind = fw.Name, kindOther
			if isMarathon(fw.Name) {
				d.fwKind = kindMarathon
			}
			return nil
		case "role":
			return d.stringField(&fw.Role)
		case "roles":
			return d.array(func() error {
				b, err := d.str()
				fw.Roles = append(fw.Roles, string(b))
				return err
			})
		case "active":
			var err error
			fw.Active, err = d.boolean(true)
			return err
		case "tasks":
			return d.array(func() error { return d.task(false) })
		case "unreachable_tasks":
			return d.array(func() error { return d.task(true) })
		}
		// completed_tasks, executors, offers, resources, capabilities...
		return d.skip(2)
	})
	if err != nil {
		return err
	}
	if fw.Role == "" && len(fw.Roles) > 0 {
		fw.Role = fw.Roles[0]
	}
	if fw.Role == "" {
		fw.Role = "*"
	}
	fw.IsMarathon = isMarathon(fw.Name)
	d.snap.Frameworks = append(d.snap.Frameworks, fw)

	d.dropDuplicates(firstTask)

	// Tasks read before the framework's name.
	d.fwName, d.fwKind = fw.Name, kindOther
	if fw.IsMarathon {
		d.fwKind = kindMarathon
	}
	for _, p := range d.pending {
		t := d.tasks.at(p.index)
		if t.AppIndex == droppedTask {
			continue
		}
		d.idBuf = append(d.idBuf[:0], p.id...)
		d.nameBuf = append(d.nameBuf[:0], p.name...)
		var idApp []byte
		if p.idApp != "" {
			idApp = append(d.appBuf[:0], p.idApp...)
		}
		t.AppIndex = d.appFor(idApp, p.hasName, p.role)
	}
	for i := firstApp; i < len(d.apps); i++ {
		a := &d.apps[i]
		a.FrameworkID, a.FrameworkName = fw.ID, fw.Name
		if a.Role == "" {
			a.Role = fw.Role
		}
	}
	return nil
}

// task reads one task object of "tasks" (or "unreachable_tasks" when unreachable is true).
func (d *stateDecoder) task(unreachable bool) error {
	t := Task{AgentIndex: -1, AppIndex: -1}
	d.idBuf, d.nameBuf = d.idBuf[:0], d.nameBuf[:0]
	var (
		idHash          uint64
		hasID, hasState bool
		hasName         bool
		idApp           []byte // Marathon app id parsed from the task id
		role            string
	)
	err := d.object(func(name []byte) error {
		switch string(name) {
		case "id":
			b, err := d.str()
			if err != nil {
				return err
			}
			idHash, hasID = maphash.Bytes(d.seed, b), true
			if !unreachable {
				d.idBuf = append(d.idBuf[:0], b...)
				if d.fwKind != kindOther {
					idApp = marathonAppID(d.appBuf[:0], b)
					if idApp != nil {
						d.appBuf = idApp
					}
				}
			}
			return nil
		case "name":
			if unreachable {
				return d.skip(0)
			}
			b, err := d.str()
			d.nameBuf, hasName = append(d.nameBuf[:0], b...), len(b) > 0
			return err
		case "role":
			if unreachable {
				return d.skip(0)
			}
			b, err := d.str()
			if string(b) != d.lastRole { // one role for most tasks: no allocation
				d.lastRole = string(b)
			}
			role = d.lastRole
			return err
		case "slave_id":
			b, err := d.str()
			if err == nil && len(b) > 0 {
				t.AgentIndex = d.agentRef(b)
			}
			return err
		case "state":
			b, err := d.str()
			t.State, hasState = taskState(b), true
			return err
		case "resources":
			if unreachable {
				return d.skip(1)
			}
			return d.resources(&t.Resources)
		}
		// statuses, labels, discovery, container, executor_id...
		return d.skip(0)
	})
	if err != nil {
		return err
	}
	if !hasState {
		t.State = "" // a task listed without a state still holds its resources: counted live
	}
	if unreachable || t.State == "TASK_UNREACHABLE" {
		// The same task listed twice is one task. Hashing ids keeps memory flat; a 64-bit
		// collision among one framework's tasks is negligible.
		if hasID && !d.seenUnr.add(idHash) {
			return nil
		}
		d.snap.UnreachableTasks++
		if t.AgentIndex >= 0 {
			d.unreachRef[t.AgentIndex]++
		}
		return nil
	}
	if !isLive(t.State) {
		return nil
	}
	if d.fwKind == kindUnknown {
		d.pending = append(d.pending, pendingTask{
			index: d.tasks.n, idApp: string(idApp), name: string(d.nameBuf), id: string(d.idBuf),
			role: role, hasName: hasName,
		})
	} else {
		t.AppIndex = d.appFor(idApp, hasName, role)
	}
	if !hasID {
		idHash = 0
	} else if idHash == 0 {
		idHash = 1
	}
	d.hashes = append(d.hashes, idHash)
	d.tasks.append(t)
	return nil
}

// dropDuplicates marks the second and later listings of a task id among the current
// framework's live tasks, which start at index first. Ids are compared by 64-bit hash: sorting
// hashes is cheaper than a set of 200,000 strings, and a collision among one framework's tasks
// is negligible.
func (d *stateDecoder) dropDuplicates(first int) {
	d.sorted = append(d.sorted[:0], d.hashes...)
	slices.Sort(d.sorted)
	var dups map[uint64]bool // hash → first listing seen
	for i := 1; i < len(d.sorted); i++ {
		if h := d.sorted[i]; h != 0 && h == d.sorted[i-1] {
			if dups == nil {
				dups = make(map[uint64]bool)
			}
			dups[h] = false
		}
	}
	if dups == nil {
		return
	}
	for i, h := range d.hashes {
		seen, dup := dups[h]
		switch {
		case dup && seen:
			d.tasks.at(first + i).AppIndex = droppedTask
		case dup:
			dups[h] = true
		}
	}
}

// appFor returns the index of the application of a live task of the current framework, whose
// id and name are in d.idBuf and d.nameBuf, creating the application if needed.
func (d *stateDecoder) appFor(idApp []byte, hasName bool, role string) int32 {
	var id []byte
	switch {
	case d.fwKind == kindMarathon && idApp != nil:
		id = idApp
	case d.fwKind == kindMarathon && hasName:
		// Marathon names a task after its app path reversed: "nginx.web" is /web/nginx.
		id = appIDFromTaskName(d.appBuf[:0], d.nameBuf)
	case d.fwKind == kindMarathon:
		id = append(append(d.appBuf[:0], '/'), d.idBuf...)
	default:
		id = append(append(d.appBuf[:0], d.fwName...), '/')
		if hasName {
			id = append(id, d.nameBuf...)
		} else {
			id = append(id, d.idBuf...)
		}
	}
	d.appBuf = id
	i, ok := d.fwApps[string(id)]
	if !ok {
		i = int32(len(d.apps))
		d.apps = append(d.apps, Application{ID: string(id), Role: role})
		d.fwApps[d.apps[i].ID] = i
	}
	return i
}

// taskStates interns the Mesos task states.
var taskStates = []string{
	"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED",
	"TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED",
	"TASK_UNREACHABLE", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN",
}

func taskState(b []byte) string {
	for _, s := range taskStates {
		if string(b) == s {
			return s
		}
	}
	return string(b)
}

// isLive reports whether a task in this state holds resources on its agent. A task without a
// state is taken as live.
func isLive(state string) bool {
	switch state {
	case "TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "":
		return true
	}
	return false
}

func addShape(a *Application, r Resources) {
	for i := range a.Shapes {
		s := &a.Shapes[i]
		if r.Sub(s.Resources).IsZero() {
			s.Count++
			return
		}
	}
	a.Shapes = append(a.Shapes, Shape{Resources: r, Count: 1})
}

// finish resolves references and sorts applications.
func (d *stateDecoder) finish() *Snapshot {
	s := &d.snap
	s.Leader = d.leader
	if s.Leader == "" {
		s.Leader = d.pid
	}

	// Agent references (from "slaves" and from tasks) to indices in s.Agents.
	refIndex := make([]int32, len(d.agentIDs))
	for i := range refIndex {
		refIndex[i] = -1
	}
	for i := range s.Agents {
		if ref, ok := d.agentRefs[s.Agents[i].ID]; ok && refIndex[ref] < 0 {
			refIndex[ref] = int32(i)
		}
	}
	for ref, n := range d.unreachRef {
		if i := refIndex[ref]; i >= 0 {
			s.Agents[i].UnreachableTaskCount += n
		}
	}

	// Applications with their live tasks, sorted by id (then framework id), their shapes
	// largest first. An application whose only task was a duplicate listing is dropped.
	for _, chunk := range d.tasks.chunks {
		for _, t := range chunk {
			if t.AppIndex >= 0 {
				a := &d.apps[t.AppIndex]
				a.Instances++
				addShape(a, t.Resources)
			}
		}
	}
	order := make([]int32, 0, len(d.apps))
	for i := range d.apps {
		if d.apps[i].Instances > 0 {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int {
		x, y := &d.apps[a], &d.apps[b]
		if c := strings.Compare(x.ID, y.ID); c != 0 {
			return c
		}
		return strings.Compare(x.FrameworkID, y.FrameworkID)
	})
	newIndex := make([]int32, len(d.apps))
	s.Applications = make([]Application, len(order))
	for n, old := range order {
		newIndex[old] = int32(n)
		app := d.apps[old]
		slices.SortStableFunc(app.Shapes, compareShapes)
		s.Applications[n] = app
	}

	s.Tasks = make([]Task, 0, d.tasks.n)
	for _, chunk := range d.tasks.chunks {
		for _, t := range chunk {
			if t.AppIndex == droppedTask {
				continue
			}
			if t.AgentIndex >= 0 {
				t.AgentIndex = refIndex[t.AgentIndex]
			}
			t.AppIndex = newIndex[t.AppIndex]
			if t.AgentIndex >= 0 {
				a := &s.Agents[t.AgentIndex]
				a.TaskCount++
				if !d.agentsInfo[t.AgentIndex].hasUsed {
					// Before 0.23 the master did not report used resources: sum the tasks'.
					a.Used = a.Used.Add(t.Resources)
				}
			}
			s.Tasks = append(s.Tasks, t)
		}
	}
	if s.Agents == nil {
		s.Agents = []Agent{}
	}
	if s.Frameworks == nil {
		s.Frameworks = []Framework{}
	}
	out := *s // a copy: returning &d.snap would keep the decoder's buffers alive
	return &out
}

// compareShapes orders shapes largest first: by CPUs, then memory, disk and GPUs, then count.
// Shapes within Epsilon of each other were merged, so exact comparison is a total order.
func compareShapes(a, b Shape) int {
	for _, r := range AllResources {
		if c := cmp.Compare(b.Resources.Get(r), a.Resources.Get(r)); c != 0 {
			return c
		}
	}
	return b.Count - a.Count
}
