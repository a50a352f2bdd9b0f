package app_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// The use cases against in-memory fakes; adapters/whatsapp runs them end
// to end on a real store, with the strict fake Cloud API.

// waStore is an in-memory Store (messages and students only) and
// WhatsAppStore.
type waStore struct {
	app.Store
	messages map[int64]domain.MessageLog
	students map[int64]domain.Student
	users    map[string]string
	err      error // returned by every call when set
}

func newWAStore() *waStore {
	return &waStore{messages: map[int64]domain.MessageLog{}, students: map[int64]domain.Student{}, users: map[string]string{}}
}

func (s *waStore) UpdateMessage(_ context.Context, id int64, fn func(*domain.MessageLog) error) (domain.MessageLog, error) {
	if s.err != nil {
		return domain.MessageLog{}, s.err
	}
	m, ok := s.messages[id]
	if !ok {
		return domain.MessageLog{}, app.ErrNotFound
	}
	if err := fn(&m); err != nil {
		return domain.MessageLog{}, err
	}
	s.messages[id] = m
	return m, nil
}

func (s *waStore) UpdateStudent(_ context.Context, id int64, fn func(*domain.Student) error) (domain.Student, error) {
	st, ok := s.students[id]
	if !ok {
		return domain.Student{}, app.ErrNotFound
	}
	if err := fn(&st); err != nil {
		return domain.Student{}, err
	}
	s.students[id] = st
	return st, nil
}

func (s *waStore) MessageIDByProviderID(_ context.Context, wamid string) (int64, error) {
	if s.err != nil {
		return 0, s.err
	}
	for id, m := range s.messages {
		if m.ProviderMessageID == wamid {
			return id, nil
		}
	}
	return 0, app.ErrNotFound
}

func (s *waStore) StudentsByPhoneSuffix(_ context.Context, digits string) ([]domain.Student, error) {
	var out []domain.Student
	for _, st := range s.students {
		var d []byte
		for _, r := range st.Phone {
			if r >= '0' && r <= '9' {
				d = append(d, byte(r))
			}
		}
		if bytes.HasSuffix(d, []byte(digits)) {
			out = append(out, st)
		}
	}
	return out, nil
}

func (s *waStore) LinkWhatsAppUser(_ context.Context, userID, phone string) error {
	s.users[userID] = phone
	return nil
}

func (s *waStore) PhoneByWhatsAppUser(_ context.Context, userID string) (string, error) {
	p, ok := s.users[userID]
	if !ok {
		return "", app.ErrNotFound
	}
	return p, nil
}

// waInbound records processed marks on top of ingestStore.
type waInbound struct {
	ingestStore
	processed []string
}

func (s *waInbound) MarkInboundProcessed(_ context.Context, _ time.Time, ids ...string) error {
	s.processed = append(s.processed, ids...)
	return nil
}

var waNow = time.Date(2026, time.December, 3, 10, 15, 0, 0, time.UTC)

func newWA(t *testing.T, store *waStore, inbound app.InboundStore, bus app.Bus) *app.WhatsAppWebhooks {
	t.Helper()
	wa, err := app.NewWhatsAppWebhooks(app.Settings{PhoneRegion: "ES"}, app.WhatsAppWebhookDeps{
		Store: store, WhatsApp: store, Inbound: inbound, Bus: bus,
		Now: func() time.Time { return waNow }, Logger: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	return wa
}

func TestNewWhatsAppWebhooksRefusesMissingDeps(t *testing.T) {
	s := newWAStore()
	full := app.WhatsAppWebhookDeps{Store: s, WhatsApp: s, Inbound: &waInbound{}, Bus: &ingestBus{}}
	for name, mutate := range map[string]func(*app.WhatsAppWebhookDeps){
		"store": func(d *app.WhatsAppWebhookDeps) { d.Store = nil }, "whatsapp": func(d *app.WhatsAppWebhookDeps) { d.WhatsApp = nil },
		"inbound": func(d *app.WhatsAppWebhookDeps) { d.Inbound = nil }, "bus": func(d *app.WhatsAppWebhookDeps) { d.Bus = nil },
	} {
		d := full
		mutate(&d)
		_, err := app.NewWhatsAppWebhooks(app.Settings{PhoneRegion: "ES"}, d)
		assert.Error(t, err, name)
	}
	_, err := app.NewWhatsAppWebhooks(app.Settings{PhoneRegion: "XX"}, full)
	assert.Error(t, err, "an unknown region")
}

func TestReceiveStoresThenPublishes(t *testing.T) {
	inbound, bus := &waInbound{}, &ingestBus{}
	wa := newWA(t, newWAStore(), inbound, bus)
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)

	r, err := wa.Receive.Handle(t.Context(), body)
	require.NoError(t, err)
	assert.Equal(t, app.WhatsAppEventID(body), r.ID)
	assert.Regexp(t, `^wa:[0-9a-f]{64}$`, r.ID)
	assert.False(t, r.Duplicate)
	e := inbound.events[r.ID]
	assert.Equal(t, "whatsapp", e.Source)
	assert.Equal(t, "whatsapp_webhook", e.Name)
	assert.Equal(t, body, e.Payload)
	assert.Equal(t, app.InboundReceived, e.State)
	assert.Equal(t, waNow, e.ReceivedAt)
	require.Len(t, bus.msgs, 1)
	assert.Equal(t, []string{app.TopicWhatsAppWebhooks}, bus.topic)
	assert.Equal(t, r.ID, bus.msgs[0].ID)
	assert.Equal(t, body, bus.msgs[0].Payload)
	assert.Equal(t, r.ID, bus.msgs[0].Metadata["correlation_id"])

	r, err = wa.Receive.Handle(t.Context(), body)
	require.NoError(t, err)
	assert.True(t, r.Duplicate, "Meta's re-delivery of the same body")
	assert.Len(t, bus.msgs, 1, "not published again")
}

func TestReceiveStoreFailureIsUnavailable(t *testing.T) {
	inbound := &waInbound{ingestStore: ingestStore{err: errors.New("disk full")}}
	bus := &ingestBus{}
	_, err := newWA(t, newWAStore(), inbound, bus).Receive.Handle(t.Context(), []byte(`{}`))
	assert.ErrorIs(t, err, app.ErrUnavailable)
	assert.Empty(t, bus.msgs)
}

func TestReceivePublishFailureIsNotAnError(t *testing.T) {
	inbound, bus := &waInbound{}, &ingestBus{err: errors.New("redis down")}
	r, err := newWA(t, newWAStore(), inbound, bus).Receive.Handle(t.Context(), []byte(`{}`))
	require.NoError(t, err, "stored: recovery publishes it")
	assert.Contains(t, inbound.events, r.ID)
}

func TestReceivePublishIsBounded(t *testing.T) {
	inbound, bus := &waInbound{}, &ingestBus{block: true}
	start := time.Now()
	_, err := newWA(t, newWAStore(), inbound, bus).Receive.Handle(t.Context(), []byte(`{}`))
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 3*time.Second)
}

