package domain

import (
	"errors"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

var (
	ErrPhoneMissing = errors.New("phone number missing")
	ErrPhoneInvalid = errors.New("phone number invalid")
)

// NormalizePhone turns a phone number as people write it into E.164 with its
// leading "+". Numbers without a country code are read in region (ISO 3166
// alpha-2, e.g. "ES"); "00" international prefixes are understood.
func NormalizePhone(raw, region string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", ErrPhoneMissing
	}
	if strings.HasPrefix(raw, "00") {
		raw = "+" + raw[2:]
	}
	num, err := phonenumbers.Parse(raw, strings.ToUpper(region))
	if err != nil || !phonenumbers.IsValidNumber(num) || lettersReadAsDigits(raw, num) {
		return "", ErrPhoneInvalid
	}
	return phonenumbers.Format(num, phonenumbers.E164), nil
}

// lettersReadAsDigits reports whether the library read letters in raw as
// keypad digits ("600 ABC 222" is 600 222 222): those digits were never
// written, so the number is not the student's. Words around a number
// ("móvil: 600 111 222") keep its digits and pass.
func lettersReadAsDigits(raw string, num *phonenumbers.PhoneNumber) bool {
	return strings.ContainsFunc(raw, unicode.IsLetter) &&
		!strings.Contains(phonenumbers.NormalizeDigitsOnly(raw), phonenumbers.GetNationalSignificantNumber(num))
}

// ValidRegion reports whether region is a region the phone library knows.
func ValidRegion(region string) bool {
	return phonenumbers.GetCountryCodeForRegion(strings.ToUpper(region)) != 0
}

// MaskPhone keeps the country code and the last two digits, so logs can tell
// numbers apart without holding them.
func MaskPhone(p string) string {
	if len(p) <= 5 {
		return strings.Repeat("*", len(p))
	}
	return p[:3] + strings.Repeat("*", len(p)-5) + p[len(p)-2:]
}
