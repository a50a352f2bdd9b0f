package moodletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// object is a JSON object that keeps its keys in order, as PHP arrays do,
// so that answers come out with Moodle's key order.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

// obj builds an object from key, value pairs.
func obj(kv ...any) *object {
	o := newObject()
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *object) set(k string, v any) *object {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
	return o
}

func (o *object) get(k string) any { return o.vals[k] }

func (o *object) has(k string) bool {
	_, ok := o.vals[k]
	return ok
}

func (o *object) str(k string) string {
	switch v := o.vals[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func (o *object) int(k string) int64 {
	switch v := o.vals[k].(type) {
	case json.Number:
		n, _ := v.Int64()
		return n
	case int64:
		return v
	case int:
		return int64(v)
	case bool:
		if v {
			return 1
		}
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// clone copies the object deeply.
func (o *object) clone() *object { return cloneValue(o).(*object) }

func cloneValue(v any) any {
	switch x := v.(type) {
	case *object:
		c := newObject()
		for _, k := range x.keys {
			c.set(k, cloneValue(x.vals[k]))
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = cloneValue(e)
		}
		return c
	}
	return v
}

// decodeJSON decodes JSON into objects, []any, json.Number, string, bool
// and nil.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		o := newObject()
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(kt.(string), v)
		}
		_, err = dec.Token()
		return o, err
	case '[':
		a := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err = dec.Token()
		return a, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// encodePHP encodes v as PHP's json_encode does with default flags: "/"
// escaped, non-ASCII as lower-case \u escapes, floats with a fraction.
func encodePHP(v any) []byte {
	var b bytes.Buffer
	writePHP(&b, v)
	return b.Bytes()
}

func writePHP(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		b.WriteString(x.String())
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(phpFloat(x))
	case string:
		writePHPString(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writePHP(b, e)
		}
		b.WriteByte(']')
	case []*object:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = e
		}
		writePHP(b, a)
	case *object:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writePHPString(b, k)
			b.WriteByte(':')
			writePHP(b, x.vals[k])
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("moodletest: cannot encode %T", v))
	}
}

// phpFloat is PHP 7.1+'s json_encode of a float (serialize_precision -1):
// the shortest representation, with ".0" on whole numbers.
func phpFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64) + ".0"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func writePHPString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '/':
			b.WriteString(`\/`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}

// htmlspecialchars is PHP's htmlspecialchars(ENT_COMPAT).
var htmlspecialchars = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace

// xmlError is webservice_rest_server::generate_error for the XML format.
func xmlError(e *wsError) []byte {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n")
	b.WriteString(`<EXCEPTION class="` + e.class + "\">\n")
	b.WriteString("<ERRORCODE>" + htmlspecialchars(e.code) + "</ERRORCODE>\n")
	b.WriteString("<MESSAGE>" + htmlspecialchars(e.message) + "</MESSAGE>\n")
	if e.debug != "" {
		b.WriteString("<DEBUGINFO>" + htmlspecialchars(e.debug) + "</DEBUGINFO>\n")
	}
	b.WriteString("</EXCEPTION>\n")
	return []byte(b.String())
}

// xmlResponse renders a result in Moodle's XML format. Moodle renders it
// from the function's return description (absent optional keys as null);
// this renders what the value holds, which is close but not recorded.
func xmlResponse(v any) []byte {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE>\n")
	if v != nil {
		writeXML(&b, v)
	}
	b.WriteString("</RESPONSE>\n")
	return []byte(b.String())
}

func writeXML(b *strings.Builder, v any) {
	switch x := v.(type) {
	case *object:
		b.WriteString("<SINGLE>\n")
		for _, k := range x.keys {
			b.WriteString(`<KEY name="` + k + `">`)
			writeXML(b, x.vals[k])
			b.WriteString("</KEY>\n")
		}
		b.WriteString("</SINGLE>\n")
	case []any:
		b.WriteString("<MULTIPLE>\n")
		for _, e := range x {
			writeXML(b, e)
		}
		b.WriteString("</MULTIPLE>\n")
	case []*object:
		b.WriteString("<MULTIPLE>\n")
		for _, e := range x {
			writeXML(b, e)
		}
		b.WriteString("</MULTIPLE>\n")
	case nil:
		b.WriteString("<VALUE null=\"null\"/>\n")
	case bool:
		if x {
			b.WriteString("<VALUE>1</VALUE>\n")
		} else {
			b.WriteString("<VALUE>0</VALUE>\n")
		}
	case float64:
		b.WriteString("<VALUE>" + strconv.FormatFloat(x, 'f', -1, 64) + "</VALUE>\n")
	default:
		b.WriteString("<VALUE>" + htmlspecialchars(fmt.Sprint(x)) + "</VALUE>\n")
	}
}
