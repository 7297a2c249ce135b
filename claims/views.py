from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def status_home(request: HttpRequest) -> HttpResponse:
    return render(request, "placeholder.html", {"title": "Claim status"})
