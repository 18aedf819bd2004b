-- Issue 11: a secret may be bound to the hosts its value may be sent to by ctx.fetch.
-- One pattern per line (api.stripe.com, *.example.com); NULL: unbound, as before.
-- On the head, not a version: a binding change is metadata, not a new value.
ALTER TABLE ext_secret_heads ADD COLUMN allowed_hosts TEXT;
