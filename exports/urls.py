from django.urls import path

from exports import apis

urlpatterns = [
    path("projects/<int:project_id>/export/", apis.ProjectExportApi.as_view(), name="project-export"),
    path(
        "projects/<int:project_id>/export/manifest/",
        apis.ProjectExportManifestApi.as_view(),
        name="project-export-manifest",
    ),
    path(
        "projects/<int:project_id>/export/snapshots/",
        apis.ProjectExportSnapshotsApi.as_view(),
        name="project-export-snapshots",
    ),
    path("export-snapshots/<int:snapshot_id>/", apis.ExportSnapshotDetailApi.as_view(), name="export-snapshot"),
    path(
        "export-snapshots/<int:snapshot_id>/download/",
        apis.ExportSnapshotDownloadApi.as_view(),
        name="export-snapshot-download",
    ),
]
