"""gunicorn settings of the web process (the Procfile's web line), every value from the environment."""

import os

bind = f"{os.environ.get('WEB_BIND', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
accesslog = "-"
# gunicorn's largest request line (its default is 4094): the API's filters, at the longest their
# schema allows, percent-encoded, fit in it. A longer line gets gunicorn's own 414 (documented).
limit_request_line = 8190
