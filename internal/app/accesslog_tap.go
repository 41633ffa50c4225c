package app

import (
	"errors"

	"github.com/trellis-net/trellis/internal/api"
	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/model"
)

// accessLogTap hands the API (GET /trellis/v1/access-logs/stream) the
// access logger's live taps, so that the API does not import the data
// plane.
type accessLogTap struct{ taps *accesslog.Taps }

var _ api.AccessLogTap = accessLogTap{}

// The quota of live streams. A limit on how many streams are open at once
// is a quota on a count of held resources, not a rate:
// ServiceQuotaExceededException (402), as Lattice answers a create beyond
// a count. ThrottlingException (429) would tell the SDKs' standard retryer
// to retry at once, which cannot succeed until a stream ends.
const (
	tapResourceType     = "ACCESS_LOG_STREAM"
	tapQuotaPerAccount  = "access-log-streams-per-account"
	tapQuotaInstallWide = "access-log-streams"
)

func (t accessLogTap) Open(account, resourceARN string) (api.AccessLogFeed, error) {
	tp, err := t.taps.Open(account, resourceARN)
	var le *accesslog.TapLimitError
	switch {
	case errors.As(err, &le):
		code := tapQuotaInstallWide
		if le.PerAccount {
			code = tapQuotaPerAccount
		}
		return nil, &model.Error{Kind: model.KindQuota, ResourceType: tapResourceType, QuotaCode: code,
			Message: le.Error() + "; end one (trellis logs tail) and try again"}
	case err != nil:
		return nil, &model.Error{Kind: model.KindInternal, Message: "the server is stopping: " + err.Error()}
	}
	return tp, nil
}
