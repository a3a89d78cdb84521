package broker

import (
	"reflect"
	"testing"

	"github.com/chute-dev/chute/api"
)

// TestNewCreateRequestCopiesEveryField fills every field of the wire body
// and checks that the use case's input carries each one: a field added to
// api.CreateRequest and forgotten here (or in NewCreateRequest) fails.
func TestNewCreateRequestCopiesEveryField(t *testing.T) {
	size := int64(7)
	w := api.CreateRequest{
		Filename: "a.mp4", ContentType: "video/mp4", Size: &size, Profile: "p",
		Metadata: map[string]string{"k": "v"}, Checksum: &api.ChecksumRequest{Algorithm: "SHA256", Value: "x"},
	}
	wv := reflect.ValueOf(w)
	for i := range wv.NumField() {
		if wv.Field(i).IsZero() {
			t.Fatalf("the test leaves api.CreateRequest.%s zero: fill it", wv.Type().Field(i).Name)
		}
	}
	got := reflect.ValueOf(NewCreateRequest(w, map[string]string{"X-Tenant": "t"}))
	for i := range wv.NumField() {
		name := wv.Type().Field(i).Name
		f := got.FieldByName(name)
		if !f.IsValid() {
			t.Errorf("CreateRequest has no field %s", name)
			continue
		}
		if !reflect.DeepEqual(f.Interface(), wv.Field(i).Interface()) {
			t.Errorf("CreateRequest.%s = %v, want %v", name, f.Interface(), wv.Field(i).Interface())
		}
	}
	if got.FieldByName("ClientHeaders").Len() != 1 {
		t.Error("ClientHeaders not kept")
	}
}
