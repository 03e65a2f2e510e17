"""django-reqlog's ElastAlert2 rule types (imported by ElastAlert2, not by the package)."""