const statusBody = `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
	"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"2"},
	"statuses":[{"id":"wamid.A","status":"delivered","timestamp":"1764756000","recipient_id":"34600111222"}]}}]}]}`

func TestProcessMovesTheRowAndMarksTheEvent(t *testing.T) {
	store, inbound := newWAStore(), &waInbound{}
	store.messages[1] = domain.MessageLog{ID: 1, Status: domain.StatusSent, ProviderMessageID: "wamid.A", To: "+34600111222"}
	wa := newWA(t, store, inbound, &ingestBus{})

	require.NoError(t, wa.Process.Handle(t.Context(), []byte(statusBody)))
	m := store.messages[1]
	assert.Equal(t, domain.StatusDelivered, m.Status)
	assert.Equal(t, time.Unix(1764756000, 0).UTC(), m.DeliveredAt, "Meta's time, not ours")
	assert.Equal(t, []string{app.WhatsAppEventID([]byte(statusBody))}, inbound.processed)

	require.NoError(t, wa.Process.Handle(t.Context(), []byte(statusBody)), "a duplicate is harmless")
	assert.Equal(t, m, store.messages[1])
}

func TestProcessStoreFailureIsReturned(t *testing.T) {
	store := newWAStore()
	store.err = app.ErrUnavailable
	inbound := &waInbound{}
	err := newWA(t, store, inbound, &ingestBus{}).Process.Handle(t.Context(), []byte(statusBody))
	assert.ErrorIs(t, err, app.ErrUnavailable, "the bus retries")
	assert.Empty(t, inbound.processed)
}

func TestProcessMalformedWebhook(t *testing.T) {
	wa := newWA(t, newWAStore(), &waInbound{}, &ingestBus{})
	for _, body := range []string{`not json`, `{"entry":{}}`, `{"entry":[{"changes":[{"value":{"statuses":{}}}]}]}`} {
		assert.ErrorIs(t, wa.Process.Handle(t.Context(), []byte(body)), app.ErrBadWebhook, body)
	}
	// Shapes it does not act on are fine.
	for _, body := range []string{`{}`, `{"object":"whatsapp_business_account","entry":[]}`,
		`{"entry":[{"changes":[{"field":"group_lifecycle_update","value":{"groups":[]}}]}]}`} {
		assert.NoError(t, wa.Process.Handle(t.Context(), []byte(body)), body)
	}
}

func TestProcessOptOutByNumber(t *testing.T) {
	store := newWAStore()
	store.students[1] = domain.Student{ID: 1, Phone: "600 111 222"}
	store.students[2] = domain.Student{ID: 2, Phone: "+44 7700 900111 222"} // ends alike, another number
	wa := newWA(t, store, &waInbound{}, &ingestBus{})
	body := `{"entry":[{"changes":[{"field":"messages","value":{"contacts":[{"wa_id":"34600111222"}],
		"messages":[{"from":"34600111222","id":"wamid.in","timestamp":"1764756000","type":"text","text":{"body":"Baja"}}]}}]}]}`
	require.NoError(t, wa.Process.Handle(t.Context(), []byte(body)))
	assert.True(t, store.students[1].OptedOut)
	assert.False(t, store.students[2].OptedOut, "the number is compared whole, in E.164")
}

func TestProcessBSUIDOnlyWithoutLinkIsIgnored(t *testing.T) {
	store := newWAStore()
	store.students[1] = domain.Student{ID: 1, Phone: "+34600111222"}
	wa := newWA(t, store, &waInbound{}, &ingestBus{})
	body := `{"entry":[{"changes":[{"field":"messages","value":{"contacts":[{"user_id":"ES.1","profile":{"name":"A"}}],
		"messages":[{"from_user_id":"ES.1","id":"wamid.in","timestamp":"1764756000","type":"text","text":{"body":"STOP"}}]}}]}]}`
	require.NoError(t, wa.Process.Handle(t.Context(), []byte(body)))
	assert.False(t, store.students[1].OptedOut)

	store.users["ES.1"] = "+34600111222"
	require.NoError(t, wa.Process.Handle(t.Context(), []byte(body)))
	assert.True(t, store.students[1].OptedOut)
}

func TestWhatsAppEventIDIsTheBodyHash(t *testing.T) {
	assert.Equal(t, "wa:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", app.WhatsAppEventID(nil))
	assert.NotEqual(t, app.WhatsAppEventID([]byte("a")), app.WhatsAppEventID([]byte("a ")))
}
