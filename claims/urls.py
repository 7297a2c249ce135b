from django.urls import path

from claims import payer_urls, views

app_name = "claims"
urlpatterns = [
    path("", views.status_home, name="status_home"),
]
urlpatterns += payer_urls.urlpatterns
