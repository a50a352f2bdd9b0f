package moodle

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// NewUser is a user to create. Username, FirstName, LastName and Email are
// required; without Password Moodle generates one and mails it
// (createpassword). Moodle wants the username in lower case.
type NewUser struct {
	Username  string
	Password  string // empty: Moodle creates one and mails it
	FirstName string
	LastName  string
	Email     string
	Phone1    string
	Phone2    string
	IDNumber  string
	Lang      string // e.g. "es"; empty: the site's default
	Timezone  string // IANA name, or "99" for the site's default
	City      string
	Country   string // ISO 3166 alpha-2
	Auth      string // empty: manual
	// CustomFields are profile fields by short name (CONTRACT section 7's
	// profile_field_<shortname> phone field, for instance).
	CustomFields map[string]string
}

// CreatedUser is Moodle's answer for one created user.
type CreatedUser struct {
	ID       int64
	Username string
}

// CreateUsers creates users with core_user_create_users, all or none. It is
// a write: never retried; on a transport failure the error matches
// ErrOutcomeUnknown and the caller looks the username up before trying
// again. An existing username or email answers ErrInvalidParameter (Moodle
// does not say which unless debugging is on), a weak password
// ErrPasswordPolicy.
func (c *Client) CreateUsers(ctx context.Context, users ...NewUser) ([]CreatedUser, error) {
	if len(users) == 0 {
		return nil, nil
	}
	p := &params{}
	for i, u := range users {
		if u.Username == "" || u.FirstName == "" || u.LastName == "" || u.Email == "" {
			return nil, fmt.Errorf("moodle core_user_create_users: user %d: username, first name, last name and email are required: %w",
				i, ErrInvalidParameter)
		}
		p.set(key("users", i, "username"), u.Username)
		if u.Password != "" {
			p.set(key("users", i, "password"), u.Password)
		} else {
			p.set(key("users", i, "createpassword"), "1")
		}
		p.set(key("users", i, "firstname"), u.FirstName)
		p.set(key("users", i, "lastname"), u.LastName)
		p.set(key("users", i, "email"), u.Email)
		p.setOpt(key("users", i, "auth"), u.Auth)
		p.setOpt(key("users", i, "idnumber"), u.IDNumber)
		p.setOpt(key("users", i, "phone1"), u.Phone1)
		p.setOpt(key("users", i, "phone2"), u.Phone2)
		p.setOpt(key("users", i, "lang"), u.Lang)
		p.setOpt(key("users", i, "timezone"), u.Timezone)
		p.setOpt(key("users", i, "city"), u.City)
		p.setOpt(key("users", i, "country"), u.Country)
		j := 0
		for _, name := range slices.Sorted(maps.Keys(u.CustomFields)) {
			p.set(key("users", i, "customfields")+key("", j, "type"), name)
			p.set(key("users", i, "customfields")+key("", j, "value"), u.CustomFields[name])
			j++
		}
	}
	var out []struct {
		ID       flexInt `json:"id"`
		Username string  `json:"username"`
	}
	if err := c.write(ctx, "core_user_create_users", p, &out); err != nil {
		return nil, err
	}
	if len(out) != len(users) {
		return nil, &badResponseError{fn: "core_user_create_users",
			what: fmt.Sprintf("%d users created for %d asked", len(out), len(users)), unknown: true}
	}
	created := make([]CreatedUser, len(out))
	for i, u := range out {
		created[i] = CreatedUser{ID: int64(u.ID), Username: u.Username}
	}
	return created, nil
}

// UserField is a field core_user_get_users_by_field searches.
type UserField string

const (
	UserByID       UserField = "id"
	UserByUsername UserField = "username"
	UserByEmail    UserField = "email"
	UserByIDNumber UserField = "idnumber"
)

