package moodle

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// params are a call's parameters in Moodle's (PHP's) array notation, in
// the order they are added: users[0][username]=..., values[0]=...
type params struct {
	kv [][2]string
}

func (p *params) set(key, value string) *params {
	p.kv = append(p.kv, [2]string{key, value})
	return p
}

func (p *params) setInt(key string, v int64) *params { return p.set(key, strconv.FormatInt(v, 10)) }

// setOpt adds a text parameter only when it is not empty.
func (p *params) setOpt(key, value string) {
	if value != "" {
		p.set(key, value)
	}
}

// setTime adds a Unix-seconds parameter only when t is not zero.
func (p *params) setTime(key string, t time.Time) {
	if !t.IsZero() {
		p.setInt(key, t.Unix())
	}
}

// list adds name[0]=v0, name[1]=v1, ...
func (p *params) list(name string, values []string) {
	for i, v := range values {
		p.set(idx(name, i), v)
	}
}

// idx is name[i].
func idx(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

// key is name[i][field].
func key(name string, i int, field string) string { return idx(name, i) + "[" + field + "]" }

// encode is the form body: the token and function first, then the
// parameters. The token travels only in the body, never in the URL.
func (p *params) encode(token, function string) string {
	var b strings.Builder
	b.WriteString("wstoken=" + url.QueryEscape(token))
	b.WriteString("&wsfunction=" + url.QueryEscape(function))
	b.WriteString("&moodlewsrestformat=json")
	for _, kv := range p.kv {
		b.WriteString("&" + url.QueryEscape(kv[0]) + "=" + url.QueryEscape(kv[1]))
	}
	return b.String()
}

// unixTime turns Moodle's Unix seconds into a time; 0 (never, no date) is
// the zero time.
func unixTime(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

func ids(v []int64) []string {
	out := make([]string, len(v))
	for i, id := range v {
		out[i] = strconv.FormatInt(id, 10)
	}
	return out
}

// chunks splits v into slices of at most n.
func chunks[T any](v []T, n int) [][]T {
	if len(v) <= n {
		return [][]T{v}
	}
	var out [][]T
	for len(v) > 0 {
		k := min(n, len(v))
		out = append(out, v[:k])
		v = v[k:]
	}
	return out
}
