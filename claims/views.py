from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def payer_list(request: HttpRequest) -> HttpResponse:
    return render(request, "placeholder.html", {"title": "Payer claims"})
