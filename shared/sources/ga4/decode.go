package ga4

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ga4Page is what one streamed runReport body said besides its rows.
type ga4Page struct {
	rows     int
	rowCount *int64
	sampled  bool
	quota    *ga4PropertyQuota
}

// ga4PageDecoder decodes one RunReportResponse token by token, holding one row at a time: rows
// become records and leave in batches as they are read. The API sends the headers before the
// rows and rowCount, metadata and propertyQuota after them (the JSON representation's order,
// https://developers.google.com/analytics/devguides/reporting/data/v1/rest/v1beta/RunReportResponse),
// but fields are read in any order: rows that come before both headers are kept undecoded
// until the headers arrive (within the page's byte cap).
type ga4PageDecoder struct {
	dec     *json.Decoder
	budget  *ga4Budget
	sampled bool // the flag records carry
	limit   int  // the rows asked for: a page with more is not the API's
	emit    func(first int, recs []map[string]any) error
	sinkErr error

	dims    []ga4DimensionHeader
	mets    []ga4MetricHeader
	hasDims bool
	hasMets bool
	held    []ga4Row // rows read before both headers

	batch      []map[string]any
	batchFirst int
	batchBytes int64
	page       ga4Page
}

func newGA4PageDecoder(r io.Reader, sampled bool, limit int, emit func(first int, recs []map[string]any) error) *ga4PageDecoder {
	b := &ga4Budget{r: r}
	dec := json.NewDecoder(b)
	return &ga4PageDecoder{dec: dec, budget: b, sampled: sampled, limit: limit, emit: emit}
}

// decode reads the whole object, hands every record on, and returns the page's figures.
func (d *ga4PageDecoder) decode() (ga4Page, error) {
	d.budget.reset()
	if err := d.expect(json.Delim('{')); err != nil {
		return d.page, err
	}
	seen := map[string]bool{}
	for {
		// Each field, and each row below, starts a new budget (More may read).
		d.budget.reset()
		if !d.dec.More() {
			break
		}
		tok, err := d.dec.Token()
		if err != nil {
			return d.page, err
		}
		key, _ := tok.(string)
		switch key {
		case "dimensionHeaders", "metricHeaders", "rows", "rowCount", "metadata", "propertyQuota":
			if seen[key] {
				return d.page, fmt.Errorf("field %q appears twice", key)
			}
			seen[key] = true
		}
		d.budget.reset()
		switch key {
		case "dimensionHeaders":
			err = d.dec.Decode(&d.dims)
			d.hasDims = true
		case "metricHeaders":
			err = d.dec.Decode(&d.mets)
			d.hasMets = true
		case "rows":
			err = d.rows()
		case "rowCount":
			err = d.dec.Decode(&d.page.rowCount)
			if err == nil && d.page.rowCount != nil && *d.page.rowCount < 0 {
				err = fmt.Errorf("rowCount %d is negative", *d.page.rowCount)
			}
		case "metadata":
			var m ga4Metadata
			err = d.dec.Decode(&m)
			d.page.sampled = len(m.SamplingMetadatas) > 0
		case "propertyQuota":
			err = d.dec.Decode(&d.page.quota)
		default:
			err = d.skip()
		}
		if err != nil {
			return d.page, d.wrap(key, err)
		}
		if err := d.release(); err != nil {
			return d.page, err
		}
	}
	if err := d.expect(json.Delim('}')); err != nil {
		return d.page, err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return d.page, errors.New("data after the response object")
	}
	d.hasDims, d.hasMets = true, true
	if err := d.release(); err != nil {
		return d.page, err
	}
	return d.page, d.flush()
}

func (d *ga4PageDecoder) wrap(key string, err error) error {
	if errors.Is(err, errGA4RowTooLarge) || d.sinkErr != nil {
		return err
	}
	return fmt.Errorf("field %q: %w", key, err)
}

