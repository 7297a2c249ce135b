from claims import payer_admin  # noqa: F401
