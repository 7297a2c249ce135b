from django.urls import path

from smartlink import views

app_name = "smartlink"
urlpatterns = [path("", views.desk, name="desk")]
