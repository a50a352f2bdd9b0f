package whatsapp_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

func TestDryRunRecordsTheTemplateRequest(t *testing.T) {
	m := domain.MessageLog{ID: 17, Template: "welcome", Language: "es", To: "+34600111222",
		Params: []string{"Ana", "Prevención de riesgos"}}

	res := whatsapp.DryRun{}.Send(context.Background(), m)

	assert.Equal(t, app.OutcomeSent, res.Outcome)
	assert.True(t, res.DryRun)
	assert.Empty(t, res.ProviderMessageID, "a dry run has no wamid")
	assert.JSONEq(t, `{
		"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+34600111222",
		"type": "template", "biz_opaque_callback_data": "msglog:17",
		"template": {"name": "welcome", "language": {"policy": "deterministic", "code": "es"},
			"components": [{"type": "body", "parameters": [
				{"type": "text", "text": "Ana"}, {"type": "text", "text": "Prevención de riesgos"}]}]}
	}`, string(res.Request))
}

func TestRequestWithoutParamsHasNoComponents(t *testing.T) {
	res := whatsapp.DryRun{}.Send(context.Background(), domain.MessageLog{ID: 1, Template: "t", Language: "en", To: "+1"})
	var body map[string]any
	require.NoError(t, json.Unmarshal(res.Request, &body))
	assert.NotContains(t, body["template"], "components")
}
