package mesos

import (
	"bytes"
	"strings"
)

// Marathon runs most of a Mesos cluster's services; its tasks are grouped by app id, which
// Marathon encodes in every task id (and, reversed, in the task name).

// isMarathon reports whether a framework name is Marathon's ("marathon", "marathon-user").
func isMarathon(name string) bool {
	return len(name) >= len("marathon") && strings.EqualFold(name[:len("marathon")], "marathon")
}

// marathonAppID appends to dst the Marathon app id ("/web/nginx") encoded in a Marathon task id
// and returns it, or returns nil when id matches none of Marathon's formats:
//
//	web_nginx.<uuid>                       (0.7 to 1.3; "_" separates path segments)
//	web_nginx_<uuid>                       (before 0.7)
//	web_nginx.<uuid>.<attempt>             (resident tasks)
//	web_nginx.marathon-<uuid>              (1.4 to 1.7 instance ids)
//	web_nginx.instance-<uuid>.<container>  (pods, 1.4+)
//	web_nginx.instance-<uuid>._app.<n>     (1.8+; <n> counts incarnations)
func marathonAppID(dst, id []byte) []byte {
	path := marathonAppPath(id)
	if len(path) == 0 {
		return nil
	}
	dst = append(dst, '/')
	for _, c := range path {
		if c == '_' {
			c = '/'
		}
		dst = append(dst, c)
	}
	return dst
}

func marathonAppPath(id []byte) []byte {
	// Instance-era ids: the last ".instance-<uuid>" or ".marathon-<uuid>" followed by the end,
	// "." or "_".
	for end := len(id); ; {
		i := bytes.LastIndexByte(id[:end], '.')
		if i <= 0 {
			break
		}
		if rest := id[i+1:]; bytes.HasPrefix(rest, []byte("instance-")) || bytes.HasPrefix(rest, []byte("marathon-")) {
			u := rest[len("instance-"):]
			if isUUID(u) && (len(u) == uuidLen || u[uuidLen] == '.' || u[uuidLen] == '_') {
				return id[:i]
			}
		}
		end = i
	}
	// Legacy ids: "<path>.<uuid>" or "<path>_<uuid>", maybe followed by ".<attempt>".
	if dot := bytes.LastIndexByte(id, '.'); dot >= 0 && dot+1 < len(id) && allDigits(id[dot+1:]) {
		if trimmed := id[:dot]; len(trimmed) > uuidLen && isUUID(trimmed[len(trimmed)-uuidLen:]) {
			id = trimmed
		}
	}
	if len(id) > uuidLen+1 && isUUID(id[len(id)-uuidLen:]) {
		if sep := id[len(id)-uuidLen-1]; sep == '.' || sep == '_' {
			return id[:len(id)-uuidLen-1]
		}
	}
	return nil
}

const uuidLen = 36

// isUUID reports whether b starts with a textual UUID (8-4-4-4-12 hex digits).
func isUUID(b []byte) bool {
	if len(b) < uuidLen || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return false
	}
	for i, c := range b[:uuidLen] {
		if !isHex[c] && i != 8 && i != 13 && i != 18 && i != 23 {
			return false
		}
	}
	return true
}

var isHex = func() (t [256]bool) {
	for _, c := range "0123456789abcdefABCDEF" {
		t[c] = true
	}
	return t
}()

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// appIDFromTaskName appends "/web/nginx" for the task name "nginx.web".
func appIDFromTaskName(dst, name []byte) []byte {
	for len(name) > 0 {
		i := bytes.LastIndexByte(name, '.')
		dst = append(dst, '/')
		dst = append(dst, name[i+1:]...)
		if i < 0 {
			break
		}
		name = name[:i]
	}
	return dst
}
