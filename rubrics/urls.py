from django.urls import path

from rubrics import apis

urlpatterns = [
    path("rubrics/", apis.RubricListCreateApi.as_view(), name="rubric-list"),
    # Before rubrics/<int:rubric_id>/ so a future change of converter cannot swallow it.
    path("rubrics/from-template/", apis.RubricFromTemplateApi.as_view(), name="rubric-from-template"),
    path("rubric-templates/", apis.RubricTemplateListApi.as_view(), name="rubric-template-list"),
    path("rubrics/<int:rubric_id>/", apis.RubricDetailApi.as_view(), name="rubric-detail"),
    path("rubrics/<int:rubric_id>/versions/", apis.RubricVersionListApi.as_view(), name="rubric-versions"),
    path(
        "rubrics/<int:rubric_id>/versions/<int:number>/",
        apis.RubricVersionDetailApi.as_view(),
        name="rubric-version-detail",
    ),
    path(
        "rubrics/<int:rubric_id>/versions/<int:number>/publish/",
        apis.RubricVersionPublishApi.as_view(),
        name="rubric-version-publish",
    ),
    path(
        "rubrics/<int:rubric_id>/versions/<int:number>/copy/",
        apis.RubricVersionCopyApi.as_view(),
        name="rubric-version-copy",
    ),
    path("rubrics/<int:rubric_id>/diff/", apis.RubricDiffApi.as_view(), name="rubric-diff"),
]
