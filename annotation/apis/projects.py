"""REST API for projects (their members: annotation/apis/members.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.apis.access import project_get
from annotation.models import Project
from annotation.selectors import MANAGE, RATE, project_role, projects_for_user
from annotation.services.projects import project_create, project_update
from config.serializers import InputSerializer
from rubrics.selectors import rubrics_for_user


class ProjectOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    guidelines = serializers.CharField()
    rubric = serializers.IntegerField(source="rubric_version.rubric_id")
    rubric_version = serializers.IntegerField(source="rubric_version.number")
    annotations_per_item = serializers.IntegerField()
    overlap_min = serializers.IntegerField(allow_null=True)
    lease_minutes = serializers.IntegerField()
    tasks_project = serializers.IntegerField(source="tasks_project_id", allow_null=True)
    created_at = serializers.DateTimeField()


class ProjectInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=200)
    rubric = serializers.IntegerField(help_text="Rubric id; the project pins its latest version.")
    rubric_version = serializers.IntegerField(required=False, help_text="Pin this version number instead.")
    guidelines = serializers.CharField(allow_blank=True, required=False, default="")
    annotations_per_item = serializers.IntegerField(required=False, default=3, min_value=1, max_value=50)
    overlap_min = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=50,
        help_text="Adaptive overlap: items start needing this many human ratings and get one more while raters "
        "(or a judge) disagree, up to annotations_per_item. Empty: fixed overlap.",
    )
    lease_minutes = serializers.IntegerField(required=False, default=30, min_value=1, max_value=1440)
    tasks_project = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="For a project of agent traces: the id of the project holding their tasks (you must manage it). "
        "Each trace's data.task names a task's external_id there.",
    )

    def validated_rubric(self) -> dict:
        data = dict(self.validated_data)
        number = data.pop("rubric_version", None)
        if number is not None:
            data["rubric"] = {"id": data["rubric"], "version": number}
        return data


def _tasks_project(request, project_id: int | None) -> Project | None:
    if project_id is None:
        return None
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project_role(user=request.user, project=project) not in MANAGE:
        raise ValidationError({"tasks_project": [f"no project {project_id} that you manage."]})
    return project


class ProjectListCreateApi(APIView):
    @extend_schema(responses=ProjectOutputSerializer(many=True))
    def get(self, request):
        return Response(ProjectOutputSerializer(projects_for_user(user=request.user), many=True).data)

    @extend_schema(request=ProjectInputSerializer, responses={201: ProjectOutputSerializer})
    def post(self, request):
        if not (request.user.is_staff or request.user.has_perm("annotation.add_project")):
            raise PermissionDenied("Creating projects needs staff status or the 'add project' permission.")
        data = ProjectInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_rubric()
        rubric = fields.pop("rubric")
        rubric_id = rubric["id"] if isinstance(rubric, dict) else rubric
        if not rubrics_for_user(user=request.user).filter(pk=rubric_id).exists():
            raise ValidationError({"rubric": [f"no rubric {rubric_id} that you can use."]})
        if "tasks_project" in fields:
            fields["tasks_project"] = _tasks_project(request, fields["tasks_project"])
        project = project_create(actor=request.user, rubric=rubric, **fields)
        return Response(ProjectOutputSerializer(project).data, status=201)


class ProjectDetailApi(APIView):
    @extend_schema(responses=ProjectOutputSerializer)
    def get(self, request, project_id: int):
        return Response(ProjectOutputSerializer(project_get(request, project_id, RATE)).data)

    @extend_schema(request=ProjectInputSerializer, responses=ProjectOutputSerializer)
    def patch(self, request, project_id: int):
        project = project_get(request, project_id, MANAGE)
        changes = ProjectInputSerializer.parse(request.data, partial=True)
        if "rubric_version" in changes:
            changes["rubric"] = {
                "id": changes.pop("rubric", project.rubric_version.rubric_id),
                "version": changes.pop("rubric_version"),
            }
        if "rubric" in changes and not isinstance(changes["rubric"], dict):
            raise ValidationError({"rubric_version": ["name the version number to upgrade to."]})
        # As on create: only a rubric you can see, or its criteria would reach your members.
        if "rubric" in changes and not rubrics_for_user(user=request.user).filter(pk=changes["rubric"]["id"]).exists():
            raise ValidationError({"rubric": [f"no rubric {changes['rubric']['id']} that you can use."]})
        if "tasks_project" in changes:
            changes["tasks_project"] = _tasks_project(request, changes["tasks_project"])
        project = project_update(project=project, **changes)
        return Response(ProjectOutputSerializer(project).data)
