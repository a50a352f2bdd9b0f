package moodle

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// CourseField is a field core_course_get_courses_by_field searches.
type CourseField string

const (
	AllCourses        CourseField = "" // every course, the site course (format "site") included
	CourseByID        CourseField = "id"
	CourseByIDs       CourseField = "ids" // value: comma-separated ids
	CourseByShortName CourseField = "shortname"
	CourseByIDNumber  CourseField = "idnumber"
	CourseByCategory  CourseField = "category"
)

// Course is a Moodle course as core_course_get_courses_by_field shows it.
type Course struct {
	ID               int64
	ShortName        string
	FullName         string
	DisplayName      string
	IDNumber         string
	CategoryID       int64
	CategoryName     string
	Format           string // "site" for the front page course
	Lang             string
	Visible          bool
	EnableCompletion bool
	StartDate        time.Time
	EndDate          time.Time // zero: no end date
	TimeModified     time.Time
	EnrolmentMethods []string
}

// IsSite reports whether the course is the site's front page.
func (c Course) IsSite() bool { return c.Format == "site" }

// Ended reports whether the course has an end date before t.
func (c Course) Ended(t time.Time) bool { return !c.EndDate.IsZero() && c.EndDate.Before(t) }

type wireCourse struct {
	ID                flexInt  `json:"id"`
	ShortName         string   `json:"shortname"`
	FullName          string   `json:"fullname"`
	DisplayName       string   `json:"displayname"`
	IDNumber          string   `json:"idnumber"`
	CategoryID        flexInt  `json:"categoryid"`
	CategoryName      string   `json:"categoryname"`
	Format            string   `json:"format"`
	Lang              string   `json:"lang"`
	Visible           flexBool `json:"visible"`
	EnableCompletion  flexBool `json:"enablecompletion"`
	StartDate         flexInt  `json:"startdate"`
	EndDate           flexInt  `json:"enddate"`
	TimeModified      flexInt  `json:"timemodified"`
	EnrollmentMethods []string `json:"enrollmentmethods"`
}

// GetCoursesByField reads courses with core_course_get_courses_by_field, in
// id order; AllCourses with an empty value lists every course. No match is
// an empty list, not an error.
func (c *Client) GetCoursesByField(ctx context.Context, field CourseField, value string) ([]Course, error) {
	p := &params{}
	if field != AllCourses {
		p.set("field", string(field)).set("value", value)
	}
	var out struct {
		Courses  []wireCourse  `json:"courses"`
		Warnings []wireWarning `json:"warnings"`
	}
	if err := c.read(ctx, "core_course_get_courses_by_field", p, &out); err != nil {
		return nil, err
	}
	courses := make([]Course, len(out.Courses))
	for i, w := range out.Courses {
		courses[i] = Course{
			ID: int64(w.ID), ShortName: w.ShortName, FullName: w.FullName, DisplayName: w.DisplayName,
			IDNumber: w.IDNumber, CategoryID: int64(w.CategoryID), CategoryName: w.CategoryName,
			Format: w.Format, Lang: w.Lang, Visible: bool(w.Visible), EnableCompletion: bool(w.EnableCompletion),
			StartDate: unixTime(int64(w.StartDate)), EndDate: unixTime(int64(w.EndDate)),
			TimeModified: unixTime(int64(w.TimeModified)), EnrolmentMethods: w.EnrollmentMethods,
		}
	}
	return courses, nil
}

// GetCourses reads courses by id (field id for one, ids for several), or
// every course when none is given.
func (c *Client) GetCourses(ctx context.Context, courseIDs ...int64) ([]Course, error) {
	switch len(courseIDs) {
	case 0:
		return c.GetCoursesByField(ctx, AllCourses, "")
	case 1:
		return c.GetCoursesByField(ctx, CourseByID, strconv.FormatInt(courseIDs[0], 10))
	}
	var courses []Course
	for _, chunk := range chunks(courseIDs, c.cfg.MaxListParams) {
		got, err := c.GetCoursesByField(ctx, CourseByIDs, strings.Join(ids(chunk), ","))
		if err != nil {
			return nil, err
		}
		courses = append(courses, got...)
	}
	return courses, nil
}
