"""The demo's page at ``/``: send a JSON or CSV batch of contracts and watch it being processed."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def index(request: HttpRequest) -> HttpResponse:
    """The page; the endpoints it calls are resolved here so the JavaScript holds no URLs."""
    endpoints = {
        "sync": reverse("contract-list"),
        "bulk": reverse("contract-bulk"),
    }
    return render(request, "index.html", {"endpoints": endpoints})
