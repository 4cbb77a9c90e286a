package collectevents

// RequestPeakBytes bounds the memory one request takes at its peak when bodies are at most
// maxBody bytes, as resident memory (the garbage collector's headroom included). A request holds
// the valid events it has read (at most the body) and the event being read: the JSON decoder
// buffers one whole top-level value, in a buffer that grows by doubling, so one event as large
// as the body is the worst case (measured by scripts/bench --only collect). Terraform refuses a
// CollectEvents whose memory cannot hold its concurrency times this (functions.tf).
func RequestPeakBytes(maxBody int64) int64 {
	return requestPeakPerBodyByte*maxBody + requestPeakFixed
}

// The terms of RequestPeakBytes; terraform/functions.tf repeats them (a test compares).
const (
	requestPeakPerBodyByte = 3
	requestPeakFixed       = 1 << 20
)

// InstanceBaseBytes is what an instance takes besides its requests: the runtime, the clients
// and the publisher's requests in flight (up to 25 per vCPU of at most 1 MB each, the client's
// defaults that shared/publish keeps).
const InstanceBaseBytes = 128 << 20
