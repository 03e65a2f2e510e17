from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter
from shop import views

# Path-style URL patterns (DRF >= 3.15) make readable routes in the events:
# "api/items/<str:pk>/" rather than a regular expression.
router = DefaultRouter(use_regex_path=False)
router.register("items", views.ItemViewSet)

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    # Liveness probe for load balancers and the demo; not logged (REQLOG_SKIP_PATHS).
    path("health/live", views.health, name="health-live"),
    # A keep-alive the front end polls, left out with @django_reqlog.skip.
    path("api/ping/", views.ping, name="ping"),
    path("api/login/", views.LoginView.as_view(), name="login"),
    path("api/logout/", views.LogoutView.as_view(), name="logout"),
    path("api/signup/", views.SignupView.as_view(), name="signup"),
    path("api/me/", views.me, name="me"),
    path("api/boom/", views.boom, name="boom"),
    path("api/upload/", views.UploadView.as_view(), name="upload"),
    path("api/export.csv", views.export_csv, name="export"),
    path("api/async/", views.async_stock, name="async-stock"),
    path("api/slow/", views.slow, name="slow"),
    path("api/", include(router.urls)),
]