func (d *ga4PageDecoder) expect(want json.Delim) error {
	tok, err := d.dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("got %v where %v was expected", tok, want)
	}
	return nil
}

// rows reads the rows array one row at a time.
func (d *ga4PageDecoder) rows() error {
	tok, err := d.dec.Token()
	if err != nil || tok == nil {
		return err // null: no rows
	}
	if tok != json.Delim('[') {
		return fmt.Errorf("rows is %v, not an array", tok)
	}
	for {
		d.budget.reset()
		if !d.dec.More() {
			break
		}
		start := d.dec.InputOffset() + d.separator()
		var row ga4Row
		if err := d.dec.Decode(&row); err != nil {
			return fmt.Errorf("row %d: %w", d.page.rows, err)
		}
		size := d.dec.InputOffset() - start
		if size > GA4MaxRowBytes {
			return fmt.Errorf("row %d: %w", d.page.rows, errGA4RowTooLarge)
		}
		if d.page.rows++; d.page.rows > d.limit {
			return fmt.Errorf("the page has more rows than the %d asked for", d.limit)
		}
		if !d.hasDims || !d.hasMets {
			d.held = append(d.held, row)
			continue
		}
		if err := d.add(row, size); err != nil {
			return err
		}
	}
	_, err = d.dec.Token()
	return err
}

// separator is the bytes (a comma and blanks) Decode skips before the next value: they are not
// the row's.
func (d *ga4PageDecoder) separator() int64 {
	var head [16]byte
	n, _ := io.ReadFull(d.dec.Buffered(), head[:])
	i := 0
	for i < n && strings.IndexByte(", \t\r\n", head[i]) >= 0 {
		i++
	}
	return int64(i)
}

// release types the rows held for the headers once both are in.
func (d *ga4PageDecoder) release() error {
	if len(d.held) == 0 || !d.hasDims || !d.hasMets {
		return nil
	}
	held := d.held
	d.held = nil
	for _, row := range held {
		if err := d.add(row, 0); err != nil {
			return err
		}
	}
	return nil
}

// add types one row and sends the batch when it is full.
func (d *ga4PageDecoder) add(row ga4Row, size int64) error {
	index := d.batchFirst + len(d.batch)
	rec, err := ga4Record(d.dims, d.mets, row, d.sampled)
	if err != nil {
		return fmt.Errorf("row %d%w", index, err)
	}
	d.batch = append(d.batch, rec)
	d.batchBytes += size
	if len(d.batch) >= GA4BatchRows || d.batchBytes >= GA4BatchBytes {
		return d.flush()
	}
	return nil
}

func (d *ga4PageDecoder) flush() error {
	if len(d.batch) == 0 {
		return nil
	}
	if err := d.emit(d.batchFirst, d.batch); err != nil {
		d.sinkErr = err
		return err
	}
	d.batchFirst += len(d.batch)
	// A new slice: the sink may keep the one it was given.
	d.batch, d.batchBytes = nil, 0
	return nil
}

// skip reads past one value token by token, so a large field this decoder has no use for
// (totals, maximums, minimums, kind) is never held whole.
func (d *ga4PageDecoder) skip() error {
	depth := 0
	for {
		d.budget.reset()
		tok, err := d.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// ga4Budget fails a read once more than ga4MaxValueBytes were read since the last reset: the
// decoder reads only when the value it is decoding does not fit in what it holds, so no value
// (a row, a header list, a token) makes it hold more than about twice that. Rows have the exact
// bound GA4MaxRowBytes (checked once decoded); this one is the backstop for every value, with
// room for the decoder's read-ahead.
type ga4Budget struct {
	r    io.Reader
	used int64
}

func (b *ga4Budget) reset() { b.used = 0 }

func (b *ga4Budget) Read(p []byte) (int, error) {
	if b.used >= ga4MaxValueBytes {
		return 0, errGA4RowTooLarge
	}
	if rest := ga4MaxValueBytes - b.used; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.used += int64(n)
	return n, err
}
