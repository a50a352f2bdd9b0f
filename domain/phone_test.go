package domain_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/domain"
)

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct {
		raw, region string
		want        string
		err         error
	}{
		// Spanish mobiles as people write them.
		{"600 111 222", "ES", "+34600111222", nil},
		{"600111222", "ES", "+34600111222", nil},
		{"600-111-222", "ES", "+34600111222", nil},
		{"600 111 222", "es", "+34600111222", nil},
		{"  600 111 222  ", "ES", "+34600111222", nil},
		{"+34 600 111 222", "ES", "+34600111222", nil},
		{"+34600111333", "ES", "+34600111333", nil}, // as student3 is stored in the LAB102 Moodle
		{"+34 (600) 111.222", "ES", "+34600111222", nil},
		{"0034600111222", "ES", "+34600111222", nil},
		{"0034 600 111 222", "ES", "+34600111222", nil},
		{"móvil: 600 111 222", "ES", "+34600111222", nil},
		// With a country code the region does not matter.
		{"+34 600 111 222", "US", "+34600111222", nil},
		{"0034 600 111 222", "US", "+34600111222", nil},
		{"+34 600 111 222", "", "+34600111222", nil},
		// Other countries.
		{"+1 212 555 0123", "ES", "+12125550123", nil},
		{"(212) 555-0123", "US", "+12125550123", nil},
		{"+52 55 1234 5678", "ES", "+525512345678", nil},
		{"+55 11 91234 5678", "ES", "+5511912345678", nil},
		{"+351 912 345 678", "ES", "+351912345678", nil},
		// Missing.
		{"", "ES", "", domain.ErrPhoneMissing},
		{"   ", "ES", "", domain.ErrPhoneMissing},
		// Invalid.
		{"600", "ES", "", domain.ErrPhoneInvalid},
		{"600 111 22", "ES", "", domain.ErrPhoneInvalid},       // a digit short
		{"+34 600 111 2222", "ES", "", domain.ErrPhoneInvalid}, // a digit too many
		{"+34", "ES", "", domain.ErrPhoneInvalid},
		{"+", "ES", "", domain.ErrPhoneInvalid},
		{"00", "ES", "", domain.ErrPhoneInvalid},
		{"(212) 555-0123", "ES", "", domain.ErrPhoneInvalid}, // a US number read as Spanish
		{"600 111 222", "", "", domain.ErrPhoneInvalid},      // no region to read it in
		{"600 111 222", "XX", "", domain.ErrPhoneInvalid},
		// Letters: never read as keypad digits, never a number the student did not write.
		{"abcdefghi", "ES", "", domain.ErrPhoneInvalid},
		{"n/a", "ES", "", domain.ErrPhoneInvalid},
		{"6OO 111 222", "ES", "", domain.ErrPhoneInvalid},
		{"600 ABC 222", "ES", "", domain.ErrPhoneInvalid},
		{"600 111 ABC", "ES", "", domain.ErrPhoneInvalid},
		{"1-800-FLOWERS", "US", "", domain.ErrPhoneInvalid},
	} {
		t.Run(tc.region+"_"+tc.raw, func(t *testing.T) {
			got, err := domain.NormalizePhone(tc.raw, tc.region)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestMaskPhone(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+34600111222", "+34*******22"},
		{"+12125550123", "+12*******23"},
		{"+525512345678", "+52********78"},
		{"+123456", "+12**56"},
		{"123456", "123*56"},
		{"12345", "*****"},
		{"+34", "***"},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := domain.MaskPhone(tc.in)
			assert.Equal(t, tc.want, got)
			assert.Len(t, got, len(tc.in))
		})
	}
}

func TestValidRegion(t *testing.T) {
	for _, tc := range []struct {
		region string
		want   bool
	}{
		{"ES", true},
		{"es", true},
		{"US", true},
		{"GB", true},
		{"MX", true},
		{"BR", true},
		{"PT", true},
		{"UK", false}, // the code is GB
		{"EU", false},
		{"XX", false},
		{"ZZ", false},
		{"001", false},
		{"ESP", false},
		{" ES", false},
		{"", false},
	} {
		t.Run(tc.region, func(t *testing.T) {
			assert.Equal(t, tc.want, domain.ValidRegion(tc.region))
		})
	}
}
