import platform

import django
from django.http import HttpResponse
from django.utils.html import escape


def index(request):
    """The example's one page: which Django answered, from which container."""
    body = (
        "<!doctype html><title>spin-docker django</title>"
        f"<h1>Hello from Django {escape(django.get_version())}</h1>"
        f"<p>Served by gunicorn in container {escape(platform.node())} (Python {escape(platform.python_version())}).</p>"
        "<p>Replace /srv/app with your own project: see images/django/README.md.</p>"
    )
    return HttpResponse(body)
