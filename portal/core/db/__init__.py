"""The portal's database backend: Django's PostgreSQL backend whose connection pool comes
back within seconds of PostgreSQL (see base.py)."""
