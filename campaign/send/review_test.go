package send_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/smsblast/smsblast/campaign"
	"github.com/smsblast/smsblast/campaign/send"
	"github.com/smsblast/smsblast/twilio/twiliosim"
)

// reviewRow is a recipient with what review needs.
type reviewRow struct {
	status, sid, msg string
}

func reviewRows(t *testing.T, b *bundle, campaignID int64) map[string]reviewRow {
	t.Helper()
	rows, err := b.st.Pool().Query(context.Background(), `
		SELECT phone, status, coalesce(message_sid, ''), coalesce(error_message, '')
		FROM recipients WHERE campaign_id = $1`, campaignID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]reviewRow{}
	for rows.Next() {
		var p string
		var r reviewRow
		if err := rows.Scan(&p, &r.status, &r.sid, &r.msg); err != nil {
			t.Fatal(err)
		}
		out[p] = r
	}
	return out
}

// An account with message redaction and answers lost: every lost answer's
// message is in the list with its body (and the number's last digits)
// redacted, so reconciliation cannot prove it is the attempt's. Those
// recipients go to review with the candidate's sid — never re-sent, so
// nobody gets two messages — and the campaign still completes.
func TestRedactedListLeavesLostAnswersForReview(t *testing.T) {
	t.Parallel()
	b := setup(t, twiliosim.Options{
		Redact:       twiliosim.Redaction{Body: true, Phone: true},
		LoseResponse: 0.1, Fail5xx: 0.05,
	})
	c := b.newCampaign(t, validFrom, 300)
	ctx := context.Background()
	sum, err := b.engine(t, send.Config{}).Run(ctx, ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Done {
		t.Fatalf("not done: %+v", sum)
	}
	lost := b.sim.Stats().LostResponses
	if lost == 0 || b.sim.Stats().ServerErrors == 0 {
		t.Fatalf("simulator stats %+v: want lost answers and 5xx", b.sim.Stats())
	}
	if sum.Stats.Review != lost || sum.Stats.Found != 0 {
		t.Errorf("stats %+v: want %d in review (every lost answer), none found (bodies are redacted)", sum.Stats, lost)
	}

	review := 0
	for phone, r := range reviewRows(t, b, c.ID) {
		msgs := b.sim.MessagesTo(phone)
		if len(msgs) != 1 {
			t.Errorf("%s: %s with %d messages in Twilio, want exactly 1", phone, r.status, len(msgs))
			continue
		}
		if r.sid != msgs[0].SID {
			t.Errorf("%s: %s with sid %q, Twilio's is %s", phone, r.status, r.sid, msgs[0].SID)
		}
		switch r.status {
		case "review":
			review++
			if !strings.Contains(r.msg, msgs[0].SID) || !strings.Contains(r.msg, "smsblast resolve") {
				t.Errorf("%s: review reason %q does not name the candidate and the way out", phone, r.msg)
			}
		case "accepted", "sent", "delivered":
		default:
			t.Errorf("%s: %s, want accepted or review", phone, r.status)
		}
	}
	if int64(review) != lost {
		t.Errorf("%d recipients in review, want %d (the lost answers)", review, lost)
	}
	var audited int64
	if err := b.st.Pool().QueryRow(ctx, `
		SELECT count(*) FROM send_attempts WHERE campaign_id = $1 AND outcome = 'review' AND message_sid IS NOT NULL`,
		c.ID).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != lost {
		t.Errorf("send_attempts: %d review verdicts, want %d", audited, lost)
	}
	got, err := b.st.CampaignByName(ctx, "c1")
	if err != nil || got.Status != campaign.StatusCompleted {
		t.Errorf("campaign %+v, %v: want completed (review rows are not work left to send)", got, err)
	}
}

// Another campaign from the same number texted the same people a moment
// ago. This campaign's first requests get a 5xx and create nothing. With
// bodies visible, the other campaign's messages are told apart by their
// body and the recipients are sent; with bodies redacted they cannot be,
// and the recipients wait for a person instead of being guessed either way.
func TestAnotherCampaignsMessageIsNotTakenForOurs(t *testing.T) {
	t.Parallel()
	for _, redact := range []bool{false, true} {
		t.Run(fmt.Sprintf("redacted=%v", redact), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			failed := map[string]bool{} // the phones whose first create for c2 got a 500
			var failFirst bool
			firstFails := func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPost {
						_ = r.ParseForm()
						to := r.PostForm.Get("To")
						mu.Lock()
						fail := failFirst && !failed[to]
						failed[to] = true
						mu.Unlock()
						if fail {
							w.Header().Set("Content-Type", "application/json")
							w.WriteHeader(http.StatusInternalServerError)
							_, _ = w.Write([]byte(`{"code": 20500, "message": "Internal Server Error", "more_info": "https://www.twilio.com/docs/errors/20500", "status": 500}`))
							return
						}
					}
					next.ServeHTTP(w, r)
				})
			}
			b := setupWith(t, twiliosim.Options{Redact: twiliosim.Redaction{Body: redact}}, firstFails)
			ctx := context.Background()
			first := b.newCampaign(t, validFrom, 10)
			if sum, err := b.engine(t, send.Config{}).Run(ctx, ctx, "c1"); err != nil || !sum.Done {
				t.Fatalf("first campaign: %+v, %v", sum, err)
			}

			second := &campaign.Campaign{Name: "c2", From: validFrom, BodyTemplate: "Reminder for {{.name}}", Rate: 1e6, Concurrency: 4, MaxAttempts: 5}
			if err := b.st.CreateCampaign(ctx, second); err != nil {
				t.Fatal(err)
			}
			var rows [][]any
			for i := range 10 {
				rows = append(rows, []any{second.ID, fmt.Sprintf("+1415555%04d", i), map[string]string{"name": fmt.Sprint(i)}})
			}
			if _, err := b.st.Pool().CopyFrom(ctx, pgx.Identifier{"recipients"}, []string{"campaign_id", "phone", "attrs"}, pgx.CopyFromRows(rows)); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			failFirst = true
			clear(failed)
			mu.Unlock()
			sum, err := b.engine(t, send.Config{}).Run(ctx, ctx, "c2")
			if err != nil || !sum.Done {
				t.Fatalf("second campaign: %+v, %v", sum, err)
			}
			firstRows := reviewRows(t, b, first.ID)
			for phone, r := range reviewRows(t, b, second.ID) {
				msgs := b.sim.MessagesTo(phone)
				if !redact {
					// The first campaign's message has another body: ours
					// was not sent, so it is sent now, once.
					if len(msgs) != 2 || r.status != "accepted" || r.sid != msgs[1].SID {
						t.Errorf("%s: %s sid %s with %d messages; want accepted with the second message", phone, r.status, r.sid, len(msgs))
					}
					continue
				}
				// Redacted: the first campaign's message may be ours for all
				// the list can tell. Nothing is re-sent; a person decides.
				if len(msgs) != 1 || r.status != "review" || r.sid != firstRows[phone].sid {
					t.Errorf("%s: %s sid %s with %d messages; want review of the first campaign's %s", phone, r.status, r.sid, len(msgs), firstRows[phone].sid)
				}
			}
		})
	}
}
