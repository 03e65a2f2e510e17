"""Settings and URLs of the django-reqlog example project."""
