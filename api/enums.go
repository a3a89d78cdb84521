package api

// The values of the enumerated strings of the wire. The generator writes
// them into the shared schemas State, Strategy, ErrorCode and
// ChecksumAlgorithm; tests in broker/httpapi hold the server's own
// constants (broker.Code, session.State, session.Strategy,
// checksum.All) to these lists.

// States are the values of Status.State, in a session's order of life.
var States = []string{"pending", "uploading", "completing", "completed", "aborted", "expired", "rejected"}

// Strategies are the values of Status.Strategy and CreateResult.Strategy.
var Strategies = []string{"single", "multipart"}

// ErrorCodes are the values of ErrorBody.Code; each has one HTTP status.
var ErrorCodes = []string{
	"invalid_request", "unauthorized", "forbidden", "not_found", "conflict", "too_large",
	"unsupported_type", "incomplete", "rejected", "rate_limited", "quota_exceeded",
	"storage_unavailable", "internal",
}

// ChecksumAlgorithms are the values of ChecksumRequest.Algorithm and
// Checksum.Algorithm.
var ChecksumAlgorithms = []string{"CRC64NVME", "CRC32C", "CRC32", "SHA256", "SHA1"}
