"""The admin's criterion editor: one field per scale setting, folded into the scale JSON on save."""

import json

from django import forms
from django.core.exceptions import ValidationError

from rubrics.models import Criterion
from rubrics.scales import ScaleKind, scale_clean


def _number(text: str):
    value = float(text)
    return int(value) if value.is_integer() and "." not in text else value


class CriterionForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=ScaleKind.choices)
    choices = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "cols": 24}), help_text="Categorical: one per line."
    )
    minimum = forms.CharField(required=False, label="min", widget=forms.TextInput(attrs={"size": 5}))
    maximum = forms.CharField(required=False, label="max", widget=forms.TextInput(attrs={"size": 5}))
    step = forms.CharField(required=False, widget=forms.TextInput(attrs={"size": 5}), help_text="Interval only.")
    anchors = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 36}),
        help_text="One per line: point: anchor sentence (e.g. 1: Unusable).",
    )

    class Meta:
        model = Criterion
        fields = ["position", "key", "title", "description", "rationale_required", "required", "gate"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3, "cols": 36})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        scale = self.instance.scale if self.instance and self.instance.pk else {}
        if scale:
            self.fields["kind"].initial = scale.get("kind")
            self.fields["choices"].initial = "\n".join(scale.get("choices", []))
            self.fields["minimum"].initial = scale.get("min", "")
            self.fields["maximum"].initial = scale.get("max", "")
            self.fields["step"].initial = scale.get("step", "")
            self.fields["anchors"].initial = "\n".join(f"{k}: {v}" for k, v in scale.get("labels", {}).items())

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        scale: dict = {"kind": kind}
        try:
            if kind == ScaleKind.CATEGORICAL:
                scale["choices"] = [c.strip() for c in cleaned.get("choices", "").splitlines() if c.strip()]
            for field, name in (("minimum", "min"), ("maximum", "max"), ("step", "step")):
                text = (cleaned.get(field) or "").strip()
                if text and kind in {ScaleKind.ORDINAL, ScaleKind.INTERVAL, ScaleKind.RATIO}:
                    if kind == ScaleKind.RATIO and name != "max":
                        continue
                    if kind == ScaleKind.ORDINAL and name == "step":
                        continue
                    scale[name] = _number(text)
        except ValueError:
            raise ValidationError("min, max and step must be numbers.") from None
        anchors = {}
        for line in (cleaned.get("anchors") or "").splitlines():
            if line.strip():
                point, sep, text = line.partition(":")
                if not sep:
                    raise ValidationError({"anchors": f"write each anchor as 'point: sentence', not {line!r}."})
                anchors[point.strip().lower() if kind == ScaleKind.BINARY else point.strip()] = text.strip()
        if anchors and kind != ScaleKind.TEXT and kind != ScaleKind.RATIO:
            scale["labels"] = anchors
        try:
            self.instance.scale = scale_clean(scale)
        except ValidationError as exc:
            raise ValidationError({"kind": exc.messages}) from None
        if cleaned.get("gate") and kind != ScaleKind.BINARY:
            raise ValidationError({"gate": "only a binary (yes/no) criterion can be an acceptance gate."})
        return cleaned

    def scale_preview(self) -> str:
        return json.dumps(self.instance.scale)
