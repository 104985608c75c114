"""A Django project as an app would configure rotation-relay (docs/python-subscriber.md)."""
import os

SECRET_KEY = "test-only"
INSTALLED_APPS = ["tests.django_project.loadapp"]
USE_TZ = True
DATABASES = {
    "default": {
        "ENGINE": "rotation_relay.django.postgresql",
        "HOST": os.environ["RR_PG_HOST"], "PORT": os.environ["RR_PG_PORT"], "NAME": "postgres",
        "USER": "", "PASSWORD": "",  # from the secret
        "CONN_MAX_AGE": 0,  # a new connection per request: every login meets the rotation
        # connect_timeout: a login never hangs past a worker's stop timeout (serve.py).
        "OPTIONS": {"ROTATION_SECRET": "db", "connect_timeout": 5},
    }
}
CACHES = {
    "default": {
        "BACKEND": "rotation_relay.django.cache.RedisCache",
        "LOCATION": f"redis://127.0.0.1:{os.environ['RR_CACHE_REDIS_PORT']}/0",
        "OPTIONS": {"ROTATION_SECRET": "cache", "SOCKET_CONNECT_TIMEOUT": 5, "SOCKET_TIMEOUT": 5},
    }
}
EMAIL_BACKEND = "rotation_relay.django.email.EmailBackend"
EMAIL_HOST = os.environ["RR_SMTP_HOST"]
EMAIL_PORT = int(os.environ["RR_SMTP_PORT"])
EMAIL_ROTATION_SECRET = "mail"
EMAIL_TIMEOUT = 5  # seconds, for connect and every SMTP reply
ROTATION_RELAY = {
    "SECRETS": {"db": os.environ["RR_SECRET_DB"], "cache": os.environ["RR_SECRET_CACHE"], "mail": os.environ["RR_SECRET_MAIL"]},
    "HEARTBEAT_INTERVAL_SECONDS": 1, "PRESENCE_TTL_SECONDS": 5,
    # REDIS_URL and SIGNING_KEYS: ROTATION_RELAY_REDIS_URL / ROTATION_RELAY_SIGNING_KEYS
}
