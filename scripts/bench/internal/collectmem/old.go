package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/pipelinekit/pipelinekit/functions/collectevents"
	"github.com/pipelinekit/pipelinekit/shared/event"
	"github.com/pipelinekit/pipelinekit/shared/publish"
)

// oldCollector is CollectEvents' request path before the body was decoded incrementally
// (functions/collectevents at 94a5384), its memory behaviour intact: the body is read whole
// into a buffer grown to its Content-Length (and doubled by the read's last probe), a JSON body
// is split into a copy of each event, NDJSON into slices of the body, every event is parsed and
// its parsed form (properties included) kept until publishing. Error answers are simplified:
// the benchmark sends only valid bodies.
type oldCollector struct {
	pub    *holdingPublisher
	limits collectevents.Limits
}

func (c *oldCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, c.limits.MaxBodyBytes)); err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	body := buf.Bytes()
	var items [][]byte
	if r.Header.Get("Content-Type") == "application/x-ndjson" {
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				items = append(items, line)
			}
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		if bytes.TrimSpace(body)[0] == '{' {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			items = append(items, raw)
		} else {
			if _, err := dec.Token(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			for dec.More() {
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				items = append(items, raw)
			}
		}
	}
	writeJSON(w, c.process(r.Context(), items))
}

type oldCandidate struct {
	index int
	event *event.AppEvent
	data  []byte
}

func (c *oldCollector) process(ctx context.Context, items [][]byte) *collectevents.Response {
	now := time.Now()
	resp := &collectevents.Response{Results: make([]collectevents.Result, len(items))}
	var cands []oldCandidate
	for i, data := range items {
		res := &resp.Results[i]
		res.Index = i
		ev, err := event.ParseAppEvent(data, now)
		if err != nil {
			res.Status = collectevents.StatusRejected
			var ie *event.InvalidError
			if errors.As(err, &ie) {
				res.Field, res.Reason = ie.Field, ie.Reason
			}
			resp.Rejected++
			continue
		}
		res.ID = ev.ID
		cands = append(cands, oldCandidate{index: i, event: ev, data: data})
	}
	msgs := make([]publish.Message, len(cands))
	for i, cd := range cands {
		msgs[i] = publish.Message{Data: cd.data, Attributes: event.Attributes(cd.event.ContractKind(), event.SourceApp, "", cd.event.ID)}
	}
	if len(msgs) > 0 {
		c.pub.PublishAll(ctx, msgs)
	}
	for _, cd := range cands {
		resp.Results[cd.index].Status = collectevents.StatusAccepted
		resp.Accepted++
	}
	return resp
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}