// User is a Moodle user as core_user_get_users_by_field shows it. Phones,
// email and lang are present only when the token may see them
// (moodle/user:viewhiddendetails and friends).
type User struct {
	ID          int64
	Username    string
	FirstName   string
	LastName    string
	FullName    string
	Email       string
	Phone1      string
	Phone2      string
	IDNumber    string
	Department  string
	City        string
	Country     string
	Lang        string
	Timezone    string // IANA name, or "99" for the site's default
	Auth        string
	Suspended   bool
	Confirmed   bool
	FirstAccess time.Time
	LastAccess  time.Time
	// CustomFields are profile field values by short name.
	CustomFields map[string]string
}

// Phone is the phone in the field the plugin's phonefield setting names:
// phone1, phone2 or profile_field_<shortname>.
func (u User) Phone(field string) string { return phoneOf(field, u.Phone1, u.Phone2, u.CustomFields) }

func phoneOf(field, phone1, phone2 string, custom map[string]string) string {
	switch {
	case field == "" || field == "phone1":
		return phone1
	case field == "phone2":
		return phone2
	case strings.HasPrefix(field, "profile_field_"):
		return custom[strings.TrimPrefix(field, "profile_field_")]
	}
	return ""
}

type wireUser struct {
	ID           flexInt           `json:"id"`
	Username     string            `json:"username"`
	FirstName    string            `json:"firstname"`
	LastName     string            `json:"lastname"`
	FullName     string            `json:"fullname"`
	Email        string            `json:"email"`
	Phone1       string            `json:"phone1"`
	Phone2       string            `json:"phone2"`
	IDNumber     string            `json:"idnumber"`
	Department   string            `json:"department"`
	City         string            `json:"city"`
	Country      string            `json:"country"`
	Lang         string            `json:"lang"`
	Timezone     flexString        `json:"timezone"`
	Auth         string            `json:"auth"`
	Suspended    flexBool          `json:"suspended"`
	Confirmed    flexBool          `json:"confirmed"`
	FirstAccess  flexInt           `json:"firstaccess"`
	LastAccess   flexInt           `json:"lastaccess"`
	CustomFields []wireCustomField `json:"customfields"`
}

func (w wireUser) toUser() User {
	return User{
		ID: int64(w.ID), Username: w.Username, FirstName: w.FirstName, LastName: w.LastName,
		FullName: w.FullName, Email: w.Email, Phone1: w.Phone1, Phone2: w.Phone2, IDNumber: w.IDNumber,
		Department: w.Department, City: w.City, Country: w.Country, Lang: w.Lang,
		Timezone: string(w.Timezone), Auth: w.Auth, Suspended: bool(w.Suspended), Confirmed: bool(w.Confirmed),
		FirstAccess: unixTime(int64(w.FirstAccess)), LastAccess: unixTime(int64(w.LastAccess)),
		CustomFields: toCustomFields(w.CustomFields),
	}
}

// GetUsersByField finds users with core_user_get_users_by_field, in id
// order. Values nobody has are simply absent (Moodle answers []); an
// unsupported field answers ErrInvalidParameter.
func (c *Client) GetUsersByField(ctx context.Context, field UserField, values ...string) ([]User, error) {
	if len(values) == 0 {
		return nil, nil
	}
	var users []User
	for _, chunk := range chunks(values, c.cfg.MaxListParams) {
		p := (&params{}).set("field", string(field))
		p.list("values", chunk)
		var out []wireUser
		if err := c.read(ctx, "core_user_get_users_by_field", p, &out); err != nil {
			return nil, err
		}
		for _, w := range out {
			users = append(users, w.toUser())
		}
	}
	return users, nil
}

// GetUsersByID finds users by Moodle id.
func (c *Client) GetUsersByID(ctx context.Context, userIDs ...int64) ([]User, error) {
	return c.GetUsersByField(ctx, UserByID, ids(userIDs)...)
}

// GetUserByUsername finds one user; ErrNotFound when there is none.
func (c *Client) GetUserByUsername(ctx context.Context, username string) (User, error) {
	users, err := c.GetUsersByField(ctx, UserByUsername, username)
	if err != nil {
		return User{}, err
	}
	for _, u := range users {
		if strings.EqualFold(u.Username, username) {
			return u, nil
		}
	}
	return User{}, fmt.Errorf("moodle user %q: %w", username, ErrNotFound)
}
