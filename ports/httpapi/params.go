package httpapi

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// query reads and checks query parameters, collecting one FieldError per bad
// parameter so that a client learns of every mistake at once.
type query struct {
	c    *gin.Context
	errs []FieldError
}

func newQuery(c *gin.Context) *query { return &query{c: c} }

func (q *query) fail(field, format string, args ...any) {
	q.errs = append(q.errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// id reads a positive integer; 0 when absent.
func (q *query) id(name string) int64 {
	raw, ok := q.c.GetQuery(name)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		q.fail(name, "must be a positive integer")
		return 0
	}
	return n
}

// time reads an RFC 3339 instant; zero when absent.
func (q *query) time(name string) time.Time {
	raw, ok := q.c.GetQuery(name)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		q.fail(name, "must be an RFC 3339 time such as 2026-12-03T10:15:00Z")
	}
	return t
}

// limit reads the page size: 1 to 500, 50 when absent.
func (q *query) limit() int {
	raw, ok := q.c.GetQuery("limit")
	if !ok {
		return 50
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 500 {
		q.fail("limit", "must be an integer from 1 to 500")
		return 50
	}
	return n
}

// cursor reads a cursor made by encodeCursor; 0 when absent.
func (q *query) cursor() int64 {
	raw, ok := q.c.GetQuery("cursor")
	if !ok || raw == "" {
		return 0
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	n, perr := strconv.ParseInt(string(b), 10, 64)
	if err != nil || perr != nil || n <= 0 {
		q.fail("cursor", "is not a cursor this API gave out")
		return 0
	}
	return n
}

// ok answers 400 naming every bad parameter, and reports whether all were good.
func (q *query) ok() bool {
	if len(q.errs) == 0 {
		return true
	}
	WriteProblem(q.c, http.StatusBadRequest, "invalid query parameters", q.errs...)
	return false
}

// encodeCursor makes the opaque cursor of the page that starts after id.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// page is the shape of every list answer.
type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// newPage builds a page; a full page has a next cursor after its last item.
func newPage[T any](items []T, limit int, lastID func(T) int64) page[T] {
	p := page[T]{Items: items}
	if p.Items == nil {
		p.Items = []T{}
	}
	if len(items) == limit && limit > 0 {
		next := encodeCursor(lastID(items[len(items)-1]))
		p.NextCursor = &next
	}
	return p
}

// pathID reads the {id} path parameter, answering 404 when it is no id.
func pathID(c *gin.Context) (int64, bool) {
	n, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || n <= 0 {
		WriteProblem(c, http.StatusNotFound, "no such id: "+c.Param("id"))
		return 0, false
	}
	return n, true
}
