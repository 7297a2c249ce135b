from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def desk(request: HttpRequest) -> HttpResponse:
    return render(request, "placeholder.html", {"title": "Smart visits"})
