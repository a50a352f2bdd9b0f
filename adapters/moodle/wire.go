package moodle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// flexInt decodes an integer Moodle may send as a number or a numeric
// string (ids and times in some functions and versions); null is 0.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if len(b) == 0 || string(b) == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		x, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || x != float64(int64(x)) {
			return fmt.Errorf("not an integer: %s", b)
		}
		n = int64(x)
	}
	*f = flexInt(n)
	return nil
}

// flexBool decodes true/false, 1/0 and "1"/"0"; null is false.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	switch string(bytes.Trim(b, `"`)) {
	case "true", "1":
		*f = true
	case "false", "0", "", "null":
		*f = false
	default:
		return fmt.Errorf("not a boolean: %s", b)
	}
	return nil
}

// flexString decodes a string Moodle may send as a number (custom field
// values, timezone "99").
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	*f = flexString(b)
	return nil
}

// Warning is one entry of a function's "warnings" list.
type Warning struct {
	Item        string
	ItemID      int64
	WarningCode string
	Message     string
}

type wireWarning struct {
	Item        string  `json:"item"`
	ItemID      flexInt `json:"itemid"`
	WarningCode string  `json:"warningcode"`
	Message     string  `json:"message"`
}

func toWarnings(w []wireWarning) []Warning {
	if len(w) == 0 {
		return nil
	}
	out := make([]Warning, len(w))
	for i, x := range w {
		out[i] = Warning{Item: x.Item, ItemID: int64(x.ItemID), WarningCode: x.WarningCode, Message: x.Message}
	}
	return out
}

type wireCustomField struct {
	Type      string     `json:"type"`
	Value     flexString `json:"value"`
	ShortName string     `json:"shortname"`
	Name      string     `json:"name"`
}

func toCustomFields(w []wireCustomField) map[string]string {
	if len(w) == 0 {
		return nil
	}
	out := make(map[string]string, len(w))
	for _, f := range w {
		out[f.ShortName] = string(f.Value)
	}
	return out
}
