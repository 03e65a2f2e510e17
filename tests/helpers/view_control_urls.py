from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import SimpleRouter

import django_reqlog
from tests.helpers import view_control_views as v

router = SimpleRouter(use_regex_path=False)
router.register("items", v.ItemViewSet, basename="item")
router.register("quiet", v.QuietViewSet, basename="quiet")

urlpatterns = [
    path("plain/", v.plain),
    path("skipped/", v.skipped),
    path("async-skipped/", v.async_skipped),
    path("skipped-boom/", v.skipped_boom),
    path("no-body/", v.no_body),
    path("with-body/", v.with_body),
    path("form-no-body/", v.form_no_body),
    path("form-with-body/", v.form_with_body),
    path("async-response-body/", v.async_response_body),
    path("same-json/", v.same_json),
    path("never-sampled/", v.never_sampled),
    path("cbv/skipped-dispatch/", v.SkippedDispatch.as_view()),
    path("cbv/response-body/", v.ResponseBodyView.as_view()),
    path("cbv/plain/", v.PlainView.as_view()),
    path("cbv/as-view-skipped/", django_reqlog.skip(v.PlainView.as_view())),
    path("binds/", v.binds),
    path("async-binds/", v.async_binds),
    path("binds-echo/", v.binds_echo),
    path("binds-everything/", v.binds_everything),
    path("binds-then-fails/", v.binds_then_fails),
    path("queries/", v.queries),
    path("failing-query/", v.failing_query),
    path("async-queries/", v.async_queries),
    path("no-queries/", v.no_queries),
    path("api/", include(router.urls)),
]
