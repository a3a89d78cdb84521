package wiring

import (
	"reflect"
	"testing"

	"github.com/chute-dev/chute/config"
)

// TestBrokerProfileComplete fails when broker.Profile gains a field that
// Profile doesn't fill from the configuration: every field of a
// configuration profile is set, and every field of the broker's profile
// must come out set.
func TestBrokerProfileComplete(t *testing.T) {
	var p config.Profile
	fill(reflect.ValueOf(&p).Elem())
	bp := reflect.ValueOf(Profile("images", p))
	for i := range bp.NumField() {
		if bp.Field(i).IsZero() {
			t.Errorf("broker.Profile.%s is not filled from the configuration", bp.Type().Field(i).Name)
		}
	}
}

// fill sets every field reachable from v to a non-zero value.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	}
}
