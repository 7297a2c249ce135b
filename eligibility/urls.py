from django.urls import path

from eligibility import views

app_name = "eligibility"
urlpatterns = [
    path("", views.home, name="home"),
    path("lookups/<int:pk>/", views.result, name="result"),
    path("lookups/<int:pk>/check-again/", views.check_again, name="check_again"),
    path("coverages/<int:pk>/apply/", views.apply, name="apply"),
]
