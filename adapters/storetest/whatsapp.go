package storetest

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// WhatsAppStore is a store with the WhatsApp webhooks' queries.
type WhatsAppStore interface {
	app.Store
	app.WhatsAppStore
}

var whatsAppTests = []struct {
	name string
	run  func(t *testing.T, s WhatsAppStore)
}{
	{"MessageIDByProviderID", testMessageIDByProviderID},
	{"StudentsByPhoneSuffix", testStudentsByPhoneSuffix},
	{"StudentsByPhoneSuffix/RefusesShortOrNonDigits", testStudentsByPhoneSuffixArgs},
	{"WhatsAppUsers", testWhatsAppUsers},
}

// RunWhatsApp runs the contract of app.WhatsAppStore. open gives each test a
// store of its own: empty, migrated, and closed when the test ends.
func RunWhatsApp(t *testing.T, open func(t *testing.T) WhatsAppStore) {
	for _, tc := range whatsAppTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

func testMessageIDByProviderID(t *testing.T, s WhatsAppStore) {
	ctx := t.Context()
	f := seed(t, s, 1)
	row := insertOne(t, s, f.message("welcome", base))
	other := insertOne(t, s, f.message("progress", base))

	_, err := s.MessageIDByProviderID(ctx, "wamid.A")
	require.ErrorIs(t, err, app.ErrNotFound, "no row has a wamid yet")

	_, err = s.UpdateMessage(ctx, row.ID, func(m *domain.MessageLog) error {
		m.ProviderMessageID = "wamid.A"
		return nil
	})
	require.NoError(t, err)
	_, err = s.UpdateMessage(ctx, other.ID, func(m *domain.MessageLog) error {
		m.ProviderMessageID = "wamid.B"
		return nil
	})
	require.NoError(t, err)

	id, err := s.MessageIDByProviderID(ctx, "wamid.A")
	require.NoError(t, err)
	assert.Equal(t, row.ID, id)
	id, err = s.MessageIDByProviderID(ctx, "wamid.B")
	require.NoError(t, err)
	assert.Equal(t, other.ID, id)
	_, err = s.MessageIDByProviderID(ctx, "wamid.a")
	assert.ErrorIs(t, err, app.ErrNotFound, "wamids are compared exactly")
}

func testStudentsByPhoneSuffix(t *testing.T, s WhatsAppStore) {
	ctx := t.Context()
	phones := map[int64]string{
		1: "+34 600 111 222",
		2: "600-111-222",
		3: "(0034) 600.111.222",
		4: "0034600111222",
		5: "+34600111333",
		6: "",
		7: "+1 650 555 1234",
		8: "+34 600 111 222 ",
		9: "600/111/222",
	}
	byMoodle := map[int64]int64{}
	for moodleID, phone := range phones {
		st := newStudent(moodleID)
		st.Phone = phone
		got, err := s.UpsertStudent(ctx, st)
		require.NoError(t, err)
		byMoodle[moodleID] = got.ID
	}
	find := func(digits string) []int64 {
		t.Helper()
		students, err := s.StudentsByPhoneSuffix(ctx, digits)
		require.NoError(t, err)
		var ids []int64
		for _, st := range students {
			assert.Equal(t, phones[st.MoodleUserID], st.Phone, "whole rows come back")
			ids = append(ids, st.ID)
		}
		return ids
	}
	ids := func(moodleIDs ...int64) []int64 {
		var out []int64
		for _, m := range moodleIDs {
			out = append(out, byMoodle[m])
		}
		slices.Sort(out)
		return out
	}
	assert.Equal(t, ids(1, 2, 3, 4, 8, 9), find("111222"), "every way of writing the number, by id")
	assert.Equal(t, ids(1, 3, 4, 8), find("34600111222"), "the country code only where it was written")
	assert.Equal(t, ids(5), find("111333"))
	assert.Equal(t, ids(7), find("6505551234"))
	assert.Empty(t, find("999999"))
	assert.Empty(t, find("0034600111222999"), "longer than every phone")
}

func testStudentsByPhoneSuffixArgs(t *testing.T, s WhatsAppStore) {
	for _, digits := range []string{"", "12345", "+34600111222", "600 111 222", "60011122%", "6001112_2"} {
		_, err := s.StudentsByPhoneSuffix(t.Context(), digits)
		assert.Error(t, err, "%q", digits)
	}
}

func testWhatsAppUsers(t *testing.T, s WhatsAppStore) {
	ctx := t.Context()
	_, err := s.PhoneByWhatsAppUser(ctx, "ES.1502576394655843")
	require.ErrorIs(t, err, app.ErrNotFound)

	require.NoError(t, s.LinkWhatsAppUser(ctx, "ES.1502576394655843", "+34600111222"))
	require.NoError(t, s.LinkWhatsAppUser(ctx, "ES.1502576394655843", "+34600111222"), "linking again is harmless")
	require.NoError(t, s.LinkWhatsAppUser(ctx, "US.ENT.11815799212886844830", "+16505551234"))
	phone, err := s.PhoneByWhatsAppUser(ctx, "ES.1502576394655843")
	require.NoError(t, err)
	assert.Equal(t, "+34600111222", phone)

	require.NoError(t, s.LinkWhatsAppUser(ctx, "ES.1502576394655843", "+34600111333"), "the latest number wins")
	phone, err = s.PhoneByWhatsAppUser(ctx, "ES.1502576394655843")
	require.NoError(t, err)
	assert.Equal(t, "+34600111333", phone)
	phone, err = s.PhoneByWhatsAppUser(ctx, "US.ENT.11815799212886844830")
	require.NoError(t, err)
	assert.Equal(t, "+16505551234", phone)

	assert.Error(t, s.LinkWhatsAppUser(ctx, "", "+34600111222"), "an empty id")
	assert.Error(t, s.LinkWhatsAppUser(ctx, "ES.1", "600111222"), "a number without +")
	assert.Error(t, s.LinkWhatsAppUser(ctx, "ES.1", "+34 600"), "a number with a space")
}
