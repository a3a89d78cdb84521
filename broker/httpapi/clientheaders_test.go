package httpapi

import (
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"
)

func TestClientHeaders(t *testing.T) {
	var got map[string]string
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error {
		got = clientHeaders(c, []string{"X-Forwarded-For", "X-Tenant", "X-Absent"})
		return nil
	})
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("x-forwarded-for", "10.1.2.3")
	req.Header.Set("X-Tenant", "t7")
	req.Header.Set("X-Other", "not passed")
	req.Header.Set("Authorization", "Bearer secret")
	if _, err := app.Test(req); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["X-Forwarded-For"] != "10.1.2.3" || got["X-Tenant"] != "t7" {
		t.Fatalf("headers %v", got)
	}
	if clientHeaders(nil, nil) != nil {
		t.Fatal("no names should give nil")
	}
}
