from django.urls import path

from claims import views

app_name = "claims"
urlpatterns = [
    path("", views.status_home, name="status_home"),
    path("payer/", views.payer_list, name="payer_list"),
]
