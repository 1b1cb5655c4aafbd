package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/failforward/failforward/internal/experiments"
	"github.com/failforward/failforward/internal/httperr"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Error codes the API answers with beside those of the domain.
const (
	codeMalformed     = "malformed"
	codeTooLarge      = "too_large"
	codeUnsupported   = "unsupported_media_type"
	codeMethodMissing = "not_found"
)

// errorBody is the JSON shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// apiError is an error the HTTP layer itself raises, with its status.
type apiError struct {
	status int
	detail errorDetail
}

func (e *apiError) Error() string { return e.detail.Message }

func badRequest(code, field, format string, args ...any) error {
	return &apiError{http.StatusBadRequest, errorDetail{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}}
}

// writeError answers err as JSON with the status httperr gives its kind.
// Only internal errors are logged, and their text is never shown to the
// user.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		writeJSON(w, ae.status, errorBody{ae.detail})
		return
	}
	p := httperr.Answer(w, r, s.log, err)
	writeJSON(w, p.Status, errorBody{errorDetail{Code: p.Code, Message: p.Message, Field: p.Field}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	// The body is encoded whole first and written at once, with its
	// length: a large answer (a dashboard of many months) then takes a
	// write or two rather than one per few kilobytes, and no chunking.
	buf := jsonBuffers.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			buf.Reset()
			jsonBuffers.Put(buf)
		}
	}()
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // our answers always encode; what did is sent as it was
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // the client went away; nothing to tell it
}

// jsonBuffers are writeJSON's buffers, kept for the next answer unless
// one grew past maxPooledBuffer.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBuffer = 4 << 20

// decode reads a JSON body into dst strictly: one object, no unknown
// fields, at most MaxBodyBytes.
func decode(w http.ResponseWriter, r *http.Request, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &apiError{http.StatusUnsupportedMediaType, errorDetail{Code: codeUnsupported, Message: "send the body as application/json"}}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return badRequest(codeMalformed, "", "the body must hold one JSON object and nothing after it")
		}
		return nil
	}
	var (
		maxErr    *http.MaxBytesError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &maxErr):
		return &apiError{http.StatusRequestEntityTooLarge, errorDetail{Code: codeTooLarge, Message: fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes)}}
	case errors.As(err, &syntaxErr):
		return badRequest(codeMalformed, "", "the body is not valid JSON (at byte %d)", syntaxErr.Offset)
	case errors.Is(err, io.EOF):
		return badRequest(codeMalformed, "", "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest(codeMalformed, "", "the body ends in the middle of a JSON value")
	case errors.As(err, &typeErr):
		return badRequest(string(experiments.CodeInvalid), typeErr.Field, "must be a JSON %s", typeErr.Type.Kind())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for unknown fields; its message
		// is the only place the field's name is given.
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequest(string(experiments.CodeInvalid), field, "is not a field of this request")
	}
	return badRequest(codeMalformed, "", "the body cannot be read as this request: %v", err)
}
