"""ENGINE "rotation_relay.django.postgresql": Django's PostgreSQL backend with rotating credentials."""
