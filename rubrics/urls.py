from django.urls import path

from rubrics import apis

urlpatterns = [
    path("rubrics/", apis.RubricListCreateApi.as_view(), name="rubric-list"),
    path("rubrics/<int:rubric_id>/", apis.RubricDetailApi.as_view(), name="rubric-detail"),
    path("rubrics/<int:rubric_id>/versions/", apis.RubricVersionListApi.as_view(), name="rubric-versions"),
    path(
        "rubrics/<int:rubric_id>/versions/<int:number>/",
        apis.RubricVersionDetailApi.as_view(),
        name="rubric-version-detail",
    ),
]
