"""A project's approval policy, as it stands."""

from annotation.models import Project
from quality.models import ApprovalPolicy


def policy_for(*, project: Project) -> ApprovalPolicy:
    """The project's policy; one that never changed it gets the defaults, stored on first read."""
    policy, _ = ApprovalPolicy.objects.get_or_create(project=project)
    return policy
