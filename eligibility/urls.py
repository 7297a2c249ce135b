from django.urls import path

from eligibility import views

app_name = "eligibility"
urlpatterns = [path("", views.home, name="home")]
